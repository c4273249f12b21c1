//! What a domain error means in HTTP: its status, and the bodiless response that the envelope
//! (`http::fill_empty_errors`) renders for its audience, JSON on API paths, a page elsewhere.

use crate::error::AppError;
use axum::http::StatusCode;
use axum::response::Response;

/// Renders an error for its audience: `api` for JSON paths, a page otherwise.
pub type RenderError = fn(api: bool, status: StatusCode, code: &str, message: &str) -> Response;

pub fn status(e: &AppError) -> StatusCode {
    match e {
        AppError::Unauthorized => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Conflict { .. } => StatusCode::CONFLICT,
        AppError::Invalid(_) | AppError::InvalidPaths(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
        AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What an error looked like, carried on a bodiless response so that the outer layer can render
/// it for its audience: JSON on API paths, a page elsewhere (see `http::fill_empty_errors`).
#[derive(Clone, Debug)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
}

impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        self.log();
        let mut res = status(&self).into_response();
        if let AppError::TooManyRequests { retry_after } = &self {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, (*retry_after).into());
        }
        res.extensions_mut().insert(ErrorDetail {
            code: self.code(),
            message: self.to_string(),
        });
        res
    }
}
