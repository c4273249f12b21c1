//! Setting an environment's protection: raising it applies at once, lowering it is reviewed.

use super::proposal::Change;
use super::queries::ChangeRequestView;
use super::stage::stage;
use super::Proposal;
use crate::authz::{Action, Identity};
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::{Environment, Project};
use chrono::{DateTime, Utc};

/// What a protection setting became.
pub enum ProtectionOutcome {
    /// Raised, or set on an unprotected environment: at once.
    Applied(Environment),
    /// Lowered: added to the caller's draft change request for that environment, for somebody
    /// else who could set the protection to approve.
    Staged(Box<ChangeRequestView>),
}

/// The protection somebody asks an environment to have.
pub struct ProtectionChange<'a> {
    pub env: &'a Environment,
    pub protected: bool,
    pub required_approvals: i64,
}

impl ProtectionChange<'_> {
    /// Lowering a protected environment's protection (unprotecting it, or asking fewer
    /// approvals) would let one person lift the review and change the environment alone.
    fn lowers(&self) -> bool {
        self.env.protected
            && (!self.protected || self.required_approvals < self.env.required_approvals)
    }

    /// What it asks of the caller, in order: setting the protection (owners decide for most
    /// environments, only admins for production), and, where it lowers it, proposing the change.
    pub fn actions(&self) -> Vec<Action> {
        let mut asks = vec![Action::SetProtection {
            production: self.env.production,
        }];
        if self.lowers() {
            asks.push(Action::ProposeChange);
        }
        asks
    }
}

/// Whether an environment is protected and how many approvals its changes need. Raising the
/// protection applies at once; lowering it is a change request.
pub async fn set_protection(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    asked: ProtectionChange<'_>,
    now: DateTime<Utc>,
) -> AppResult<ProtectionOutcome> {
    let lowers = asked.lowers();
    let ProtectionChange {
        env,
        protected,
        required_approvals,
    } = asked;
    if lowers {
        let change = Change {
            flag_key: "",
            env: Some(env),
            proposal: Proposal::Protection {
                protected,
                required_approvals,
            },
        };
        let view = stage(&mut *conn, who, project, env, change, now).await?;
        return Ok(ProtectionOutcome::Staged(Box::new(view)));
    }
    crate::projects::service::set_protection(
        &mut *conn,
        &who.actor,
        project,
        env,
        protected,
        required_approvals,
        now,
    )
    .await?;
    let env = crate::projects::service::environment(conn, project, &env.key).await?;
    Ok(ProtectionOutcome::Applied(env))
}
