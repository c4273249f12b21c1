//! Change-request operations. Proposing runs inside the caller's write transaction (it is part
//! of a write request that may apply instead); every workflow step opens its own
//! `BEGIN IMMEDIATE` transaction, so steps on one request are serialized and each commits with
//! its audit entries or not at all. Transport layers (`api`, `web`) rebuild the feed afterwards.

use super::change_request::{decide, Asker, Facts, Refusal, Step, Transition};
use super::store::{self, ItemRow, Move, NewItem, RequestRow};
use super::{Proposal, State};
use crate::audit::{self, Actor, NewEntry};
use crate::auth::extract::Identity;
use crate::authz::{allows, Action, Principal, ProjectAccess, Reach};
use crate::catalog::service::{self as catalog, FlagDetail, Switch};
use crate::clock::{parse_stamp, stamp};
use crate::db::{begin_write, Db};
use crate::error::{AppError, AppResult};
use crate::notify::{self, Event};
use crate::projects::{store as projects, Environment, Project};
use crate::targeting::service::{self as targeting, DependenciesSet, SegmentView, Targeting};
use crate::targeting::{served, store as targeting_store};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{Connection, SqliteConnection};

// ---------- Proposing: apply now, or stage into a draft ----------

/// A change somebody asks for in one project.
pub struct Change<'a> {
    pub flag_key: &'a str,
    /// The environment of on/off, strategies and variants; `None` for archive and segments,
    /// whose environment is where they are live.
    pub env: Option<&'a Environment>,
    pub proposal: Proposal,
}

/// What a proposal became.
pub enum Outcome {
    /// The environment is not protected: applied at once.
    Applied(Applied),
    /// The environment is protected: added to the caller's draft change request.
    Staged(Box<ChangeRequestView>),
}

/// The result of applying one change, in the shape its direct route answers.
pub enum Applied {
    Toggle { changed: bool },
    Targeting(Targeting),
    Flag(Box<FlagDetail>),
    Segment(SegmentView),
    Dependencies(DependenciesSet),
    Protection,
}

