//! The permission table. Pure: every decision in the application is made by [`allows`].
//!
//! Roles per project, each including the one before: viewer (read), editor (create and edit flags,
//! change unprotected environments), approver (editor + sign off changes to protected
//! environments), owner (members, settings, tokens). Global admins may do everything, with two
//! exceptions that hold for everyone: nobody changes a protected environment directly (the change
//! goes into a change request, `crate::changes`), and nobody reviews their own change request or
//! acknowledges their own emergency kill (four eyes).

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

/// Stored as its lowercase name.
impl crate::db::IntoArg for Role {
    fn into_arg(self) -> crate::db::Arg {
        crate::db::Arg::Text(self.as_str().to_string())
    }
    fn null() -> crate::db::Arg {
        crate::db::Arg::NullText
    }
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
    /// Acting through a token bound to one project: nothing outside that project is allowed,
    /// whatever the user could do in person.
    pub scoped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ViewProject,
    CreateFlag,
    EditFlag,
    ArchiveFlag,
    /// Switching a flag on or off, or changing its targeting, in one environment, directly.
    /// Nobody may change a protected environment directly: see [`Action::ProposeChange`].
    ChangeEnvironment {
        protected: bool,
    },
    /// Putting a change to a protected environment into one's own draft change request, and
    /// submitting, editing or refreshing one's own request.
    ProposeChange,
    /// Approving or rejecting a change request; `own` when the asker is its author.
    ReviewChange {
        own: bool,
    },
    /// Applying or scheduling an approved change request.
    ApplyChange {
        own: bool,
    },
    CancelChange {
        own: bool,
    },
    /// Cancelling somebody else's draft nobody has touched for
    /// [`STALE_DRAFT_DAYS`](crate::changes::change_request::STALE_DRAFT_DAYS): approvers clear
    /// away what was abandoned; a fresh draft stays its author's.
    CancelStaleDraft,
    CommentChange,
    /// Switching a flag off at once in an emergency, without review, even where protected.
    KillSwitch {
        protected: bool,
    },
    /// Signing off an emergency kill afterwards; `own` when the asker made the kill.
    AcknowledgeKill {
        own: bool,
    },
    /// Whether an environment is protected and how many approvals its changes need. Raising it
    /// applies at once; lowering it is a change request (see [`Action::ReviewProtection`]).
    SetProtection {
        production: bool,
    },
    /// Approving or rejecting a change request that lowers an environment's protection: only
    /// somebody who could set that protection, and never its author.
    ReviewProtection {
        own: bool,
        production: bool,
    },
    /// Posting health samples (`POST .../signals`) that release guards read: editors and up,
    /// since a sample can hold back or roll back a release.
    PostSignals,
    /// Creating and editing release templates: the instance-wide ones (offered in every
    /// project) are admins', a project's own are its owners'.
    ManageReleaseTemplates {
        instance_wide: bool,
    },
    /// Advancing, pausing or resuming a release plan by hand. Its milestones were approved with
    /// the plan where the environment is protected, so moving between them asks no review.
    StepReleasePlan,
    /// Completing the review of an automatic rollback (what happened, with a note).
    ReviewRollback,
    ManageMembers,
    ManageSettings,
    ManageEnvironments,
    ManageTokens,
    /// Global actions, outside any project.
    CreateProject,
    ManageUsers,
    ManageTeams,
}

impl Action {
    /// What changing one environment (a switch, its targeting) asks: changing it directly where
    /// it is unprotected, proposing the change where it is protected.
    pub fn change_in(protected: bool) -> Action {
        if protected {
            Action::ProposeChange
        } else {
            Action::ChangeEnvironment { protected: false }
        }
    }
}

/// A refusal, with the sentence the user sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub &'static str);

