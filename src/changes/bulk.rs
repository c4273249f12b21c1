//! Acting on many flags at once from the catalog (issue 9): adding or removing a tag, changing
//! the owner, archiving, switching on or off in one environment. Each flag is a normal change through its usual command (an audited
//! edit; archiving is proposed (`propose`), so that where a protected environment would stop
//! serving the flag it waits in a change request), each in a savepoint of the one write: a
//! refusal leaves the other flags done, and is reported with its reason.

pub use super::bulk_report::{BulkReport, Done, FlagResult};
use super::proposal::Change;
use super::propose::{propose_asked, Outcome};
use super::Proposal;
use crate::authz::{Action, Identity};
use crate::catalog::service::{self as catalog, FlagPatch};
use crate::catalog::{flag, store as catalog_store, ArchiveNote};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{self, Environment, Project};
use chrono::{DateTime, Utc};

/// The most flags one bulk action takes (a catalog page holds 50).
pub const MAX_FLAGS: usize = 200;

#[derive(Debug, Clone)]
pub enum BulkAction {
    AddTag(String),
    RemoveTag(String),
    /// An e-mail, `team:key`, or empty for nobody.
    SetOwner(String),
    Archive(ArchiveNote),
    /// On or off in the environment of that key; a protected one stages it into a change
    /// request, and the project's gradual-start rule may refuse switching on there.
    Switch {
        env: String,
        on: bool,
    },
}

impl BulkAction {
    /// From the names the form and the API use (`tag-add`, `tag-remove`, `owner`, `archive`,
    /// `on`, `off`) and the one value they take (the tag, the owner, the reason to archive, the
    /// environment to switch in).
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
            "on" | "off" => BulkAction::Switch {
                env: value,
                on: action == "on",
            },
            _ => {
                return Err(AppError::invalid(
                    "action",
                    "choose tag-add, tag-remove, owner, archive, on or off",
                ))
            }
        })
    }

    /// What the action asks of the caller before anything is loaded, in order, once for the
    /// whole batch: editing flags; for archiving, archiving them and proposing changes, since
    /// archiving a flag that a protected environment serves waits in a change request there. A
    /// switch depends on its environment: [`BulkPlan::actions`] says.
    pub fn actions(&self) -> Vec<Action> {
        match self {
            BulkAction::Archive(_) => vec![Action::ArchiveFlag, Action::change_in(true)],
            BulkAction::Switch { .. } => Vec::new(),
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
            BulkAction::Switch { env, on: true } => format!("Switch on in {env}"),
            BulkAction::Switch { env, on: false } => format!("Switch off in {env}"),
        }
    }
}

/// The keys, trimmed, each once, in order; refused when none or too many.
pub fn checked_keys(keys: &[String]) -> AppResult<Vec<String>> {
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
        BulkAction::Switch { env, .. } if env.is_empty() => {
            return Err(AppError::invalid(
                "value",
                "name the environment to switch in",
            ))
        }
        other => other,
    })
}

/// A bulk action checked against one project: the keys, the action, and for a switch the
/// environment it switches in.
pub struct BulkPlan {
    keys: Vec<String>,
    action: BulkAction,
    env: Option<Environment>,
}

impl BulkPlan {
    /// Everything the batch asks of the caller: [`BulkAction::actions`], and for a switch
    /// changing its environment (proposing, where it is protected).
    pub fn actions(&self) -> Vec<Action> {
        let mut asked = self.action.actions();
        if let Some(env) = &self.env {
            asked.push(Action::change_in(env.protected));
        }
        asked
    }
}

/// Checks the keys and the action in `project` (bad input, an unknown environment: refused as
/// a whole, nothing changed) and loads what decides the permission it takes.
pub async fn plan(
    conn: &mut Conn,
    project: &Project,
    keys: &[String],
    action: BulkAction,
) -> AppResult<BulkPlan> {
    let keys = checked_keys(keys)?;
    let action = checked_action(&mut *conn, action).await?;
    let env = match &action {
        BulkAction::Switch { env, .. } => {
            Some(projects::service::environment(&mut *conn, project, env).await?)
        }
        _ => None,
    };
    Ok(BulkPlan { keys, action, env })
}

