//! One error type with stable machine codes. Resolvers return `AppError`; the GraphQL boundary
//! (`graphql::ErrorCodes`) turns it into `extensions.code`, logging internal detail and never
//! returning it.

use sea_orm::{DbErr, SqlErr};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests; slow down")]
    RateLimited,
    /// A dependency (WeChat) is busy or unreachable: nothing was done, the client should retry.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal server error")]
    Internal(std::sync::Arc<anyhow::Error>),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadInput(_) => "BAD_USER_INPUT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::RateLimited => "RATE_LIMITED",
            AppError::Unavailable(_) | AppError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(std::sync::Arc::new(err.into()))
    }

    pub fn bad_input(msg: impl Into<String>) -> Self {
        AppError::BadInput(msg.into())
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        AppError::Forbidden(msg.into())
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found"))
    }

    pub fn conflict(msg: impl Into<String>) -> Self {
        AppError::Conflict(msg.into())
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        AppError::internal(err)
    }
}

/// Turns a unique-key violation into CONFLICT with the given message; any other database error
/// stays internal.
pub fn on_unique(message: &str) -> impl FnOnce(DbErr) -> AppError + '_ {
    move |err| match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => AppError::Conflict(message.to_owned()),
        _ => AppError::from(err),
    }
}

/// Checks a user-supplied text: trimmed, non-empty, at most `max` characters.
pub fn check_text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let value = value.trim();
    let count = value.chars().count();
    if count == 0 {
        return Err(AppError::bad_input(format!("{field} must not be empty")));
    }
    if count > max {
        return Err(AppError::bad_input(format!(
            "{field} must be at most {max} characters"
        )));
    }
    Ok(value.to_owned())
}

/// Parses an opaque id; an id that cannot be ours is simply not found.
pub fn parse_id(id: &async_graphql::ID, what: &str) -> AppResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| AppError::not_found(what))
}
