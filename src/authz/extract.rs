//! `ProjectAccess`: the project named in the path, and what the asking identity may do in it.

use super::policy::{allows, Action, Principal, Role};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::extract::{AdminToken, CurrentUser, Identity};
use crate::error::{AppError, AppResult};
use crate::http::is_api_path;
use crate::projects::{store, Project};
use axum::extract::{FromRef, FromRequestParts, Path};
use axum::http::request::Parts;
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub struct ProjectAccess {
    pub project: Project,
    pub role: Option<Role>,
    pub identity: Identity,
}

impl ProjectAccess {
    pub fn principal(&self) -> Principal {
        super::reach::principal(&self.identity, self.role)
    }

    pub fn actor(&self) -> &Actor {
        &self.identity.actor
    }

    pub fn can(&self, action: Action) -> bool {
        allows(self.principal(), action).is_ok()
    }

    /// Refuses with the policy's sentence, and leaves a line in the security log.
    pub fn require(&self, action: Action) -> AppResult<()> {
        allows(self.principal(), action).map_err(|denied| {
            tracing::warn!(
                target: "security",
                user = %self.identity.user.email,
                project = %self.project.key,
                action = ?action,
                "permission denied"
            );
            AppError::forbidden(denied.0)
        })
    }
}

/// Not a member and no such project answer the same, so keys can't be probed.
fn unknown(key: &str) -> AppError {
    AppError::not_found(format!(
        "there is no project {key:?}, or you are not a member of it"
    ))
}

impl<S> FromRequestParts<S> for ProjectAccess
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let identity = if is_api_path(parts.uri.path()) {
            AdminToken::from_request_parts(parts, state).await?.0
        } else {
            CurrentUser::from_request_parts(parts, state).await?.0
        };
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::bad_request("bad-path", "the address is not valid"))?;
        let key = params.get("project").cloned().unwrap_or_default();
        let app = AppState::from_ref(state);
        let mut conn = app.db.acquire().await?;
        let project = store::project_by_key(&mut conn, &key)
            .await?
            .ok_or_else(|| unknown(&key))?;
        let role = store::role_of(&mut conn, project.id, identity.user.id).await?;
        if !super::reach::may_see(&identity, project.id, role) {
            return Err(unknown(&key));
        }
        Ok(ProjectAccess {
            project,
            role,
            identity,
        })
    }
}
