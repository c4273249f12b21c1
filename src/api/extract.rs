//! JSON in and out, with every rejection in the API's error shape.

use crate::error::AppError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let mut body = serde_json::json!({ "error": e.code(), "message": e.to_string() });
        if let AppError::Invalid(fields) = &e {
            body["fields"] = fields
                .iter()
                .map(|f| serde_json::json!({"field": f.field, "message": f.message}))
                .collect();
        }
        if let AppError::InvalidPaths(fields) = &e {
            body["fields"] = fields
                .iter()
                .map(|f| serde_json::json!({"field": f.field, "message": f.message}))
                .collect();
        }
        let mut res = (
            crate::http::error::status(&e),
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if let AppError::TooManyRequests { retry_after } = e {
            if let Ok(v) = retry_after.to_string().parse() {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// `Json` whose rejections (bad syntax, wrong types, missing content type) answer in our shape.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(ApiError(rejection_error(rejection))),
        }
    }
}

fn rejection_error(r: JsonRejection) -> AppError {
    let detail = r.body_text();
    match r {
        JsonRejection::MissingJsonContentType(_) => AppError::bad_request(
            "unsupported-media-type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(_) => AppError::bad_request(
            "malformed-json",
            format!("the body is not valid JSON: {detail}"),
        ),
        JsonRejection::JsonDataError(_) => AppError::bad_request(
            "invalid-body",
            format!("the body has the wrong shape: {detail}"),
        ),
        _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
        _ => AppError::bad_request("invalid-body", detail),
    }
}

/// [`ApiJson`] for a body that may be left out: no body at all means `T::default()`.
pub struct OptionalApiJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalApiJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0")
            || (!req.headers().contains_key(header::CONTENT_LENGTH)
                && !req.headers().contains_key(header::TRANSFER_ENCODING));
        if empty {
            return Ok(OptionalApiJson(T::default()));
        }
        let ApiJson(v) = ApiJson::from_request(req, state).await?;
        Ok(OptionalApiJson(v))
    }
}
