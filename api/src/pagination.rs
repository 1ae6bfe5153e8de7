//! Relay cursor connections with keyset pagination: a cursor is the opaque form of the last
//! row's id, and the next page is `WHERE id < cursor ORDER BY id DESC`, so pages never skip or
//! repeat rows while new ones arrive.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Select};

use crate::error::{AppError, AppResult};

pub const DEFAULT_PAGE: u64 = 20;
pub const MAX_PAGE: u64 = 100;

/// Extra fields of every connection.
#[derive(SimpleObject)]
pub struct ConnectionInfo {
    /// How many items match the filter, over all pages.
    pub total_count: u64,
}

pub type Page<T> = Connection<String, T, ConnectionInfo, EmptyFields>;

#[derive(Debug, Clone, Copy)]
pub struct PageArgs {
    pub first: u64,
    /// Only rows with an id below this one.
    pub before_id: Option<i64>,
}

impl PageArgs {
    pub fn parse(first: Option<i32>, after: Option<String>) -> AppResult<Self> {
        let first = match first {
            None => DEFAULT_PAGE,
            Some(n) if n < 0 => return Err(AppError::bad_input("first must not be negative")),
            Some(n) if n as u64 > MAX_PAGE => {
                return Err(AppError::bad_input(format!(
                    "first must be at most {MAX_PAGE}"
                )));
            }
            Some(n) => n as u64,
        };
        let before_id = after.map(|c| decode_cursor(&c)).transpose()?;
        Ok(Self { first, before_id })
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn limit(&self) -> u64 {
        self.first + 1
    }
}

/// Counts a list's rows only when the client selected `totalCount`: on large tables the count
/// costs more than the page itself.
pub async fn total_count<'db, E, C>(
    ctx: &Context<'_>,
    query: Select<E>,
    db: &'db C,
) -> AppResult<u64>
where
    E: EntityTrait,
    C: ConnectionTrait,
    Select<E>: PaginatorTrait<'db, C>,
{
    if !ctx.look_ahead().field("totalCount").exists() {
        return Ok(0);
    }
    Ok(query.count(db).await?)
}

/// [`total_count`] for lists whose count is the same for every viewer: kept in
/// [`crate::counts::Counts`] under `key` between changes.
pub async fn total_count_kept<E>(
    ctx: &Context<'_>,
    state: &crate::state::AppState,
    key: String,
    query: Select<E>,
) -> AppResult<u64>
where
    E: EntityTrait,
    Select<E>: for<'db> PaginatorTrait<'db, sea_orm::DatabaseConnection>,
{
    if !ctx.look_ahead().field("totalCount").exists() {
        return Ok(0);
    }
    state
        .counts
        .get_or_count(key, async { Ok(query.count(&state.db).await?) })
        .await
}

pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(cursor: &str) -> AppResult<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("id:").and_then(|id| id.parse().ok()))
        .ok_or_else(|| AppError::bad_input("after is not a cursor from this list"))
}

/// Builds a connection from up to `args.limit()` rows, newest first.
pub fn connection<T: async_graphql::OutputType>(
    mut rows: Vec<T>,
    args: &PageArgs,
    total_count: u64,
    id_of: impl Fn(&T) -> i64,
) -> Page<T> {
    let has_next = rows.len() as u64 > args.first;
    rows.truncate(args.first as usize);
    let mut page = Connection::with_additional_fields(
        args.before_id.is_some(),
        has_next,
        ConnectionInfo { total_count },
    );
    page.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(encode_cursor(id_of(&row)), row)),
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        assert!(decode_cursor("nonsense!").is_err());
        assert!(PageArgs::parse(Some(101), None).is_err());
        assert!(PageArgs::parse(Some(-1), None).is_err());
        assert_eq!(PageArgs::parse(None, None).unwrap().first, 20);
    }
}