/// The one place that decides "apply now or stage": a change to a protected environment goes
/// into the author's draft for it (whoever the author is, admins included); any other applies.
pub async fn propose(
    conn: &mut SqliteConnection,
    access: &ProjectAccess,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<Outcome> {
    let project = &access.project;
    match &change.proposal {
        Proposal::Archive => access.require(Action::ArchiveFlag)?,
        Proposal::Segment { .. } | Proposal::Dependencies { .. } => {
            access.require(Action::EditFlag)?
        }
        _ => {}
    }
    let Some(env) = protected_target(&mut *conn, project, &change, now).await? else {
        if matches!(
            change.proposal,
            Proposal::Toggle { .. } | Proposal::Strategies { .. } | Proposal::Variants { .. }
        ) {
            access.require(Action::ChangeEnvironment { protected: false })?;
        }
        let applied = apply_change(
            &mut *conn,
            access.actor(),
            project,
            change.env,
            change.flag_key,
            &change.proposal,
            now,
        )
        .await?;
        return Ok(Outcome::Applied(applied));
    };
    access.require(Action::ProposeChange)?;
    let view = stage(&mut *conn, access, &env, change, now).await?;
    Ok(Outcome::Staged(Box::new(view)))
}

/// The protected environment a change would touch, if any. A flag-wide change (archiving,
/// dependencies) touches every environment where it alters what is served; of the protected
/// ones, the request goes to the one that asks the most approvals.
async fn protected_target(
    conn: &mut SqliteConnection,
    project: &Project,
    change: &Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<Option<Environment>> {
    match &change.proposal {
        Proposal::Toggle { .. }
        | Proposal::Strategies { .. }
        | Proposal::Variants { .. }
        | Proposal::Protection { .. } => {
            let env = change
                .env
                .ok_or_else(|| AppError::invalid("environment", "name the environment"))?;
            Ok(env.protected.then(|| env.clone()))
        }
        Proposal::Archive | Proposal::Dependencies { .. } => {
            let changed = served_changes(&mut *conn, project, change, now).await?;
            Ok(projects::environments(&mut *conn, project.id)
                .await?
                .into_iter()
                .filter(|e| e.protected && changed.contains(&e.key))
                .max_by_key(|e| (e.required_approvals, std::cmp::Reverse(e.sort_order))))
        }
        Proposal::Segment { id, .. } => {
            let used = targeting::segment_usage(&mut *conn, project, *id).await?;
            match used.into_iter().find(|u| u.protected) {
                Some(u) => Ok(projects::environment(conn, project.id, &u.environment).await?),
                None => Ok(None),
            }
        }
    }
}

/// The environments where a flag-wide change alters what is served: what the flag and the
/// flags depending on it serve, read before and after trying the change in a savepoint that
/// is rolled back.
async fn served_changes(
    conn: &mut SqliteConnection,
    project: &Project,
    change: &Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<Vec<String>> {
    let envs = projects::environments(&mut *conn, project.id).await?;
    let mut keys = vec![change.flag_key.to_string()];
    keys.extend(targeting_store::children_of(&mut *conn, project.id, change.flag_key).await?);
    let before = served::read(&mut *conn, project, &envs, &keys).await?;
    let mut dry = conn.begin().await?;
    let actor = Actor::system("review check");
    let tried = apply_change(
        &mut dry,
        &actor,
        project,
        None,
        change.flag_key,
        &change.proposal,
        now,
    )
    .await;
    let after = match tried {
        Ok(_) => served::read(&mut dry, project, &envs, &keys).await,
        Err(e) => {
            dry.rollback().await?;
            return Err(e);
        }
    };
    dry.rollback().await?;
    Ok(served::changed(&before, &after?))
}

/// Applies one change through the domain services (which validate and audit it).
async fn apply_change(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    env: Option<&Environment>,
    flag_key: &str,
    proposal: &Proposal,
    now: DateTime<Utc>,
) -> AppResult<Applied> {
    let need_env = || env.ok_or_else(|| AppError::invalid("environment", "name the environment"));
    Ok(match proposal {
        Proposal::Toggle { enabled } => {
            let switch = Switch {
                env: need_env()?,
                on: *enabled,
                reason: None,
            };
            let changed = catalog::set_enabled(conn, actor, project, flag_key, switch, now).await?;
            Applied::Toggle { changed }
        }
        Proposal::Strategies { strategies } => Applied::Targeting(
            targeting::replace_strategies(
                conn,
                actor,
                project,
                flag_key,
                need_env()?,
                strategies.clone(),
                now,
            )
            .await?,
        ),
        Proposal::Variants { variants } => Applied::Targeting(
            targeting::replace_variants(
                conn,
                actor,
                project,
                flag_key,
                need_env()?,
                variants.clone(),
                now,
            )
            .await?,
        ),
        Proposal::Archive => Applied::Flag(Box::new(
            catalog::set_archived(conn, actor, project, flag_key, true, now).await?,
        )),
        Proposal::Dependencies { dependencies } => Applied::Dependencies(
            targeting::set_dependencies(conn, actor, project, flag_key, dependencies.clone(), now)
                .await?,
        ),
        Proposal::Segment { id, segment } => Applied::Segment(
            targeting::update_segment(conn, actor, project, *id, segment.clone(), now).await?,
        ),
        Proposal::Protection {
            protected,
            required_approvals,
        } => {
            // The environment as it is now, not as it was when the change was proposed.
            let env = projects::environment(&mut *conn, project.id, &need_env()?.key)
                .await?
                .ok_or_else(|| AppError::not_found("the environment no longer exists"))?;
            crate::projects::service::set_protection(
                conn,
                actor,
                project,
                &env,
                *protected,
                *required_approvals,
                now,
            )
            .await?;
            Applied::Protection
        }
    })
}

/// The live state of what a proposal changes: its version and a view for before/after.
async fn live_state(
    conn: &mut SqliteConnection,
    project: &Project,
    env: &Environment,
    flag_key: &str,
    proposal: &Proposal,
) -> AppResult<(i64, Value)> {
    Ok(match proposal {
        Proposal::Toggle { .. } | Proposal::Strategies { .. } | Proposal::Variants { .. } => {
            let t = targeting::targeting(conn, project, flag_key, env).await?;
            let view = match proposal {
                Proposal::Toggle { .. } => json!({ "enabled": t.enabled }),
                Proposal::Strategies { .. } => json!({ "strategies": t.strategies }),
                _ => json!({ "variants": t.variants }),
            };
            (t.version, view)
        }
        Proposal::Archive => {
            let d = catalog::detail(conn, project, flag_key, Utc::now()).await?;
            (
                d.flag.version,
                json!({ "archived": d.flag.archived_at.is_some() }),
            )
        }
        Proposal::Dependencies { .. } => {
            let version = store::flag_version(&mut *conn, project.id, flag_key)
                .await?
                .ok_or_else(|| catalog::flag_not_found(project, flag_key))?;
            let deps = targeting::dependencies(conn, project, flag_key).await?;
            (version, json!({ "dependencies": deps }))
        }
        Proposal::Segment { id, .. } => {
            let s = targeting::segment(conn, project, *id).await?;
            (
                s.version,
                json!({"name": s.name, "description": s.description, "constraints": s.constraints}),
            )
        }
        Proposal::Protection { .. } => (
            projects::protection_version(conn, env.id)
                .await?
                .unwrap_or_default(),
            protection_view(env.protected, env.required_approvals),
        ),
    })
}

fn protection_view(protected: bool, required_approvals: i64) -> Value {
    json!({ "protected": protected, "requiredApprovals": required_approvals })
}

fn after_view(applied: &Applied) -> Value {
    match applied {
        Applied::Toggle { .. } => Value::Null,
        Applied::Targeting(t) => json!({ "strategies": t.strategies, "variants": t.variants }),
        Applied::Flag(_) => json!({ "archived": true }),
        Applied::Segment(s) => {
            json!({"name": s.name, "description": s.description, "constraints": s.constraints})
        }
        Applied::Dependencies(d) => {
            json!({ "dependencies": d.dependencies, "environments": d.environments })
        }
        Applied::Protection => Value::Null,
    }
}

fn after_of(proposal: &Proposal, applied: &Applied) -> Value {
    match (proposal, applied) {
        (Proposal::Toggle { enabled }, _) => json!({ "enabled": enabled }),
        (Proposal::Strategies { .. }, Applied::Targeting(t)) => {
            json!({ "strategies": t.strategies })
        }
        (Proposal::Variants { .. }, Applied::Targeting(t)) => json!({ "variants": t.variants }),
        (
            Proposal::Protection {
                protected,
                required_approvals,
            },
            _,
        ) => protection_view(*protected, *required_approvals),
        _ => after_view(applied),
    }
}

fn to_text<T: Serialize>(v: &T) -> AppResult<String> {
    Ok(serde_json::to_string(v).map_err(anyhow::Error::from)?)
}

/// Adds the change to the caller's draft for `env` (creating it), after a dry run that
/// validates it exactly as applying would (then rolled back).
async fn stage(
    conn: &mut SqliteConnection,
    access: &ProjectAccess,
    env: &Environment,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let project = &access.project;
    let user = &access.identity.user;
    let flag_key = match &change.proposal {
        Proposal::Segment { .. } | Proposal::Protection { .. } => None,
        _ => Some(change.flag_key),
    };
    let segment_id = match &change.proposal {
        Proposal::Segment { id, .. } => Some(*id),
        _ => None,
    };
    let (base_version, before) =
        live_state(&mut *conn, project, env, change.flag_key, &change.proposal).await?;
    let after = {
        let mut dry = conn.begin().await?;
        let tried = apply_change(
            &mut dry,
            access.actor(),
            project,
            Some(env),
            change.flag_key,
            &change.proposal,
            now,
        )
        .await;
        dry.rollback().await?;
        after_of(&change.proposal, &tried?)
    };
    let at = stamp(now);
    let id = match store::draft_of(&mut *conn, env.id, user.id).await? {
        Some(id) => id,
        None => {
            store::insert_request(&mut *conn, project.id, env.id, (user.id, &user.email), &at)
                .await?
        }
    };
    let kind = change.proposal.kind();
    let payload = to_text(&change.proposal)?;
    let after_text = to_text(&after)?;
    match store::item_like(&mut *conn, id, kind, flag_key, segment_id).await? {
        Some(item) => store::replace_item(&mut *conn, item, &payload, &after_text).await?,
        None => {
            let item = NewItem {
                kind,
                flag_key,
                segment_id,
                payload: &payload,
                base_version,
                before_json: &to_text(&before)?,
                after_json: &after_text,
            };
            store::insert_item(&mut *conn, id, &item, &at).await?;
        }
    }
    store::touch(&mut *conn, id, &at).await?;
    let summary = change.proposal.summary(flag_key);
    let mut entry = NewEntry::new("change-request.change-added", target(id, project, env))
        .project(&project.key)
        .environment(&env.key)
        .before(json!({ "changeRequest": id, "change": kind, "state": before }))
        .after(json!({ "changeRequest": id, "change": kind, "summary": summary, "state": after }));
    if let Some(f) = flag_key {
        entry = entry.flag(f);
    }
    audit::append(&mut *conn, access.actor(), entry, now).await?;
    let row = store::request_by_id(&mut *conn, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    view(&mut *conn, row).await
}

fn target(id: i64, project: &Project, env: &Environment) -> String {
    format!("change request #{id} in {}/{}", project.key, env.key)
}

fn row_target(r: &RequestRow) -> String {
    format!(
        "change request #{} in {}/{}",
        r.id, r.project_key, r.environment_key
    )
}

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!(
        "there is no change request #{id}, or you may not see it"
    ))
}

// ---------- Views ----------

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRequestView {
    pub id: i64,
    pub project: String,
    pub environment: String,
    pub state: State,
    pub title: String,
    pub reason: String,
    pub author: String,
    pub created_at: String,
    pub updated_at: String,
    pub scheduled_at: Option<String>,
    /// Why it was rejected, or why applying it failed.
    pub outcome: Option<String>,
    pub applied_by: Option<String>,
    pub required_approvals: i64,
    pub approvals: Vec<ApprovalView>,
    pub items: Vec<ItemView>,
    pub comments: Vec<CommentView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalView {
    pub user: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemView {
    pub id: i64,
    pub kind: String,
    pub flag: Option<String>,
    pub segment: Option<i64>,
    pub summary: String,
    /// The version of what it changes when it was proposed, and now (while still pending).
    pub base_version: i64,
    pub live_version: Option<i64>,
    /// True when the live configuration moved since: applying would be refused.
    pub conflict: bool,
    pub before: Value,
    pub after: Value,
    pub proposal: Value,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentView {
    pub id: i64,
    pub author: String,
    pub body: String,
    pub created_at: String,
}

/// A line of a list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRequestSummary {
    pub id: i64,
    pub project: String,
    pub environment: String,
    pub state: State,
    pub title: String,
    pub author: String,
    pub changes: i64,
    pub approvals: i64,
    pub required_approvals: i64,
    pub scheduled_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

async fn live_version(
    conn: &mut SqliteConnection,
    r: &RequestRow,
    item: &ItemRow,
) -> AppResult<Option<i64>> {
    let flag = item.flag_key.as_deref().unwrap_or("");
    Ok(match item.kind.as_str() {
        "archive" | "dependencies" => store::flag_version(conn, r.project_id, flag).await?,
        "segment" => {
            store::segment_version(conn, r.project_id, item.segment_id.unwrap_or(0)).await?
        }
        "protection" => projects::protection_version(conn, r.environment_id).await?,
        _ => store::flag_environment_version(conn, r.project_id, flag, r.environment_id).await?,
    })
}

pub async fn view(conn: &mut SqliteConnection, r: RequestRow) -> AppResult<ChangeRequestView> {
    let pending = !r.state().is_final();
    let mut items = Vec::new();
    for i in store::items_of(&mut *conn, r.id).await? {
        let live = if pending {
            live_version(&mut *conn, &r, &i).await?
        } else {
            None
        };
        let proposal = parse_json(&i.payload);
        let summary = serde_json::from_value::<Proposal>(proposal.clone())
            .map(|p| p.summary(i.flag_key.as_deref()))
            .unwrap_or_else(|_| i.kind.clone());
        items.push(ItemView {
            conflict: pending && live != Some(i.base_version),
            live_version: live,
            id: i.id,
            kind: i.kind,
            flag: i.flag_key,
            segment: i.segment_id,
            summary,
            base_version: i.base_version,
            before: parse_json(&i.before_json),
            after: parse_json(&i.after_json),
            proposal,
            created_at: i.created_at,
        });
    }
    let approvals = store::approvals_of(&mut *conn, r.id)
        .await?
        .into_iter()
        .map(|a| ApprovalView {
            user: a.user_label,
            at: a.approved_at,
        })
        .collect();
    let comments = store::comments_of(&mut *conn, r.id)
        .await?
        .into_iter()
        .map(|c| CommentView {
            id: c.id,
            author: c.author_label,
            body: c.body,
            created_at: c.created_at,
        })
        .collect();
    Ok(ChangeRequestView {
        id: r.id,
        state: r.state(),
        project: r.project_key,
        environment: r.environment_key,
        title: r.title,
        reason: r.reason,
        author: r.author_label,
        created_at: r.created_at,
        updated_at: r.updated_at,
        scheduled_at: r.scheduled_at,
        outcome: r.outcome.filter(|o| !o.is_empty()),
        applied_by: r.applied_by,
        required_approvals: r.required_approvals,
        approvals,
        items,
        comments,
    })
}

// ---------- Reading ----------

/// The request and what the asker may do in its project; hidden requests answer not found.
async fn visible(
    conn: &mut SqliteConnection,
    who: &Identity,
    id: i64,
) -> AppResult<(RequestRow, Principal)> {
    let row = store::request_by_id(&mut *conn, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let role = projects::role_of(&mut *conn, row.project_id, who.user.id).await?;
    if !crate::authz::reach::may_see(who, row.project_id, role) {
        return Err(not_found(id));
    }
    Ok((row, crate::authz::reach::principal(who, role)))
}

pub async fn get(db: &Db, who: &Identity, id: i64) -> AppResult<ChangeRequestView> {
    let mut conn = db.acquire().await?;
    let (row, _) = visible(&mut conn, who, id).await?;
    view(&mut conn, row).await
}

pub struct ListQuery<'a> {
    pub project: Option<&'a str>,
    pub state: Option<State>,
    pub mine: bool,
}

pub async fn list(
    db: &Db,
    who: &Identity,
    q: &ListQuery<'_>,
) -> AppResult<Vec<ChangeRequestSummary>> {
    let mut conn = db.acquire().await?;
    let mut ids: Vec<i64> = Reach::of(&mut conn, who)
        .await?
        .projects()
        .iter()
        .filter(|p| q.project.is_none_or(|k| k == p.key))
        .map(|p| p.id)
        .collect();
    ids.sort_unstable();
    let filter = store::ListFilter {
        project_ids: &ids,
        state: q.state,
        author_id: q.mine.then_some(who.user.id),
    };
    Ok(store::requests(&mut conn, &filter)
        .await?
        .into_iter()
        .map(|r| ChangeRequestSummary {
            id: r.id,
            state: r.state(),
            project: r.project_key,
            environment: r.environment_key,
            title: r.title,
            author: r.author_label,
            changes: r.items,
            approvals: r.approvals,
            required_approvals: r.required_approvals,
            scheduled_at: r.scheduled_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

// ---------- The workflow ----------

async fn facts(
    conn: &mut SqliteConnection,
    r: &RequestRow,
    user_id: Option<i64>,
) -> AppResult<Facts> {
    let approvals = store::approvals_of(&mut *conn, r.id).await?;
    let lowers_protection = store::items_of(&mut *conn, r.id)
        .await?
        .iter()
        .any(|i| i.kind == "protection")
        .then(|| r.environment_key == "production");
    Ok(Facts {
        lowers_protection,
        state: r.state(),
        author_id: r.author_id,
        items: usize::try_from(r.items).unwrap_or(0),
        approvals: approvals.len(),
        approved_by_asker: user_id.is_some_and(|u| approvals.iter().any(|a| a.user_id == u)),
        required_approvals: usize::try_from(r.required_approvals).unwrap_or(1),
    })
}

fn refusal(r: Refusal) -> AppError {
    match r {
        Refusal::Forbidden(m) => AppError::Forbidden(m),
        Refusal::WrongState(m) => AppError::conflict("change-request-state", m),
        Refusal::Invalid(field, m) => AppError::invalid(field, m),
    }
}

/// Opens the write transaction, loads the request and decides the transition for a person.
/// A refused review is recorded in the audit log (who tried to approve what), then refused.
async fn begin(
    db: &Db,
    who: &Identity,
    id: i64,
    t: Transition,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<(crate::db::Tx, RequestRow, Step)> {
    let mut tx = begin_write(db).await?;
    let (row, principal) = visible(&mut tx, who, id).await?;
    let f = facts(&mut tx, &row, Some(who.user.id)).await?;
    let asker = Asker::Person {
        user_id: who.user.id,
        principal,
    };
    match decide(t, &f, asker, reason) {
        Ok(step) => Ok((tx, row, step)),
        Err(Refusal::Forbidden(m)) if matches!(t, Transition::Approve | Transition::Reject) => {
            let verb = if t == Transition::Approve {
                "approve"
            } else {
                "reject"
            };
            audit::append(
                &mut tx,
                &who.actor,
                NewEntry::new("change-request.review-denied", row_target(&row))
                    .project(&row.project_key)
                    .environment(&row.environment_key)
                    .after(json!({ "changeRequest": row.id, "attempted": verb, "why": m })),
                now,
            )
            .await?;
            tx.commit().await?;
            Err(AppError::Forbidden(m))
        }
        Err(r) => Err(refusal(r)),
    }
}

/// Moves the request, or finds that a concurrent caller already did (409).
async fn move_or_refuse(
    conn: &mut SqliteConnection,
    row: &RequestRow,
    m: &Move<'_>,
    now: &str,
) -> AppResult<()> {
    if store::move_state(conn, row.id, m, now).await? {
        Ok(())
    } else {
        Err(AppError::conflict(
            "change-request-state",
            "the change request changed meanwhile; reload it and try again",
        ))
    }
}

async fn finish(mut tx: crate::db::Tx, id: i64) -> AppResult<ChangeRequestView> {
    let row = store::request_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let v = view(&mut tx, row).await?;
    tx.commit().await?;
    Ok(v)
}

fn entry<'a>(action: &'a str, r: &'a RequestRow) -> NewEntry<'a> {
    NewEntry::new(action, row_target(r))
        .project(&r.project_key)
        .environment(&r.environment_key)
}

/// Submits a draft for review with a title and a reason.
pub async fn submit(
    db: &Db,
    who: &Identity,
    id: i64,
    title: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(AppError::invalid(
            "title",
            "give the change request a title of 1 to 200 characters",
        ));
    }
    if reason.trim().is_empty() || reason.chars().count() > 5000 {
        return Err(AppError::invalid(
            "reason",
            "say why, in at most 5000 characters",
        ));
    }
    let (mut tx, row, step) = begin(db, who, id, Transition::Submit, None, now).await?;
    let at = stamp(now);
    store::set_wording(&mut tx, id, title, reason.trim(), &at).await?;
    move_or_refuse(&mut tx, &row, &Move::new(row.state(), step.to), &at).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry("change-request.submitted", &row)
            .after(json!({ "changeRequest": id, "title": title, "changes": row.items }))
            .reason(Some(reason)),
        now,
    )
    .await?;
    notify::change_request(&mut tx, id, Event::Submitted, &who.actor, Some(reason), now).await?;
    finish(tx, id).await
}

/// One person's approval: counted once however often it is sent; reaching the environment's
/// required number moves the request to approved, exactly once.
pub async fn approve(
    db: &Db,
    who: &Identity,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(db, who, id, Transition::Approve, None, now).await?;
    let at = stamp(now);
    if !step.records_approval {
        return finish(tx, id).await;
    }
    if !store::insert_approval(&mut tx, id, (who.user.id, &who.user.email), &at).await? {
        return finish(tx, id).await;
    }
    let count = store::approvals_of(&mut tx, id).await?.len();
    if step.to != row.state() {
        move_or_refuse(&mut tx, &row, &Move::new(row.state(), step.to), &at).await?;
        notify::change_request(&mut tx, id, Event::Approved, &who.actor, None, now).await?;
    } else {
        store::touch(&mut tx, id, &at).await?;
    }
    audit::append(
        &mut tx,
        &who.actor,
        entry("change-request.approved", &row).after(json!({
            "changeRequest": id, "approvals": count,
            "requiredApprovals": row.required_approvals, "state": step.to,
        })),
        now,
    )
    .await?;
    finish(tx, id).await
}

pub async fn reject(
    db: &Db,
    who: &Identity,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(db, who, id, Transition::Reject, Some(reason), now).await?;
    let at = stamp(now);
    let m = Move {
        outcome: Some(reason.trim()),
        ..Move::new(row.state(), step.to)
    };
    move_or_refuse(&mut tx, &row, &m, &at).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry("change-request.rejected", &row)
            .after(json!({ "changeRequest": id }))
            .reason(Some(reason)),
        now,
    )
    .await?;
    notify::change_request(&mut tx, id, Event::Rejected, &who.actor, Some(reason), now).await?;
    finish(tx, id).await
}

pub async fn cancel(
    db: &Db,
    who: &Identity,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(db, who, id, Transition::Cancel, None, now).await?;
    let at = stamp(now);
    move_or_refuse(&mut tx, &row, &Move::new(row.state(), step.to), &at).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry("change-request.cancelled", &row)
            .before(json!({ "changeRequest": id, "state": row.state() })),
        now,
    )
    .await?;
    finish(tx, id).await
}

pub async fn schedule(
    db: &Db,
    who: &Identity,
    id: i64,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    if at <= now {
        return Err(AppError::invalid("at", "choose a time in the future"));
    }
    let (mut tx, row, step) = begin(db, who, id, Transition::Schedule, None, now).await?;
    let when = stamp(at);
    let m = Move {
        scheduled_at: Some(&when),
        ..Move::new(row.state(), step.to)
    };
    move_or_refuse(&mut tx, &row, &m, &stamp(now)).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry("change-request.scheduled", &row).after(json!({ "changeRequest": id, "at": when })),
        now,
    )
    .await?;
    finish(tx, id).await
}

pub async fn comment(
    db: &Db,
    who: &Identity,
    id: i64,
    body: &str,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 5000 {
        return Err(AppError::invalid(
            "body",
            "write a comment of 1 to 5000 characters",
        ));
    }
    let (mut tx, row, _) = begin(db, who, id, Transition::Comment, None, now).await?;
    let comment = store::insert_comment(&mut tx, id, &who.user.email, body, &stamp(now)).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry("change-request.commented", &row)
            .after(json!({ "changeRequest": id, "comment": comment, "body": body })),
        now,
    )
    .await?;
    finish(tx, id).await
}

/// Common to every edit: approvals given so far no longer count, and an approved request goes
/// back to review.
async fn edited(
    conn: &mut SqliteConnection,
    who: &Identity,
    row: &RequestRow,
    step: Step,
    what: Value,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let at = stamp(now);
    let cleared = if step.clear_approvals {
        store::clear_approvals(&mut *conn, row.id).await?
    } else {
        0
    };
    if step.to != row.state() {
        move_or_refuse(&mut *conn, row, &Move::new(row.state(), step.to), &at).await?;
    } else {
        store::touch(&mut *conn, row.id, &at).await?;
    }
    audit::append(
        &mut *conn,
        &who.actor,
        entry("change-request.edited", row).after(json!({
            "changeRequest": row.id, "edit": what, "approvalsCleared": cleared, "state": step.to,
        })),
        now,
    )
    .await?;
    Ok(())
}

/// A new title or reason.
pub async fn reword(
    db: &Db,
    who: &Identity,
    id: i64,
    title: Option<&str>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(db, who, id, Transition::Edit, None, now).await?;
    let title = title.map(str::trim).unwrap_or(&row.title).to_string();
    let reason = reason.map(str::trim).unwrap_or(&row.reason).to_string();
    if title.chars().count() > 200 || reason.chars().count() > 5000 {
        return Err(AppError::invalid(
            "title",
            "a title has at most 200 characters, a reason 5000",
        ));
    }
    store::set_wording(&mut tx, id, &title, &reason, &stamp(now)).await?;
    edited(
        &mut tx,
        who,
        &row,
        step,
        json!({"title": title, "reason": reason}),
        now,
    )
    .await?;
    finish(tx, id).await
}

/// Takes one change out of the request.
pub async fn remove_item(
    db: &Db,
    who: &Identity,
    id: i64,
    item: i64,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(db, who, id, Transition::Edit, None, now).await?;
    if !store::delete_item(&mut tx, id, item).await? {
        return Err(AppError::not_found(format!(
            "the change request #{id} has no change #{item}"
        )));
    }
    edited(
        &mut tx,
        who,
        &row,
        step,
        json!({ "removedChange": item }),
        now,
    )
    .await?;
    finish(tx, id).await
}

/// Re-bases a failed request on the live configuration; it needs its approvals again.
pub async fn refresh(
    db: &Db,
    who: &Identity,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(db, who, id, Transition::Refresh, None, now).await?;
    let (project, env) = project_and_env(&mut tx, &row).await?;
    for item in store::items_of(&mut tx, id).await? {
        let proposal = proposal_of(&item)?;
        let flag = item.flag_key.as_deref().unwrap_or("");
        let (version, before) = live_state(&mut tx, &project, &env, flag, &proposal).await?;
        store::rebase_item(&mut tx, item.id, version, &to_text(&before)?).await?;
    }
    let at = stamp(now);
    store::clear_approvals(&mut tx, id).await?;
    let m = Move {
        outcome: Some(""),
        ..Move::new(row.state(), step.to)
    };
    move_or_refuse(&mut tx, &row, &m, &at).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry("change-request.refreshed", &row).after(json!({ "changeRequest": id })),
        now,
    )
    .await?;
    finish(tx, id).await
}

fn proposal_of(item: &ItemRow) -> AppResult<Proposal> {
    serde_json::from_str(&item.payload).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "change #{} has an unreadable payload: {e}",
            item.id
        ))
    })
}

