//! Managing a project's webhooks (creating, deleting, listing) and reading their deliveries.

use super::payload::{Event, Format};
use super::sign;
use super::store::{self, WebhookView};
use super::target::Target;
use crate::audit::{self, Actor, NewEntry};
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::Project;
use chrono::{DateTime, Utc};
use serde_json::json;

pub struct WebhookDraft<'a> {
    /// Checked by [`super::target::vet`] before the transaction begins (it may wait for DNS).
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
