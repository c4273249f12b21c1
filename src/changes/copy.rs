//! Copying a flag's targeting from one environment to another: its strategies (with their
//! constraints, segments and variants) and its flag-level variants replace the target's. Each
//! part goes through [`propose`], so a protected target gets them in the caller's draft change
//! request and any other has them applied (and audited) at once, as if typed in by hand.

use super::propose::{propose, Change, Outcome};
use super::queries::ChangeRequestView;
use super::Proposal;
use crate::authz::ProjectAccess;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::evaluation::VariantDraft;
use crate::projects::Environment;
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

/// Copies `from`'s targeting of `flag_key` into `to`, in the caller's write transaction.
pub async fn copy_targeting(
    conn: &mut Conn,
    access: &ProjectAccess,
    flag_key: &str,
    from: &Environment,
    to: &Environment,
    now: DateTime<Utc>,
) -> AppResult<Copied> {
    if from.id == to.id {
        return Err(AppError::invalid(
            "source",
            "choose another environment to copy from",
        ));
    }
    let project = &access.project;
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
    let mut staged = None;
    for proposal in proposals {
        let change = Change {
            flag_key,
            env: Some(to),
            proposal,
        };
        if let Outcome::Staged(cr) = propose(&mut *conn, access, change, now).await? {
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