async fn project_and_env(
    conn: &mut SqliteConnection,
    row: &RequestRow,
) -> AppResult<(Project, Environment)> {
    let project = projects::project_by_key(&mut *conn, &row.project_key)
        .await?
        .ok_or_else(|| not_found(row.id))?;
    let env = projects::environment(&mut *conn, row.project_id, &row.environment_key)
        .await?
        .ok_or_else(|| not_found(row.id))?;
    Ok((project, env))
}

// ---------- Applying ----------

/// Applies an approved (or scheduled) request as a person.
pub async fn apply(
    db: &Db,
    who: &Identity,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (tx, row, _) = begin(db, who, id, Transition::Apply, None, now).await?;
    apply_in(tx, row, &who.actor, now).await
}

/// What the scheduler does with a due request: apply it, or mark it failed with the reason.
pub async fn apply_scheduled(db: &Db, id: i64, now: DateTime<Utc>) -> AppResult<ChangeRequestView> {
    let actor = Actor::system("scheduler");
    let mut tx = begin_write(db).await?;
    let row = store::request_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let f = facts(&mut tx, &row, None).await?;
    match decide(Transition::Apply, &f, Asker::Scheduler, None) {
        Ok(_) => apply_in(tx, row, &actor, now).await,
        Err(r) if row.state() == State::Scheduled => {
            let e = refusal(r);
            fail(&mut tx, &row, &actor, &e.to_string(), now).await?;
            tx.commit().await?;
            Err(e)
        }
        Err(r) => Err(refusal(r)),
    }
}

