//! Setting an environment's protection: raising it applies at once, lowering it is reviewed.

use super::propose::{stage, Change};
use super::queries::ChangeRequestView;
use super::Proposal;
use crate::authz::{Action, ProjectAccess};
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::Environment;
use chrono::{DateTime, Utc};

/// What a protection setting became.
pub enum ProtectionOutcome {
    /// Raised, or set on an unprotected environment: at once.
    Applied(Environment),
    /// Lowered: added to the caller's draft change request for that environment, for somebody
    /// else who could set the protection to approve.
    Staged(Box<ChangeRequestView>),
}

/// Whether an environment is protected and how many approvals its changes need: owners decide
/// for other environments, only admins for production. Raising the protection applies at once;
/// lowering a protected environment's (unprotecting it, or asking fewer approvals) would let
/// one person lift the review and change the environment alone, so it is a change request.
pub async fn set_protection(
    conn: &mut Conn,
    access: &ProjectAccess,
    env: &Environment,
    protected: bool,
    required_approvals: i64,
    now: DateTime<Utc>,
) -> AppResult<ProtectionOutcome> {
    access.require(Action::SetProtection {
        production: env.production,
    })?;
    let lowers = env.protected && (!protected || required_approvals < env.required_approvals);
    if lowers {
        let change = Change {
            flag_key: "",
            env: Some(env),
            proposal: Proposal::Protection {
                protected,
                required_approvals,
            },
        };
        access.require(Action::ProposeChange)?;
        let view = stage(&mut *conn, access, env, change, now).await?;
        return Ok(ProtectionOutcome::Staged(Box::new(view)));
    }
    crate::projects::service::set_protection(
        &mut *conn,
        access.actor(),
        &access.project,
        env,
        protected,
        required_approvals,
        now,
    )
    .await?;
    let env = crate::projects::service::environment(conn, &access.project, &env.key).await?;
    Ok(ProtectionOutcome::Applied(env))
}
