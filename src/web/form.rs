//! Form input with rejections as pages, and field errors for re-rendering a form.

use super::PageError;
use crate::error::{AppError, AppResult, FieldError};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

pub struct WebForm<T>(pub T);

impl<S, T> FromRequest<S> for WebForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(WebForm(v)),
            Err(r) => Err(PageError(AppError::bad_request(
                "invalid-form",
                format!("the form could not be read: {}", r.body_text()),
            ))),
        }
    }
}

/// Field errors keyed by field name, for templates: `errors.get("key")`.
#[derive(Debug, Default, Clone)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn one(field: &'static str, message: impl Into<String>) -> Self {
        Errors(vec![FieldError {
            field,
            message: message.into(),
        }])
    }

    /// Field errors go back to the form; anything else is a real error.
    pub fn from_app(e: AppError) -> Result<Errors, PageError> {
        match e {
            AppError::Invalid(fields) => Ok(Errors(fields)),
            other => Err(PageError(other)),
        }
    }

    /// A form step's result: its value, or the field errors to show the form again with.
    pub fn check<T>(result: AppResult<T>) -> Result<Result<T, Errors>, PageError> {
        match result {
            Ok(v) => Ok(Ok(v)),
            Err(e) => Errors::from_app(e).map(Err),
        }
    }
}
