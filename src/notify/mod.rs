//! Webhooks: per-project HTTP endpoints told when a change request is submitted, approved,
//! rejected, applied or fails, when a flag is killed in an emergency or turns stale, when the
//! weekly cleanup report is kept, and when a release plan is rolled back automatically.
//!
//! Telling is two steps. [`enqueue`] writes one outbox row per interested webhook inside the
//! transaction of the event itself, so an event is announced exactly when it commits. The
//! [`delivery`] task then sends due rows in the background with retries and backoff; nothing
//! the workflow does waits for an endpoint.
//!
//! `payload` is the pure event shape and its generic/Slack renderings; `sign` the HMAC signature
//! every delivery carries; `target` which addresses a webhook may reach; `store` the SQL.

pub mod delivery;
pub mod payload;
pub mod sign;
pub mod store;
pub mod target;

pub use payload::{AuditHead, Described, Event, Format, Payload, RequestInfo};
pub use store::WebhookView;
pub use target::{AllowList, Target};

use crate::audit::{self, Actor, NewEntry};
use crate::changes::store as changes;
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::Project;
use chrono::{DateTime, Utc};
use serde_json::json;

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
    let names = audit::describe::Names::with_segments(
        crate::targeting::store::segment_names_of(&mut *conn, project_id).await?,
    );
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

// ---------- Managing webhooks ----------

pub struct WebhookDraft<'a> {
    /// Checked by [`target::vet`] before the transaction begins (it may wait for DNS).
    pub target: &'a Target,
    pub format: &'a str,
    /// Event names; every event when empty.
    pub events: &'a [String],
}

fn check_events(events: &[String]) -> AppResult<String> {
    let mut names: Vec<&'static str> = Vec::new();
    for e in events {
        let event = Event::parse(e).ok_or_else(|| {
            AppError::invalid(
                "events",
                format!(
                    "{e:?} is not an event; choose among {}",
                    Event::ALL.map(Event::as_str).join(", ")
                ),
            )
        })?;
        if !names.contains(&event.as_str()) {
            names.push(event.as_str());
        }
    }
    Ok(names.join(","))
}

/// A webhook just made, with its signing secret: the one time anybody is shown it.
pub struct Created {
    pub webhook: WebhookView,
    pub secret: String,
}

pub async fn create(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    draft: &WebhookDraft<'_>,
    now: DateTime<Utc>,
) -> AppResult<Created> {
    let url = draft.target.as_str();
    let format = Format::parse(draft.format)
        .ok_or_else(|| AppError::invalid("format", "choose generic or slack"))?;
    let events = check_events(draft.events)?;
    let secret = sign::new_secret();
    let new = store::NewWebhook {
        project_id: project.id,
        url,
        format: format.as_str(),
        events: &events,
        created_by: &actor.label,
        secret: &secret,
    };
    let id = store::insert(&mut *conn, &new, &stamp(now)).await?;
    let view: WebhookView = store::get(&mut *conn, project.id, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("webhook #{id} vanished")))?
        .into();
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::WebhookCreated,
            format!("webhook #{id} of {}", project.key),
        )
        .project(&project.key)
        .after(
            json!({ "webhook": id, "url": view.url, "format": view.format, "events": view.events }),
        ),
        now,
    )
    .await?;
    Ok(Created {
        webhook: view,
        secret,
    })
}

pub async fn delete(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<WebhookView> {
    let view: WebhookView = get(&mut *conn, project, id).await?;
    store::delete(&mut *conn, project.id, id).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::WebhookDeleted,
            format!("webhook #{id} of {}", project.key),
        )
        .project(&project.key)
        .before(
            json!({ "webhook": id, "url": view.url, "format": view.format, "events": view.events }),
        ),
        now,
    )
    .await?;
    Ok(view)
}

pub async fn get(conn: &mut Conn, project: &Project, id: i64) -> AppResult<WebhookView> {
    store::get(conn, project.id, id)
        .await?
        .map(WebhookView::from)
        .ok_or_else(|| AppError::not_found(format!("there is no webhook #{id} in {}", project.key)))
}

pub async fn list(conn: &mut Conn, project: &Project) -> AppResult<Vec<WebhookView>> {
    Ok(store::list(conn, project.id)
        .await?
        .into_iter()
        .map(WebhookView::from)
        .collect())
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: i64,
    pub event: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: &'static str,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub payload: serde_json::Value,
}

impl From<store::DeliveryRow> for DeliveryView {
    fn from(d: store::DeliveryRow) -> Self {
        DeliveryView {
            id: d.id,
            event: d.event,
            status: match (&d.delivered_at, &d.next_attempt_at) {
                (Some(_), _) => "delivered",
                (None, Some(_)) => "pending",
                (None, None) => "failed",
            },
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            last_error: d.last_error,
            created_at: d.created_at,
            payload: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::Null),
        }
    }
}

pub async fn deliveries(
    conn: &mut Conn,
    project: &Project,
    id: i64,
) -> AppResult<Vec<DeliveryView>> {
    get(&mut *conn, project, id).await?;
    Ok(store::deliveries(conn, id, 100)
        .await?
        .into_iter()
        .map(DeliveryView::from)
        .collect())
}

/// Every webhook of the project with its latest delivery, if any (the settings page's list).
pub async fn list_with_last(
    conn: &mut Conn,
    project: &Project,
) -> AppResult<Vec<(WebhookView, Option<DeliveryView>)>> {
    let mut out = Vec::new();
    for hook in list(&mut *conn, project).await? {
        let last = store::deliveries(&mut *conn, hook.id, 1).await?.pop();
        out.push((hook, last.map(DeliveryView::from)));
    }
    Ok(out)
}
