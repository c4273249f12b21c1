//! Telling webhooks of an event: one outbox row per interested webhook, written inside the
//! transaction of the event itself, so an event is announced exactly when it commits.

use super::payload::{AuditHead, Described, Event, Payload, RequestInfo};
use super::store;
use crate::audit::{self, Actor};
use crate::changes::store as changes;
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::Project;
use chrono::{DateTime, Utc};

/// Queues `payload` for every active webhook of the project listening to `event`. Call it inside
/// the transaction that makes the event happen.
pub async fn enqueue(
    conn: &mut Conn,
    project_id: i64,
    event: Event,
    payload: &Payload,
    now: DateTime<Utc>,
) -> AppResult<()> {
    // Read inside the event's transaction, so it is the head including the event's own entry.
    let head = audit::store::head(&mut *conn).await?;
    let payload = Payload {
        audit_head: Some(AuditHead {
            seq: head.seq,
            hash: head.hash,
        }),
        ..payload.clone()
    };
    let body = serde_json::to_string(&payload).map_err(anyhow::Error::from)?;
    store::enqueue(conn, project_id, event.as_str(), &body, &stamp(now)).await?;
    Ok(())
}

/// Queues `event` about change request `id` as it is now (inside the transaction).
pub async fn change_request(
    conn: &mut Conn,
    id: i64,
    event: Event,
    actor: &Actor,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(r) = changes::request_by_id(&mut *conn, id).await? else {
        return Ok(());
    };
    let approvers = changes::approvals_of(&mut *conn, id)
        .await?
        .into_iter()
        .map(|a| a.user_label)
        .collect();
    let payload = Payload {
        event: event.as_str().to_string(),
        project: r.project_key.clone(),
        changes: described(&mut *conn, r.project_id, id).await?,
        change_request: Some(RequestInfo {
            id,
            title: r.title.clone(),
            state: r.state.clone(),
            environment: r.environment_key.clone(),
            author: r.author_label.clone(),
            approvers,
        }),
        flag: None,
        environment: Some(r.environment_key),
        reason: reason
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        actor: Some(actor.label.clone()),
        url: Some(crate::href::change_request(id)),
        at: stamp(now),
        audit_head: None,
        report: None,
        summary: None,
    };
    enqueue(conn, r.project_id, event, &payload, now).await
}

/// The request's changes in words, as reviewers read them on its page.
async fn described(conn: &mut Conn, project_id: i64, id: i64) -> AppResult<Vec<Described>> {
    let names = crate::changes::service::names_in(&mut *conn, project_id).await?;
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
    Ok(changes::items_of(&mut *conn, id)
        .await?
        .into_iter()
        .map(|i| {
            let summary = serde_json::from_str::<crate::changes::Proposal>(&i.payload)
                .map(|p| p.summary(i.flag_key.as_deref()))
                .unwrap_or_else(|_| i.kind.clone());
            Described {
                lines: audit::describe::item(
                    &i.kind,
                    &parse(&i.before_json),
                    &parse(&i.after_json),
                    &names,
                ),
                flag: i.flag_key,
                summary,
            }
        })
        .collect())
}

/// Queues `flag.killed` for an emergency kill (inside the transaction).
pub async fn killed(
    conn: &mut Conn,
    project: &Project,
    flag: &str,
    environment: &str,
    actor: &Actor,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let payload = Payload {
        event: Event::Killed.as_str().to_string(),
        project: project.key.clone(),
        change_request: None,
        changes: Vec::new(),
        flag: Some(flag.to_string()),
        environment: Some(environment.to_string()),
        reason: Some(reason.to_string()),
        actor: Some(actor.label.clone()),
        url: Some(crate::href::flag(&project.key, flag)),
        at: stamp(now),
        audit_head: None,
        report: None,
        summary: None,
    };
    enqueue(conn, project.id, Event::Killed, &payload, now).await
}

/// Queues `release-plan.rolled-back` for an automatic rollback, with its evidence in words.
pub async fn rolled_back(
    conn: &mut Conn,
    project: &Project,
    flag: &str,
    environment: &str,
    actor: &Actor,
    evidence: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let payload = Payload {
        event: Event::RolledBack.as_str().to_string(),
        project: project.key.clone(),
        change_request: None,
        changes: Vec::new(),
        flag: Some(flag.to_string()),
        environment: Some(environment.to_string()),
        reason: Some(evidence.to_string()),
        actor: Some(actor.label.clone()),
        url: Some(crate::href::release_plan(&project.key, flag, environment)),
        at: stamp(now),
        audit_head: None,
        report: None,
        summary: None,
    };
    enqueue(conn, project.id, Event::RolledBack, &payload, now).await
}

/// Queues `flag.stale` for a flag that turned stale, with its reasons in words.
pub async fn stale(
    conn: &mut Conn,
    project: &Project,
    flag: &str,
    reasons: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let payload = Payload {
        event: Event::Stale.as_str().to_string(),
        project: project.key.clone(),
        change_request: None,
        changes: Vec::new(),
        flag: Some(flag.to_string()),
        environment: None,
        reason: Some(reasons.to_string()),
        actor: None,
        url: Some(crate::href::flag(&project.key, flag)),
        at: stamp(now),
        audit_head: None,
        report: None,
        summary: None,
    };
    enqueue(conn, project.id, Event::Stale, &payload, now).await
}

/// Queues `report.stale` for a kept weekly report (inside the transaction that keeps it): the
/// report's JSON for generic bodies, `headline` and a line per owner for Slack.
pub async fn report(
    conn: &mut Conn,
    project: &Project,
    report: serde_json::Value,
    headline: String,
    summary: Vec<String>,
    url: String,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let payload = Payload {
        event: Event::ReportStale.as_str().to_string(),
        project: project.key.clone(),
        change_request: None,
        flag: None,
        environment: None,
        reason: Some(headline),
        actor: None,
        url: Some(url),
        at: stamp(now),
        audit_head: None,
        report: Some(report),
        summary: Some(summary),
        changes: Vec::new(),
    };
    enqueue(conn, project.id, Event::ReportStale, &payload, now).await
}
