//! One error type for every domain, free of HTTP: `http::error` gives it a status, and `api`
//! renders it as JSON, `web` as a page.

/// A field-level complaint about input, shown next to that field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// A field-level complaint whose field is a path built at run time, such as
/// `strategies[0].parameters.rollout` (targeting input is nested and indexed, so its field names
/// cannot be `&'static str` like [`FieldError`]'s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign in first")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{}", invalid_summary(.0))]
    Invalid(Vec<FieldError>),
    /// Like `Invalid`, with field paths; answered the same way (422 `invalid-input`).
    #[error("{}", path_summary(.0))]
    InvalidPaths(Vec<PathError>),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("the request body is larger than 1 MiB")]
    TooLarge,
    #[error("too many attempts; try again in {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    #[error("the database is busy or unavailable; try again shortly")]
    Unavailable,
    #[error("something went wrong on our side; the error has been logged")]
    Internal(#[source] anyhow::Error),
}

fn invalid_summary(errors: &[FieldError]) -> String {
    match errors {
        [one] => format!("{}: {}", one.field, one.message),
        _ => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn path_summary(errors: &[PathError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError {
            field,
            message: message.into(),
        }])
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        AppError::NotFound(message.into())
    }

    /// Stable kebab-case code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::Conflict { code, .. } => code,
            AppError::Invalid(_) | AppError::InvalidPaths(_) => "invalid-input",
            AppError::BadRequest { code, .. } => code,
            AppError::TooLarge => "body-too-large",
            AppError::TooManyRequests { .. } => "too-many-requests",
            AppError::Unavailable => "database-unavailable",
            AppError::Internal(_) => "internal-error",
        }
    }

    /// Logs what the user must not see; internal details stay in the server log.
    pub fn log(&self) {
        if let AppError::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if is_busy(&e) {
            return AppError::Unavailable;
        }
        AppError::Internal(e.into())
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(e)
    }
}

fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => {
            let m = db.message();
            // PostgreSQL: a statement cancelled by the statement timeout (57014), a lock not
            // had in time (55P03), a session ended by the server (57P01, 25P03).
            let code = db.code();
            m.contains("database is locked")
                || m.contains("busy")
                || m.contains("unable to open")
                || code.is_some_and(|c| matches!(&*c, "57014" | "55P03" | "57P01" | "25P03"))
        }
        sqlx::Error::Io(_) => true,
        _ => false,
    }
}

pub type AppResult<T> = Result<T, AppError>;