pub fn allows(p: Principal, action: Action) -> Result<(), Denied> {
    // Rules that bind admins too.
    match action {
        Action::ChangeEnvironment { protected: true } => {
            return Err(Denied(
                "a protected environment changes only through an approved change request",
            ))
        }
        Action::ReviewChange { own: true } | Action::ReviewProtection { own: true, .. } => {
            return Err(Denied(
                "nobody may approve or reject their own change request",
            ))
        }
        Action::AcknowledgeKill { own: true } => {
            return Err(Denied("somebody else must acknowledge your emergency kill"))
        }
        Action::CreateProject
        | Action::ManageUsers
        | Action::ManageTeams
        | Action::ManageReleaseTemplates {
            instance_wide: true,
        } if p.scoped => {
            return Err(Denied(
                "this token is bound to one project; use an instance-wide admin token",
            ))
        }
        _ => {}
    }
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
        Action::ChangeEnvironment { protected: true }
        | Action::ReviewChange { own: true }
        | Action::ReviewProtection { own: true, .. }
        | Action::AcknowledgeKill { own: true } => Err(Denied("nobody may do this")),
        Action::ReviewProtection {
            own: false,
            production: false,
        } => need(
            Role::Owner,
            "only owners may approve lowering an environment's protection",
        ),
        Action::ReviewProtection {
            own: false,
            production: true,
        } => Err(Denied(
            "only another admin may approve lowering production's protection",
        )),
        Action::ProposeChange => need(
            Role::Editor,
            "editors, approvers or owners may propose changes",
        ),
        Action::ReviewChange { own: false } => need(
            Role::Approver,
            "only approvers or owners may approve or reject change requests",
        ),
        Action::ApplyChange { own: true } => need(
            Role::Editor,
            "editors, approvers or owners may apply their approved change requests",
        ),
        Action::ApplyChange { own: false } => need(
            Role::Approver,
            "only the author, approvers or owners may apply a change request",
        ),
        Action::CancelChange { own: true } => need(
            Role::Editor,
            "editors, approvers or owners may cancel their change requests",
        ),
        Action::CancelChange { own: false } => need(
            Role::Owner,
            "only the author or an owner may cancel a change request",
        ),
        Action::CancelStaleDraft => need(
            Role::Approver,
            "only the author, an approver or an owner may cancel a stale draft",
        ),
        Action::CommentChange => need(Role::Viewer, "you are not a member of this project"),
        Action::KillSwitch { .. } => need(
            Role::Editor,
            "editors, approvers or owners may use the kill switch",
        ),
        Action::AcknowledgeKill { own: false } => need(
            Role::Approver,
            "only approvers or owners may acknowledge an emergency kill",
        ),
        Action::SetProtection { production: false } => need(
            Role::Owner,
            "only owners may change an environment's protection",
        ),
        Action::SetProtection { production: true } => {
            Err(Denied("only admins may change production's protection"))
        }
        Action::PostSignals => need(
            Role::Editor,
            "editors, approvers or owners may post signals",
        ),
        Action::ManageReleaseTemplates {
            instance_wide: true,
        } => Err(Denied(
            "only admins may edit the instance-wide release templates",
        )),
        Action::ManageReleaseTemplates {
            instance_wide: false,
        } => need(
            Role::Owner,
            "only owners may edit a project's release templates",
        ),
        Action::StepReleasePlan => need(
            Role::Editor,
            "editors, approvers or owners may advance, pause or resume a release plan",
        ),
        Action::ReviewRollback => need(
            Role::Approver,
            "only approvers or owners may complete the review of a rollback",
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

    /// A token bound to one project does nothing outside it, even for an admin.
    #[test]
    fn scoped_principals_stay_in_their_project() {
        use Action::*;
        let scoped_admin = Principal {
            is_admin: true,
            role: None,
            scoped: true,
        };
        for action in [CreateProject, ManageUsers, ManageTeams] {
            assert!(allows(scoped_admin, action).is_err(), "{action:?}");
        }
        assert!(allows(scoped_admin, EditFlag).is_ok());
    }

    fn member(role: Option<Role>) -> Principal {
        Principal {
            is_admin: false,
            role,
            scoped: false,
        }
    }

    #[test]
    fn the_role_table() {
        use Action::*;
        // (action, lowest role allowed; None = admins only)
        let table = [
            (ProposeChange, Some(Role::Editor)),
            (ReviewChange { own: false }, Some(Role::Approver)),
            (ApplyChange { own: true }, Some(Role::Editor)),
            (ApplyChange { own: false }, Some(Role::Approver)),
            (CancelChange { own: true }, Some(Role::Editor)),
            (CancelChange { own: false }, Some(Role::Owner)),
            (CancelStaleDraft, Some(Role::Approver)),
            (CommentChange, Some(Role::Viewer)),
            (KillSwitch { protected: false }, Some(Role::Editor)),
            (KillSwitch { protected: true }, Some(Role::Editor)),
            (AcknowledgeKill { own: false }, Some(Role::Approver)),
            (SetProtection { production: false }, Some(Role::Owner)),
            (SetProtection { production: true }, None),
            (
                ReviewProtection {
                    own: false,
                    production: false,
                },
                Some(Role::Owner),
            ),
            (
                ReviewProtection {
                    own: false,
                    production: true,
                },
                None,
            ),
            (ViewProject, Some(Role::Viewer)),
            (CreateFlag, Some(Role::Editor)),
            (EditFlag, Some(Role::Editor)),
            (ArchiveFlag, Some(Role::Editor)),
            (ChangeEnvironment { protected: false }, Some(Role::Editor)),
            (PostSignals, Some(Role::Editor)),
            (
                ManageReleaseTemplates {
                    instance_wide: false,
                },
                Some(Role::Owner),
            ),
            (
                ManageReleaseTemplates {
                    instance_wide: true,
                },
                None,
            ),
            (StepReleasePlan, Some(Role::Editor)),
            (ReviewRollback, Some(Role::Approver)),
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
                scoped: false,
            };
            assert!(allows(admin, action).is_ok());
        }
    }

    /// Four eyes and "no direct change to a protected environment" bind every role, admins too.
    #[test]
    fn what_nobody_may_do() {
        use Action::*;
        let admin = Principal {
            is_admin: true,
            role: Some(Role::Owner),
            scoped: false,
        };
        for action in [
            ChangeEnvironment { protected: true },
            ReviewChange { own: true },
            ReviewProtection {
                own: true,
                production: true,
            },
            ReviewProtection {
                own: true,
                production: false,
            },
            AcknowledgeKill { own: true },
        ] {
            assert!(allows(admin, action).is_err(), "{action:?} for an admin");
            for role in Role::ALL {
                assert!(
                    allows(member(Some(role)), action).is_err(),
                    "{action:?} {role:?}"
                );
            }
        }
    }
}
