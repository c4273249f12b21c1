//! Copying a flag's targeting from one environment to another: its strategies (with their
//! constraints, segments and variants) and its flag-level variants replace the target's. Each
//! part is proposed (`propose`), so a protected target gets them in the caller's draft change
//! request and any other has them applied (and audited) at once, as if typed in by hand.

use super::proposal::Change;
use super::propose::{propose_asked, Outcome};
use super::queries::ChangeRequestView;
use super::Proposal;
use crate::authz::{Action, Identity};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::evaluation::VariantDraft;
use crate::projects::{Environment, Project};
use crate::targeting::service::{self as targeting, Targeting};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// What a copy did.
pub enum Copied {
    /// Applied: the target's targeting now.
    Applied(Targeting),
    /// Staged into the caller's draft for the protected target.
    Staged(Box<ChangeRequestView>),
}

/// A copy with the parts that differ worked out, ready to carry out.
pub struct CopyPlan<'a> {
    flag_key: &'a str,
    to: &'a Environment,
    proposals: Vec<Proposal>,
}

impl CopyPlan<'_> {
    /// What the copy asks of the caller: changing the target (proposing the change where it is
    /// protected), as typing the targeting in by hand would.
    pub fn action(&self) -> Action {
        Action::change_in(self.to.protected)
    }
}

/// Reads both environments' targeting of `flag_key` and what of `from` differs in `to`;
/// refused when they are one environment or nothing differs.
pub async fn plan_copy<'a>(
    conn: &mut Conn,
    project: &Project,
    flag_key: &'a str,
    from: &Environment,
    to: &'a Environment,
) -> AppResult<CopyPlan<'a>> {
    if from.id == to.id {
        return Err(AppError::invalid(
            "source",
            "choose another environment to copy from",
        ));
    }
    let source = targeting::targeting(&mut *conn, project, flag_key, from).await?;
    let target = targeting::targeting(&mut *conn, project, flag_key, to).await?;
    let proposals = proposals(&source, &target, from)?;
    if proposals.is_empty() {
        return Err(AppError::conflict(
            "nothing-to-copy",
            format!(
                "{} already has the targeting of {} in {}",
                to.key, flag_key, from.key
            ),
        ));
    }
    Ok(CopyPlan {
        flag_key,
        to,
        proposals,
    })
}

/// Copies the planned parts into the target, in the caller's write transaction. The caller
/// asked the policy for [`CopyPlan::action`].
pub async fn copy_targeting(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    copy: CopyPlan<'_>,
    now: DateTime<Utc>,
) -> AppResult<Copied> {
    let asked = [copy.action()];
    let CopyPlan {
        flag_key,
        to,
        proposals,
    } = copy;
    let mut staged = None;
    for proposal in proposals {
        let change = Change {
            flag_key,
            env: Some(to),
            proposal,
        };
        if let Outcome::Staged(cr) =
            propose_asked(&mut *conn, who, project, change, &asked, now).await?
        {
            staged = Some(cr);
        }
    }
    Ok(match staged {
        Some(cr) => Copied::Staged(cr),
        None => Copied::Applied(targeting::targeting(&mut *conn, project, flag_key, to).await?),
    })
}

/// The parts of the source that differ from the target, as proposals for the target.
fn proposals(
    source: &Targeting,
    target: &Targeting,
    from: &Environment,
) -> AppResult<Vec<Proposal>> {
    let unreadable = || {
        AppError::invalid(
            "source",
            format!(
                "the targeting in {} came from an import in a shape that cannot be copied; \
                 save it once from its Targeting tab first",
                from.key
            ),
        )
    };
    let mut out = Vec::new();
    if source.strategies != target.strategies {
        let strategies = source.strategy_drafts().ok_or_else(unreadable)?;
        out.push(Proposal::Strategies { strategies });
    }
    if source.variants != target.variants {
        let variants: Vec<VariantDraft> =
            serde_json::from_value(Value::Array(source.variants.clone()))
                .map_err(|_| unreadable())?;
        out.push(Proposal::Variants { variants });
    }
    Ok(out)
}