/// Marks the request failed with the reason, from the state it is in.
async fn fail(
    conn: &mut SqliteConnection,
    row: &RequestRow,
    actor: &Actor,
    why: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let m = Move {
        outcome: Some(why),
        ..Move::new(row.state(), State::Failed)
    };
    if store::move_state(&mut *conn, row.id, &m, &stamp(now)).await? {
        audit::append(
            &mut *conn,
            actor,
            entry("change-request.failed", row)
                .after(json!({ "changeRequest": row.id }))
                .reason(Some(why)),
            now,
        )
        .await?;
        notify::change_request(&mut *conn, row.id, Event::Failed, actor, Some(why), now).await?;
    }
    Ok(())
}

/// Every item or none: first each item's base version is checked against the live one (a moved
/// one fails the request, nothing is written), then all are applied through the services inside
/// a savepoint; a refusal there also fails the request and rolls every item back.
///
/// Audit: each service writes its usual per-change entry (so a flag's own history stays
/// complete), and the request writes one `change-request.applied` entry naming the request, its
/// author, its approvers and its changes.
async fn apply_in(
    mut tx: crate::db::Tx,
    row: RequestRow,
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let id = row.id;
    let (project, env) = project_and_env(&mut tx, &row).await?;
    let items = store::items_of(&mut tx, id).await?;
    let mut conflicts = Vec::new();
    for item in &items {
        let live = live_version(&mut tx, &row, item).await?;
        if live != Some(item.base_version) {
            let what = proposal_of(item)?.summary(item.flag_key.as_deref());
            conflicts.push(match live {
                Some(v) => format!(
                    "\"{what}\" was proposed on version {} but the live configuration is at version {v}",
                    item.base_version
                ),
                None => format!("\"{what}\" changes something that no longer exists"),
            });
        }
    }
    if !conflicts.is_empty() {
        let message = format!(
            "the live configuration changed since this request was made: {}; nothing was applied — refresh the request and have it approved again",
            conflicts.join("; ")
        );
        fail(&mut tx, &row, actor, &message, now).await?;
        tx.commit().await?;
        return Err(AppError::conflict("change-conflict", message));
    }
    let mut sp = tx.begin().await?;
    let mut failure = None;
    for item in &items {
        let proposal = proposal_of(item)?;
        let flag = item.flag_key.as_deref().unwrap_or("");
        match apply_change(&mut sp, actor, &project, Some(&env), flag, &proposal, now).await {
            Ok(_) => {}
            Err(e @ (AppError::Internal(_) | AppError::Unavailable)) => return Err(e),
            Err(e) => {
                failure = Some(format!(
                    "\"{}\" could not be applied: {e}",
                    proposal.summary(item.flag_key.as_deref())
                ));
                break;
            }
        }
    }
    if let Some(message) = failure {
        sp.rollback().await?;
        fail(&mut tx, &row, actor, &message, now).await?;
        tx.commit().await?;
        return Err(AppError::conflict("change-failed", message));
    }
    sp.commit().await?;
    let m = Move {
        applied_by: Some(&actor.label),
        ..Move::new(row.state(), State::Applied)
    };
    move_or_refuse(&mut tx, &row, &m, &stamp(now)).await?;
    let approvers: Vec<String> = store::approvals_of(&mut tx, id)
        .await?
        .into_iter()
        .map(|a| a.user_label)
        .collect();
    let changes: Vec<String> = items
        .iter()
        .filter_map(|i| {
            proposal_of(i)
                .ok()
                .map(|p| p.summary(i.flag_key.as_deref()))
        })
        .collect();
    audit::append(
        &mut tx,
        actor,
        entry("change-request.applied", &row).after(json!({
            "changeRequest": id, "title": row.title, "author": row.author_label,
            "approvers": approvers, "changes": changes,
        })),
        now,
    )
    .await?;
    notify::change_request(&mut tx, id, Event::Applied, actor, None, now).await?;
    finish(tx, id).await
}

