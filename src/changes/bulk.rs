//! Acting on many flags at once from the catalog (issue 9): adding or removing a tag, changing
//! the owner, archiving. Each flag is a normal change through its usual command (an audited
//! edit; archiving is proposed (`propose`), so that where a protected environment would stop
//! serving the flag it waits in a change request), each in a savepoint of the one write: a
//! refusal leaves the other flags done, and is reported with its reason.

use super::proposal::Change;
use super::propose::{propose_asked, Outcome};
use super::Proposal;
use crate::authz::{Action, Identity};
use crate::catalog::service::{self as catalog, FlagPatch};
use crate::catalog::{flag, store as catalog_store, ArchiveNote};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::Project;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The most flags one bulk action takes (a catalog page holds 50).
pub const MAX_FLAGS: usize = 200;

#[derive(Debug, Clone)]
pub enum BulkAction {
    AddTag(String),
    RemoveTag(String),
    /// An e-mail, `team:key`, or empty for nobody.
    SetOwner(String),
    Archive(ArchiveNote),
}

impl BulkAction {
    /// From the names the form and the API use (`tag-add`, `tag-remove`, `owner`, `archive`)
    /// and the one value they take (the tag, the owner, the reason to archive).
    pub fn parse(action: &str, value: &str) -> AppResult<BulkAction> {
        let value = value.trim().to_string();
        Ok(match action {
            "tag-add" => BulkAction::AddTag(value),
            "tag-remove" => BulkAction::RemoveTag(value),
            "owner" => BulkAction::SetOwner(value),
            "archive" => BulkAction::Archive(ArchiveNote {
                outcome: None,
                reason: Some(value),
            }),
            _ => {
                return Err(AppError::invalid(
                    "action",
                    "choose tag-add, tag-remove, owner or archive",
                ))
            }
        })
    }

    /// What the action asks of the caller, in order, once for the whole batch: editing flags;
    /// for archiving, archiving them and proposing changes, since archiving a flag that a
    /// protected environment serves waits in a change request there.
    pub fn actions(&self) -> Vec<Action> {
        match self {
            BulkAction::Archive(_) => vec![Action::ArchiveFlag, Action::change_in(true)],
            _ => vec![Action::EditFlag],
        }
    }

    /// What the action does, as the summary says it ("Added the tag beta").
    pub fn title(&self) -> String {
        match self {
            BulkAction::AddTag(t) => format!("Add the tag {t}"),
            BulkAction::RemoveTag(t) => format!("Remove the tag {t}"),
            BulkAction::SetOwner(o) if o.is_empty() => "Leave without an owner".into(),
            BulkAction::SetOwner(o) => format!("Change the owner to {o}"),
            BulkAction::Archive(_) => "Archive".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Done {
    /// Changed, audited.
    Applied,
    /// Waiting in a change request (archiving a flag a protected environment serves).
    Staged,
    /// Already so: nothing to change.
    Unchanged,
    /// Not done; `message` says why.
    Refused,
}

/// What happened to one flag.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagResult {
    pub key: String,
    pub outcome: Done,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_request: Option<i64>,
    /// The refusal's error code ("flag-has-dependents"), for automation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    pub message: String,
}

impl FlagResult {
    fn new(key: &str, outcome: Done, message: impl Into<String>) -> FlagResult {
        FlagResult {
            key: key.to_string(),
            outcome,
            change_request: None,
            error: None,
            message: message.into(),
        }
    }
}

/// Every flag's result, in the order they were given.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkReport {
    pub results: Vec<FlagResult>,
}

impl BulkReport {
    pub fn count(&self, outcome: Done) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }

