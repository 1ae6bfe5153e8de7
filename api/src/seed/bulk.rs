//! Bulk loading: multi-row INSERTs with explicit ids, secondary indexes set aside during the load,
//! id sequences moved past the loaded rows.

use anyhow::Context;
use sea_orm::sea_query::{DynIden, IntoIden, Query, SimpleExpr, Value};
use sea_orm::{ConnectionTrait, DbBackend, EntityName, Statement};

/// Bind parameters per statement. PostgreSQL's protocol counts them in 16 bits; SQLite's
/// SQLITE_MAX_VARIABLE_NUMBER is 32,766 since 3.32.
fn max_params(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Postgres => 65_535,
        _ => 32_766,
    }
}

/// Buffers rows of one table and writes them as multi-row INSERTs as large as the backend
/// allows.
pub struct Bulk<'a, C: ConnectionTrait> {
    conn: &'a C,
    table: DynIden,
    columns: Vec<DynIden>,
    rows: Vec<Vec<SimpleExpr>>,
    per_statement: usize,
    pub written: u64,
}

impl<'a, C: ConnectionTrait> Bulk<'a, C> {
    pub fn new<E, I, Col>(conn: &'a C, entity: E, columns: I) -> Self
    where
        E: EntityName,
        I: IntoIterator<Item = Col>,
        Col: IntoIden,
    {
        let columns: Vec<DynIden> = columns.into_iter().map(IntoIden::into_iden).collect();
        let per_statement = (max_params(conn.get_database_backend()) / columns.len().max(1)).max(1);
        Self {
            conn,
            table: entity.table_name().into_iden(),
            columns,
            rows: Vec::with_capacity(per_statement),
            per_statement,
            written: 0,
        }
    }

    pub async fn push(&mut self, row: Vec<Value>) -> anyhow::Result<()> {
        anyhow::ensure!(
            row.len() == self.columns.len(),
            "a {} row has {} values for {} columns",
            self.table,
            row.len(),
            self.columns.len()
        );
        self.rows
            .push(row.into_iter().map(SimpleExpr::from).collect());
        if self.rows.len() >= self.per_statement {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut insert = Query::insert();
        insert
            .into_table(self.table.clone())
            .columns(self.columns.iter().cloned());
        let count = self.rows.len();
        for row in self.rows.drain(..) {
            insert.values(row)?;
        }
        self.conn
            .execute(&insert)
            .await
            .with_context(|| format!("inserting into {}", self.table))?;
        self.written += count as u64;
        Ok(())
    }

    /// Writes what is buffered; answers the number of rows written in all.
    pub async fn finish(mut self) -> anyhow::Result<u64> {
        self.flush().await?;
        Ok(self.written)
    }
}

/// A secondary index set aside for the load, with the statement that brings it back.
pub struct SetAside {
    pub name: String,
    pub definition: String,
}

/// Drops the non-unique secondary indexes of `tables` (primary keys and unique indexes stay:
/// they are constraints the data is checked against) and answers their definitions as the
/// database itself reports them, so they come back exactly as the migrations made them.
pub async fn set_indexes_aside(
    conn: &impl ConnectionTrait,
    tables: &[&str],
) -> anyhow::Result<Vec<SetAside>> {
    let backend = conn.get_database_backend();
    let list = tables
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT indexname AS name, indexdef AS definition FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename IN ({list}) \
             AND indexdef NOT LIKE 'CREATE UNIQUE %' ORDER BY indexname"
        ),
        _ => format!(
            "SELECT name, sql AS definition FROM sqlite_master \
             WHERE type = 'index' AND tbl_name IN ({list}) AND sql IS NOT NULL \
             AND sql NOT LIKE 'CREATE UNIQUE %' ORDER BY name"
        ),
    };
    let rows = conn
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .context("reading index definitions")?;
    let mut aside = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("", "name")?;
        let definition: String = row.try_get("", "definition")?;
        conn.execute_unprepared(&format!("DROP INDEX \"{name}\""))
            .await
            .with_context(|| format!("dropping index {name}"))?;
        aside.push(SetAside { name, definition });
    }
    Ok(aside)
}

pub async fn restore_indexes(
    conn: &impl ConnectionTrait,
    aside: &[SetAside],
) -> anyhow::Result<()> {
    for index in aside {
        conn.execute_unprepared(&index.definition)
            .await
            .with_context(|| format!("recreating index {}", index.name))?;
    }
    Ok(())
}

/// Moves PostgreSQL's id sequences past the explicitly numbered rows, so the next row the API
/// inserts does not collide. SQLite's AUTOINCREMENT follows explicit ids by itself.
pub async fn reset_sequences(conn: &impl ConnectionTrait, tables: &[&str]) -> anyhow::Result<()> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for table in tables {
        conn.execute_unprepared(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             GREATEST((SELECT MAX(id) FROM \"{table}\"), 1))"
        ))
        .await
        .with_context(|| format!("moving the id sequence of {table}"))?;
    }
    Ok(())
}