// ---------- Emergency kill ----------

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KillView {
    pub id: i64,
    pub flag: String,
    pub environment: String,
    pub reason: String,
    pub killed_by: String,
    pub killed_at: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub acknowledgement: Option<String>,
}

impl From<store::KillRow> for KillView {
    fn from(k: store::KillRow) -> Self {
        KillView {
            id: k.id,
            flag: k.flag_key,
            environment: k.environment_key,
            reason: k.reason,
            killed_by: k.killed_by,
            killed_at: k.killed_at,
            acknowledged_by: k.acknowledged_by,
            acknowledged_at: k.acknowledged_at,
            acknowledgement: k.acknowledgement,
        }
    }
}

/// Switches a flag off at once, even in a protected environment: rollback never waits for a
/// review. Audited as `flag.killed` with the reason; leaves a record an approver acknowledges.
pub async fn kill(
    conn: &mut SqliteConnection,
    access: &ProjectAccess,
    flag_key: &str,
    env: &Environment,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<KillView> {
    access.require(Action::KillSwitch {
        protected: env.protected,
    })?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(AppError::invalid(
            "reason",
            "say why the flag is killed, in at most 2000 characters",
        ));
    }
    let project = &access.project;
    let flag = catalog::live_flag(&mut *conn, project, flag_key).await?;
    let t = targeting::targeting(&mut *conn, project, flag_key, env).await?;
    if t.enabled {
        crate::catalog::store::set_enabled(&mut *conn, flag.id, env.id, false, now).await?;
    }
    let user = &access.identity.user;
    let new = store::NewKill {
        project_id: project.id,
        environment_id: env.id,
        flag_key,
        reason,
        killed_by: (Some(user.id), &user.email),
    };
    let id = store::insert_kill(&mut *conn, &new, &stamp(now)).await?;
    audit::append(
        &mut *conn,
        access.actor(),
        NewEntry::new(
            "flag.killed",
            format!("flag {}/{} in {}", project.key, flag_key, env.key),
        )
        .project(&project.key)
        .flag(flag_key)
        .environment(&env.key)
        .before(json!({ "enabled": t.enabled }))
        .after(json!({ "enabled": false, "emergency": true, "kill": id }))
        .reason(Some(reason)),
        now,
    )
    .await?;
    notify::killed(
        &mut *conn,
        project,
        flag_key,
        &env.key,
        access.actor(),
        reason,
        now,
    )
    .await?;
    let row = store::kill_by_id(&mut *conn, project.id, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("kill #{id} vanished")))?;
    Ok(row.into())
}

