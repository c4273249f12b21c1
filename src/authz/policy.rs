//! The permission table. Pure: every decision in the application is made by [`allows`].
//!
//! Roles per project, each including the one before: viewer (read), editor (create and edit flags,
//! change unprotected environments), approver (editor + sign off changes to protected
//! environments), owner (members, settings, tokens, and for now direct changes to protected
//! environments). Global admins may do everything.

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase", type_name = "text")]
pub enum Role {
    Viewer,
    Editor,
    Approver,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Approver, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Approver => "approver",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Role::Viewer => "reads flags, history and audit",
            Role::Editor => "creates and edits flags, changes unprotected environments",
            Role::Approver => "as editor, and signs off changes to protected environments",
            Role::Owner => "as approver, and manages members, settings and tokens",
        }
    }
}

/// Whoever is asking, as far as the policy is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub is_admin: bool,
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ViewProject,
    CreateFlag,
    EditFlag,
    ArchiveFlag,
    /// Switching a flag on or off, or changing its targeting, in one environment.
    ChangeEnvironment {
        protected: bool,
    },
    ManageMembers,
    ManageSettings,
    ManageEnvironments,
    ManageTokens,
    /// Global actions, outside any project.
    CreateProject,
    ManageUsers,
    ManageTeams,
}

/// A refusal, with the sentence the user sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub &'static str);

pub fn allows(p: Principal, action: Action) -> Result<(), Denied> {
    if p.is_admin {
        return Ok(());
    }
    let need = |min: Role, why: &'static str| match p.role {
        Some(r) if r >= min => Ok(()),
        _ => Err(Denied(why)),
    };
    match action {
        Action::ViewProject => need(Role::Viewer, "you are not a member of this project"),
        Action::CreateFlag | Action::EditFlag | Action::ArchiveFlag => need(
            Role::Editor,
            "editors, approvers or owners may change flags",
        ),
        Action::ChangeEnvironment { protected: false } => need(
            Role::Editor,
            "editors, approvers or owners may change an environment",
        ),
        Action::ChangeEnvironment { protected: true } => need(
            Role::Owner,
            "only owners may change a protected environment directly",
        ),
        Action::ManageMembers => need(Role::Owner, "only owners may manage members"),
        Action::ManageSettings | Action::ManageEnvironments => {
            need(Role::Owner, "only owners may change project settings")
        }
        Action::ManageTokens => need(Role::Owner, "only owners may manage tokens"),
        Action::CreateProject => Err(Denied("only admins may create projects")),
        Action::ManageUsers => Err(Denied("only admins may manage users")),
        Action::ManageTeams => Err(Denied("only admins may manage teams")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: Option<Role>) -> Principal {
        Principal {
            is_admin: false,
            role,
        }
    }

    #[test]
    fn the_role_table() {
        use Action::*;
        // (action, lowest role allowed; None = admins only)
        let table = [
            (ViewProject, Some(Role::Viewer)),
            (CreateFlag, Some(Role::Editor)),
            (EditFlag, Some(Role::Editor)),
            (ArchiveFlag, Some(Role::Editor)),
            (ChangeEnvironment { protected: false }, Some(Role::Editor)),
            (ChangeEnvironment { protected: true }, Some(Role::Owner)),
            (ManageMembers, Some(Role::Owner)),
            (ManageSettings, Some(Role::Owner)),
            (ManageEnvironments, Some(Role::Owner)),
            (ManageTokens, Some(Role::Owner)),
            (CreateProject, None),
            (ManageUsers, None),
            (ManageTeams, None),
        ];
        for (action, lowest) in table {
            assert!(
                allows(member(None), action).is_err(),
                "{action:?} for a stranger"
            );
            for role in Role::ALL {
                let expected = lowest.is_some_and(|l| role >= l);
                assert_eq!(
                    allows(member(Some(role)), action).is_ok(),
                    expected,
                    "{action:?} for {role:?}"
                );
            }
            let admin = Principal {
                is_admin: true,
                role: None,
            };
            assert!(allows(admin, action).is_ok());
        }
    }
}
