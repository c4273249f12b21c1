//! Who sees what: the one visibility rule behind every list and lookup, and the principal the
//! policy judges. A caller sees a project when they are a member of it or an admin, and, when
//! they hold a project-scoped token, only that project; entries that belong to no project
//! (users, teams) only an admin who is not bound to a project sees.

use super::policy::{Principal, Role};
use super::Identity;
use crate::db::Conn;
use crate::projects::{store, Project};

/// Whether `identity`, with `role` in the project `project_id`, may see that project.
pub fn may_see(identity: &Identity, project_id: i64, role: Option<Role>) -> bool {
    identity.token_project_id.is_none_or(|p| p == project_id)
        && (role.is_some() || identity.user.is_admin)
}

/// The principal the policy judges: the caller, with their role in one project (None outside
/// any project), bound to a project when they act through a project-scoped token.
pub fn principal(identity: &Identity, role: Option<Role>) -> Principal {
    Principal {
        is_admin: identity.user.is_admin,
        role,
        scoped: identity.token_project_id.is_some(),
    }
}

/// The projects one caller may see.
#[derive(Debug, Clone)]
pub struct Reach {
    everything: bool,
    projects: Vec<Project>,
}

impl Reach {
    pub async fn of(conn: &mut Conn, identity: &Identity) -> sqlx::Result<Reach> {
        let admin = identity.user.is_admin;
        let mut projects = store::visible_projects(conn, identity.user.id, admin).await?;
        if let Some(only) = identity.token_project_id {
            projects.retain(|p| p.id == only);
        }
        Ok(Reach {
            everything: admin && identity.token_project_id.is_none(),
            projects,
        })
    }

    /// True when the caller also sees what belongs to no project (users, teams).
    pub fn everything(&self) -> bool {
        self.everything
    }

    /// The visible projects, by key.
    pub fn projects(&self) -> &[Project] {
        &self.projects
    }

    pub fn keys(&self) -> Vec<String> {
        self.projects.iter().map(|p| p.key.clone()).collect()
    }

    pub fn ids(&self) -> Vec<i64> {
        self.projects.iter().map(|p| p.id).collect()
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.projects.iter().any(|p| p.key == key)
    }

    /// The list filter for records that name a project by key: None when everything is visible.
    pub fn key_filter(&self) -> Option<Vec<String>> {
        (!self.everything).then(|| self.keys())
    }
}