pub async fn kills(
    conn: &mut SqliteConnection,
    project: &Project,
    open_only: bool,
) -> AppResult<Vec<KillView>> {
    Ok(store::kills_of(conn, project.id, open_only)
        .await?
        .into_iter()
        .map(KillView::from)
        .collect())
}

/// An approver (not the one who killed) signs off an emergency kill, once.
pub async fn acknowledge_kill(
    conn: &mut SqliteConnection,
    access: &ProjectAccess,
    id: i64,
    note: &str,
    now: DateTime<Utc>,
) -> AppResult<KillView> {
    let project = &access.project;
    let k = store::kill_by_id(&mut *conn, project.id, id)
        .await?
        .ok_or_else(|| {
            AppError::not_found(format!(
                "there is no emergency kill #{id} in {}",
                project.key
            ))
        })?;
    access.require(Action::AcknowledgeKill {
        own: k.killed_by_id == Some(access.identity.user.id),
    })?;
    let user = &access.identity.user;
    if !store::acknowledge_kill(&mut *conn, id, &user.email, note.trim(), &stamp(now)).await? {
        return Err(AppError::conflict(
            "kill-acknowledged",
            format!(
                "the emergency kill #{id} was already acknowledged by {}",
                k.acknowledged_by.unwrap_or_default()
            ),
        ));
    }
    audit::append(
        &mut *conn,
        access.actor(),
        NewEntry::new(
            "flag.kill-acknowledged",
            format!(
                "flag {}/{} in {}",
                project.key, k.flag_key, k.environment_key
            ),
        )
        .project(&project.key)
        .flag(&k.flag_key)
        .environment(&k.environment_key)
        .after(json!({ "kill": id, "killedBy": k.killed_by }))
        .reason(Some(note)),
        now,
    )
    .await?;
    let row = store::kill_by_id(&mut *conn, project.id, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("kill #{id} vanished")))?;
    Ok(row.into())
}

// ---------- Protection ----------

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
    conn: &mut SqliteConnection,
    access: &ProjectAccess,
    env: &Environment,
    protected: bool,
    required_approvals: i64,
    now: DateTime<Utc>,
) -> AppResult<ProtectionOutcome> {
    access.require(Action::SetProtection {
        production: env.key == "production",
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

/// Parses an RFC 3339 time from input.
pub fn parse_time(field: &'static str, s: &str) -> AppResult<DateTime<Utc>> {
    parse_stamp(s.trim()).ok_or_else(|| {
        AppError::invalid(
            field,
            "give the time in RFC 3339, such as 2030-01-31T09:00:00Z",
        )
    })
}

/// True when the principal could review requests in that project (for inbox counts).
pub fn may_review(p: Principal) -> bool {
    allows(p, Action::ReviewChange { own: false }).is_ok()
}