    /// "3 changed, 1 waiting in a change request, 2 refused".
    pub fn summary(&self) -> String {
        let parts = [
            (Done::Applied, "changed"),
            (Done::Staged, "waiting in a change request"),
            (Done::Unchanged, "already so"),
            (Done::Refused, "refused"),
        ];
        parts
            .iter()
            .filter_map(|(d, words)| {
                let n = self.count(*d);
                (n > 0).then(|| format!("{n} {words}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The keys, trimmed, each once, in order; refused when none or too many.
fn checked_keys(keys: &[String]) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for k in keys.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        if !out.iter().any(|o| o == k) {
            out.push(k.to_string());
        }
    }
    if out.is_empty() {
        return Err(AppError::invalid("flags", "select at least one flag"));
    }
    if out.len() > MAX_FLAGS {
        return Err(AppError::invalid(
            "flags",
            format!("select at most {MAX_FLAGS} flags at once"),
        ));
    }
    Ok(out)
}

/// Checks what the action takes once, so that bad input changes nothing.
async fn checked_action(conn: &mut Conn, action: BulkAction) -> AppResult<BulkAction> {
    Ok(match action {
        BulkAction::AddTag(t) | BulkAction::RemoveTag(t) if t.is_empty() => {
            return Err(AppError::invalid("value", "name the tag"))
        }
        BulkAction::AddTag(t) => {
            flag::check_tags(std::slice::from_ref(&t))
                .map_err(|m| AppError::invalid("value", m))?;
            BulkAction::AddTag(t)
        }
        BulkAction::SetOwner(o) => {
            catalog::check_owner(conn, &o).await?;
            BulkAction::SetOwner(o)
        }
        BulkAction::Archive(note) => BulkAction::Archive(note.checked()?),
        other => other,
    })
}

/// Applies `action` to each of `keys` inside the caller's write transaction, the caller having
/// asked the policy for [`BulkAction::actions`]. Refuses as a whole (nothing changed) when the
/// input is bad; otherwise reports each flag. A flag refused because others depend on it is tried again once those are
/// archived, so selecting a parent with its children archives both.
pub async fn bulk(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    keys: &[String],
    action: BulkAction,
    now: DateTime<Utc>,
) -> AppResult<BulkReport> {
    let keys = checked_keys(keys)?;
    let action = checked_action(&mut *conn, action).await?;
    let mut results: Vec<Option<FlagResult>> = vec![None; keys.len()];
    let blocked = |r: &Option<FlagResult>| {
        r.as_ref()
            .is_none_or(|r| r.error == Some("flag-has-dependents"))
    };
    // Each round tries the flags not yet done; it ends when a round changes nothing more.
    loop {
        let mut progress = false;
        for (i, key) in keys.iter().enumerate() {
            if !blocked(&results[i]) {
                continue;
            }
            let r = in_savepoint(&mut *conn, who, project, key, &action, now).await?;
            progress |= r.outcome != Done::Refused;
            results[i] = Some(r);
        }
        if !progress || !results.iter().any(blocked) {
            break;
        }
    }
    Ok(BulkReport {
        results: results.into_iter().flatten().collect(),
    })
}

/// One flag in a savepoint: kept when it worked, rolled back when refused.
async fn in_savepoint(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    key: &str,
    action: &BulkAction,
    now: DateTime<Utc>,
) -> AppResult<FlagResult> {
    let mut sp = conn.begin().await?;
    match one(&mut sp, who, project, key, action, now).await {
        Ok(r) => {
            #[allow(clippy::disallowed_methods)] // a savepoint: the write commits in the caller
            sp.commit().await?;
            Ok(r)
        }
        Err(e @ (AppError::Internal(_) | AppError::Unavailable)) => Err(e),
        Err(e) => {
            sp.rollback().await?;
            Ok(FlagResult {
                error: Some(e.code()),
                ..FlagResult::new(key, Done::Refused, e.to_string())
            })
        }
    }
}

async fn one(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    key: &str,
    action: &BulkAction,
    now: DateTime<Utc>,
) -> AppResult<FlagResult> {
    if let BulkAction::Archive(note) = action {
        let change = Change {
            flag_key: key,
            env: None,
            proposal: Proposal::Archive { note: note.clone() },
        };
        let asked = action.actions();
        return Ok(
            match propose_asked(&mut *conn, who, project, change, &asked, now).await? {
                Outcome::Staged(cr) => FlagResult {
                    change_request: Some(cr.id),
                    ..FlagResult::new(
                        key,
                        Done::Staged,
                        format!(
                            "added to change request #{} for {}: it stays live until the request \
                         is approved and applied",
                            cr.id, cr.environment
                        ),
                    )
                },
                Outcome::Applied(_) => FlagResult::new(key, Done::Applied, "archived"),
            },
        );
    }
    edit(conn, who, project, key, action, now).await
}

/// Tagging and owning: an audited edit of the flag, or nothing when it is already so.
async fn edit(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    key: &str,
    action: &BulkAction,
    now: DateTime<Utc>,
) -> AppResult<FlagResult> {
    let flag = catalog::live_flag(&mut *conn, project, key).await?;
    let tags = catalog_store::tags_of(&mut *conn, &[flag.id])
        .await?
        .remove(&flag.id)
        .unwrap_or_default();
    let (patch, done, unchanged) = match action {
        BulkAction::AddTag(t) => {
            let mut next = tags.clone();
            next.push(t.clone());
            let patch = FlagPatch {
                tags: Some(next),
                ..FlagPatch::default()
            };
            let unchanged = tags.contains(t).then(|| format!("already tagged {t}"));
            (patch, format!("tagged {t}"), unchanged)
        }
        BulkAction::RemoveTag(t) => {
            let next: Vec<String> = tags.iter().filter(|x| *x != t).cloned().collect();
            let patch = FlagPatch {
                tags: Some(next),
                ..FlagPatch::default()
            };
            let unchanged = (!tags.contains(t)).then(|| format!("not tagged {t}"));
            (patch, format!("tag {t} removed"), unchanged)
        }
        BulkAction::SetOwner(o) => {
            let patch = FlagPatch {
                owner: Some(o.clone()),
                ..FlagPatch::default()
            };
            let done = if o.is_empty() {
                "nobody owns it now".to_string()
            } else {
                format!("now owned by {o}")
            };
            // Saving the same owner would still bump the flag's version: say so instead.
            let same = match &flag.owner {
                Some(current) => current.eq_ignore_ascii_case(o.trim()),
                None => o.trim().is_empty(),
            };
            (patch, done, same.then(|| "already so".to_string()))
        }
        BulkAction::Archive(_) => {
            return Err(AppError::invalid("action", "archiving is not an edit"))
        }
    };
    if let Some(why) = unchanged {
        return Ok(FlagResult::new(key, Done::Unchanged, why));
    }
    catalog::update_flag(&mut *conn, &who.actor, project, key, patch, now).await?;
    Ok(FlagResult::new(key, Done::Applied, done))
}
