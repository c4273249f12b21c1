//! Reading change requests: the views the transports render, one request (hidden ones answer
//! not found) and lists, through the one visibility rule.

use super::store::{self, ItemRow, RequestRow};
use super::{Proposal, State};
use crate::authz::Identity;
use crate::authz::{allows, Action, Principal, Reach};
use crate::db::Conn;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::projects::{store as projects, Environment, Project};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

pub(super) fn target(id: i64, project: &Project, env: &Environment) -> String {
    format!("change request #{id} in {}/{}", project.key, env.key)
}

pub(super) fn row_target(r: &RequestRow) -> String {
    format!(
        "change request #{} in {}/{}",
        r.id, r.project_key, r.environment_key
    )
}

pub(super) fn not_found(id: i64) -> AppError {
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
    /// Who wrote it, for "is this mine" (labels are for people to read).
    #[serde(skip)]
    pub author_id: i64,
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
    #[serde(skip)]
    pub user_id: i64,
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
    #[serde(skip)]
    pub author_id: i64,
    pub changes: i64,
    pub approvals: i64,
    pub required_approvals: i64,
    pub scheduled_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub(super) fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

pub(super) async fn live_version(
    conn: &mut Conn,
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

pub async fn view(conn: &mut Conn, r: RequestRow) -> AppResult<ChangeRequestView> {
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
            user_id: a.user_id,
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
        author_id: r.author_id,
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
pub(super) async fn visible(
    conn: &mut Conn,
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

#[derive(Debug, Clone, Copy, Default)]
pub struct ListQuery<'a> {
    pub project: Option<&'a str>,
    pub state: Option<State>,
    pub mine: bool,
    /// Only finished requests (applied, rejected, cancelled).
    pub closed: bool,
    /// Only those of this author (their e-mail).
    pub author: Option<&'a str>,
    /// Only those last changed at or after this time.
    pub since: Option<DateTime<Utc>>,
}

pub async fn list(
    db: &Db,
    who: &Identity,
    q: &ListQuery<'_>,
) -> AppResult<Vec<ChangeRequestSummary>> {
    let mut conn = db.acquire().await?;
    let ids = visible_projects(&mut conn, who, q.project).await?;
    let since = q.since.map(crate::clock::stamp);
    let filter = store::ListFilter {
        project_ids: &ids,
        state: q.state,
        author_id: q.mine.then_some(who.user.id),
        closed: q.closed,
        author_label: q.author,
        since: since.as_deref(),
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
            author_id: r.author_id,
            changes: r.items,
            approvals: r.approvals,
            required_approvals: r.required_approvals,
            scheduled_at: r.scheduled_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

/// The ids of the projects the person may see (only `project`'s, when named).
async fn visible_projects(
    conn: &mut Conn,
    who: &Identity,
    project: Option<&str>,
) -> AppResult<Vec<i64>> {
    let mut ids: Vec<i64> = Reach::of(&mut *conn, who)
        .await?
        .projects()
        .iter()
        .filter(|p| project.is_none_or(|k| k == p.key))
        .map(|p| p.id)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// The authors of the finished requests this person may see, for choosing one.
pub async fn closed_authors(db: &Db, who: &Identity) -> AppResult<Vec<String>> {
    let mut conn = db.acquire().await?;
    let ids = visible_projects(&mut conn, who, None).await?;
    Ok(store::closed_request_authors(&mut conn, &ids).await?)
}

/// True when the principal could review requests in that project (for inbox counts).
pub fn may_review(p: Principal) -> bool {
    allows(p, Action::ReviewChange { own: false }).is_ok()
}

pub(super) fn proposal_of(item: &ItemRow) -> AppResult<Proposal> {
    serde_json::from_str(&item.payload).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "change #{} has an unreadable payload: {e}",
            item.id
        ))
    })
}

pub(super) async fn project_and_env(
    conn: &mut Conn,
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

/// A change request still under way on a flag, as badges show it ("pending change request #4
/// in production").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub id: i64,
    pub environment: String,
    pub state: State,
}

/// The pending requests of many flags of one project at once (the flag page, catalog rows),
/// by flag id: submitted requests not yet applied, rejected or cancelled, and the viewer's own
/// drafts. Flags with none are absent from the map. The caller has checked that the viewer may
/// see the project.
pub async fn pending_by_flag(
    conn: &mut Conn,
    project_id: i64,
    flag_ids: &[i64],
    viewer_id: i64,
) -> AppResult<HashMap<i64, Vec<Pending>>> {
    let mut out: HashMap<i64, Vec<Pending>> = HashMap::new();
    for row in store::pending_of_flags(conn, project_id, flag_ids, viewer_id).await? {
        out.entry(row.flag_id).or_default().push(Pending {
            id: row.request_id,
            environment: row.environment_key,
            state: State::parse(&row.state).unwrap_or(State::Failed),
        });
    }
    Ok(out)
}
