//! What page handlers share: the context they start from, and the ways a form post ends (a flash
//! and a redirect, or the form again with its errors and a 422).

use super::{render, see_other, sentence, Errors, Flash, PageError, PageResult};
use crate::authz::Identity;
use crate::authz::{allows, Action, ProjectAccess};
use crate::error::{AppError, AppResult};
use crate::http::extract::CurrentUser;
use crate::state::AppState;
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

/// The state, the session and who is asking (`CurrentUser` or `ProjectAccess`), extracted in that
/// order, with the rejections each extractor gives on its own.
pub struct Ctx<A> {
    pub app: AppState,
    pub session: Session,
    pub who: A,
}

/// A page of a signed-in user (account, admin, creating a project).
pub type UserCtx = Ctx<CurrentUser>;
/// A page inside the project named in the path.
pub type ProjectCtx = Ctx<ProjectAccess>;

impl<A> FromRequestParts<AppState> for Ctx<A>
where
    A: FromRequestParts<AppState> + Send,
    A::Rejection: IntoResponse,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let who = A::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Ctx {
            app: app.clone(),
            session,
            who,
        })
    }
}

impl<A> Ctx<A> {
    /// Success: a flash for the next page, and a redirect to it.
    pub async fn done(&self, message: impl Into<String>, to: &str) -> PageResult {
        Flash::set(&self.session, "success", message).await;
        Ok(see_other(to))
    }

    /// Refusals a form can cause (deactivating yourself, removing the last owner…) come back as a
    /// flash on the same page rather than as an error page.
    pub async fn finish(&self, done: AppResult<String>, back: &str) -> PageResult {
        match done {
            Ok(msg) => Flash::set(&self.session, "success", msg).await,
            Err(AppError::Conflict { message, .. }) => {
                Flash::set(&self.session, "error", sentence(&message)).await
            }
            Err(e) => return Err(e.into()),
        }
        Ok(see_other(back))
    }
}

impl UserCtx {
    pub fn identity(&self) -> &Identity {
        &self.who.0
    }

    /// Actions outside any project: only the admin flag counts.
    pub fn require(&self, action: Action) -> Result<(), PageError> {
        let who = crate::authz::reach::principal(self.identity(), None);
        allows(who, action).map_err(|d| PageError(AppError::forbidden(d.0)))
    }
}

impl ProjectCtx {
    pub fn require(&self, action: Action) -> Result<(), PageError> {
        Ok(self.who.require(action)?)
    }
}

/// A page with a status other than 200.
pub fn render_with(t: &impl Template, status: StatusCode) -> PageResult {
    let mut res = render(t)?;
    *res.status_mut() = status;
    Ok(res)
}

/// A form page: 422 when it comes back with errors.
/// [`render_form`] for a page that may show a secret once (a new token, a webhook's signing
/// key): never kept in a cache, whatever the envelope's default.
pub fn render_secret_form(t: &impl Template, errors: &Errors) -> PageResult {
    let mut res = render_form(t, errors)?;
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

pub fn render_form(t: &impl Template, errors: &Errors) -> PageResult {
    if errors.is_empty() {
        render(t)
    } else {
        render_with(t, StatusCode::UNPROCESSABLE_ENTITY)
    }
}
