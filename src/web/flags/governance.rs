//! Governance state on the flag page: the change requests still under way on the flag (a
//! "pending change request #n" badge in the header and on the environment's row) and the
//! emergency kills nobody has acknowledged yet (a banner with the acknowledgement form).

use crate::authz::{Action, ProjectAccess};
use crate::changes::service::{self as changes, KillView, Pending};
use crate::changes::State;
use crate::db::Conn;
use crate::error::AppResult;
use crate::web::text::short_time;

/// One request under way on the flag.
#[derive(Debug, Clone)]
pub struct PendingBadge {
    pub id: i64,
    pub environment: String,
    /// The viewer's own draft, not yet submitted (nobody else sees it).
    pub draft: bool,
}

impl From<Pending> for PendingBadge {
    fn from(p: Pending) -> Self {
        PendingBadge {
            id: p.id,
            environment: p.environment,
            draft: p.state == State::Draft,
        }
    }
}

/// The flag's requests under way as the viewer may see them (their own drafts included).
pub async fn pending(
    conn: &mut Conn,
    access: &ProjectAccess,
    flag_id: i64,
) -> AppResult<Vec<PendingBadge>> {
    let mut by_flag =
        changes::pending_by_flag(conn, access.project.id, &[flag_id], access.identity.user.id)
            .await?;
    Ok(by_flag
        .remove(&flag_id)
        .unwrap_or_default()
        .into_iter()
        .map(PendingBadge::from)
        .collect())
}

/// Those of one environment (its row on the flag page).
pub fn pending_in(all: &[PendingBadge], env_key: &str) -> Vec<PendingBadge> {
    all.iter()
        .filter(|p| p.environment == env_key)
        .cloned()
        .collect()
}

/// An emergency kill waiting for its acknowledgement.
pub struct KillBanner {
    pub id: i64,
    pub environment: String,
    pub reason: String,
    pub killed_by: String,
    pub killed_at: String,
    pub killed_at_short: String,
    pub ack_href: String,
    /// Why the viewer sees no acknowledgement form ("" when they may acknowledge).
    pub cannot: &'static str,
}

pub async fn kill_banners(
    conn: &mut Conn,
    access: &ProjectAccess,
    flag_key: &str,
) -> AppResult<Vec<KillBanner>> {
    let kills = changes::open_kills_of_flag(conn, &access.project, flag_key).await?;
    Ok(kills.into_iter().map(|k| banner(access, k)).collect())
}

fn banner(access: &ProjectAccess, k: KillView) -> KillBanner {
    let own = k.killed_by_id == Some(access.identity.user.id);
    let cannot = match (access.can(Action::AcknowledgeKill { own }), own) {
        (true, _) => "",
        (false, true) => {
            "Somebody else acknowledges your kill: an approver or owner of the project."
        }
        (false, false) => "An approver or owner of the project acknowledges it.",
    };
    KillBanner {
        ack_href: format!(
            "/projects/{}/kills/{}/acknowledge",
            access.project.key, k.id
        ),
        id: k.id,
        environment: k.environment,
        reason: k.reason,
        killed_by: k.killed_by,
        killed_at_short: short_time(&k.killed_at),
        killed_at: k.killed_at,
        cannot,
    }
}
