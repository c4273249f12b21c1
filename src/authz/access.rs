//! `ProjectAccess`: one project, and what the asking identity may do in it.

use super::policy::{allows, Action, Principal, Role};
use super::Identity;
use crate::audit::Actor;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{store, Project};

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

impl ProjectAccess {
    /// The project `key` as `identity` may see it; not a member and no such project answer the
    /// same.
    pub async fn load(conn: &mut Conn, identity: Identity, key: &str) -> AppResult<ProjectAccess> {
        let project = store::project_by_key(&mut *conn, key)
            .await?
            .ok_or_else(|| unknown(key))?;
        let role = store::role_of(&mut *conn, project.id, identity.user.id).await?;
        if !super::reach::may_see(&identity, project.id, role) {
            return Err(unknown(key));
        }
        Ok(ProjectAccess {
            project,
            role,
            identity,
        })
    }
}