/// Applies the planned action to each of its flags inside the caller's write transaction, the
/// caller having asked the policy for [`BulkPlan::actions`]; reports each flag. A flag refused
/// because others depend on it is tried again once those are archived, so selecting a parent
/// with its children archives both.
pub async fn carry_out(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    plan: BulkPlan,
    now: DateTime<Utc>,
) -> AppResult<BulkReport> {
    let asked = plan.actions();
    let BulkPlan { keys, action, env } = plan;
    let task = Task {
        who,
        project,
        action: &action,
        env: env.as_ref(),
        asked: &asked,
    };
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
            let r = in_savepoint(&mut *conn, &task, key, now).await?;
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

/// What every flag of one batch is done with.
struct Task<'a> {
    who: &'a Identity,
    project: &'a Project,
    action: &'a BulkAction,
    env: Option<&'a Environment>,
    asked: &'a [Action],
}

/// One flag in a savepoint: kept when it worked, rolled back when refused.
async fn in_savepoint(
    conn: &mut Conn,
    task: &Task<'_>,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<FlagResult> {
    let mut sp = conn.begin().await?;
    match one(&mut sp, task, key, now).await {
        Ok(r) => {
            #[allow(clippy::disallowed_methods)] // a savepoint: the write commits in the caller
            sp.commit().await?;
            Ok(r)
        }
        Err(e @ (AppError::Internal(_) | AppError::Unavailable)) => Err(e),
        Err(e) => {
            sp.rollback().await?;
            Ok(FlagResult::refused(key, &e))
        }
    }
}

async fn one(
    conn: &mut Conn,
    task: &Task<'_>,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<FlagResult> {
    let (who, project) = (task.who, task.project);
    let (proposal, env) = match (task.action, task.env) {
        (BulkAction::Archive(note), _) => (Proposal::Archive { note: note.clone() }, None),
        (BulkAction::Switch { on, .. }, Some(env)) => {
            let flag = catalog::live_flag(&mut *conn, project, key).await?;
            if catalog_store::enabled_in(&mut *conn, flag.id, env.id).await? == *on {
                let word = if *on { "on" } else { "off" };
                let why = format!("already {word} in {}", env.key);
                return Ok(FlagResult::new(key, Done::Unchanged, why));
            }
            (Proposal::Toggle { enabled: *on }, Some(env))
        }
        (action, _) => return edit(conn, who, project, key, action, now).await,
    };
    let change = Change {
        flag_key: key,
        env,
        proposal,
    };
    Ok(
        match propose_asked(&mut *conn, who, project, change, task.asked, now).await? {
            Outcome::Staged(cr) => {
                let waits = match task.action {
                    BulkAction::Switch { .. } => "it stays as it is",
                    _ => "it stays live",
                };
                FlagResult {
                    change_request: Some(cr.id),
                    ..FlagResult::new(
                        key,
                        Done::Staged,
                        format!(
                            "added to change request #{} for {}: {waits} until the request is \
                             approved and applied",
                            cr.id, cr.environment
                        ),
                    )
                }
            }
            Outcome::Applied(_) => {
                let done = match (task.action, env) {
                    (BulkAction::Switch { on: true, .. }, Some(e)) => {
                        format!("switched on in {}", e.key)
                    }
                    (BulkAction::Switch { .. }, Some(e)) => format!("switched off in {}", e.key),
                    _ => "archived".to_string(),
                };
                FlagResult::new(key, Done::Applied, done)
            }
        },
    )
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
        BulkAction::Archive(_) | BulkAction::Switch { .. } => {
            return Err(AppError::invalid(
                "action",
                "that is not an edit of the flag",
            ))
        }
    };
    if let Some(why) = unchanged {
        return Ok(FlagResult::new(key, Done::Unchanged, why));
    }
    catalog::update_flag(&mut *conn, &who.actor, project, key, patch, now).await?;
    Ok(FlagResult::new(key, Done::Applied, done))
}
