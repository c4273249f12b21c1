//! A project's webhooks, under its settings: the list with each one's latest delivery, adding
//! one (its signing secret shown once, on the answer page), deleting, and a webhook's recent
//! deliveries. Owners and admins, as in `api/webhooks.rs`: the policy decides (ManageSettings).

use super::project_href;
use crate::authz::Action;
use crate::clock::parse_stamp;
use crate::db::begin_write;
use crate::notify::{self, DeliveryView, Event, WebhookDraft, WebhookView};
use crate::state::AppState;
use crate::web::{render, render_secret_form, Errors, Layout, PageResult, ProjectCtx, WebForm};
use askama::Template;
use axum::extract::Path;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    let base = "/projects/{project}/settings/webhooks";
    Router::new()
        .route(base, get(list_webhooks).post(create_webhook))
        .route(&format!("{base}/{{id}}"), get(show_webhook))
        .route(&format!("{base}/{{id}}/delete"), post(delete_webhook))
}

fn webhooks_href(project: &str) -> String {
    project_href(project, "/settings/webhooks")
}

/// Checkboxes are `event:<name>`: repeated keys do not fit a form struct.
#[derive(Deserialize, Default)]
struct WebhookForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    format: String,
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

impl WebhookForm {
    fn events(&self) -> Vec<String> {
        let mut events: Vec<String> = self
            .rest
            .keys()
            .filter_map(|k| k.strip_prefix("event:"))
            .map(str::to_string)
            .collect();
        events.sort();
        events
    }
}

/// A webhook as a table row: plain strings for the template.
struct HookRow {
    id: i64,
    url: String,
    kind: &'static str,
    events: String,
    signed: bool,
    /// Status of the latest delivery and when it was made; none before the first event.
    last: Option<(&'static str, String)>,
}

impl HookRow {
    fn new(h: WebhookView, last: Option<DeliveryView>) -> HookRow {
        HookRow {
            id: h.id,
            kind: if h.format == "slack" {
                "Slack"
            } else {
                "generic"
            },
            events: if h.events.is_empty() {
                "all events".into()
            } else {
                h.events.join(", ")
            },
            signed: h.signed,
            url: h.url,
            last: last.map(|d| (d.status, short(&d.created_at))),
        }
    }
}

/// The badge of a delivery status (templates).
pub(super) fn badge_class(status: &str) -> &'static str {
    match status {
        "delivered" => "badge-ok",
        "pending" => "badge-warn",
        _ => "badge-danger",
    }
}

fn short(stamp: &str) -> String {
    parse_stamp(stamp)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| stamp.to_string())
}

/// A webhook just made: its secret, shown once.
struct Created {
    url: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "projects/webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    key: String,
    hooks: Vec<HookRow>,
    /// (event name, checked) for the form.
    events: Vec<(&'static str, bool)>,
    form: WebhookForm,
    errors: Errors,
    created: Option<Created>,
}

async fn page(
    ctx: &ProjectCtx,
    form: WebhookForm,
    errors: Errors,
    created: Option<Created>,
) -> PageResult {
    let access = &ctx.who;
    let mut conn = ctx.app.db.acquire().await?;
    let hooks = notify::list_with_last(&mut conn, &access.project)
        .await?
        .into_iter()
        .map(|(h, last)| HookRow::new(h, last))
        .collect();
    let chosen = form.events();
    let events = Event::ALL
        .iter()
        .map(|e| (e.as_str(), chosen.iter().any(|c| c == e.as_str())))
        .collect();
    let title = "Webhooks";
    let p = WebhooksPage {
        layout: Layout::new(&ctx.session, Some(&access.identity), title, "projects").await,
        key: access.project.key.clone(),
        hooks,
        events,
        form,
        errors,
        created,
    };
    render_secret_form(&p, &p.errors)
}

async fn list_webhooks(ctx: ProjectCtx) -> PageResult {
    ctx.require(Action::ManageSettings)?;
    let form = WebhookForm {
        format: "generic".into(),
        ..Default::default()
    };
    page(&ctx, form, Errors::default(), None).await
}

async fn create_webhook(ctx: ProjectCtx, WebForm(form): WebForm<WebhookForm>) -> PageResult {
    ctx.require(Action::ManageSettings)?;
    let events = form.events();
    let (actor, project, now) = (ctx.who.actor(), &ctx.who.project, ctx.app.now());
    // Vetted before the transaction: it may wait for DNS.
    let made = match notify::target::vet(&form.url, &ctx.app.settings.webhook_allow).await {
        Ok(target) => {
            let draft = WebhookDraft {
                target: &target,
                format: &form.format,
                events: &events,
            };
            let mut tx = begin_write(&ctx.app.db).await?;
            let made = notify::create(&mut tx, actor, project, &draft, now).await;
            ctx.app.writes.commit_if_ok(tx, made).await
        }
        Err(e) => Err(e),
    };
    match Errors::check(made)? {
        Ok(made) => {
            let created = Created {
                url: made.webhook.url,
                secret: made.secret,
            };
            let fresh = WebhookForm {
                format: "generic".into(),
                ..Default::default()
            };
            page(&ctx, fresh, Errors::default(), Some(created)).await
        }
        Err(errors) => page(&ctx, form, errors, None).await,
    }
}

async fn delete_webhook(ctx: ProjectCtx, Path((_, id)): Path<(String, i64)>) -> PageResult {
    ctx.require(Action::ManageSettings)?;
    let (actor, project, now) = (ctx.who.actor(), &ctx.who.project, ctx.app.now());
    let mut tx = begin_write(&ctx.app.db).await?;
    let hook = notify::delete(&mut tx, actor, project, id, now).await?;
    ctx.app.writes.commit(tx).await?;
    let msg = format!("Webhook to {} deleted; it is told nothing more.", hook.url);
    ctx.done(msg, &webhooks_href(&project.key)).await
}

/// One delivery as a table row.
struct DeliveryRow {
    id: i64,
    event: String,
    status: &'static str,
    attempts: i64,
    created_at: String,
    /// When delivered, or when the next attempt is due.
    when: String,
    last_error: String,
}

#[derive(Template)]
#[template(path = "projects/webhook.html")]
struct WebhookPage {
    layout: Layout,
    key: String,
    hook: HookRow,
    deliveries: Vec<DeliveryRow>,
}

async fn show_webhook(ctx: ProjectCtx, Path((_, id)): Path<(String, i64)>) -> PageResult {
    ctx.require(Action::ManageSettings)?;
    let access = &ctx.who;
    let mut conn = ctx.app.db.acquire().await?;
    let hook = notify::get(&mut conn, &access.project, id).await?;
    let deliveries: Vec<DeliveryRow> = notify::deliveries(&mut conn, &access.project, id)
        .await?
        .into_iter()
        .map(|d| DeliveryRow {
            id: d.id,
            event: d.event,
            status: d.status,
            attempts: d.attempts,
            created_at: short(&d.created_at),
            when: match (&d.delivered_at, &d.next_attempt_at) {
                (Some(t), _) => format!("delivered {}", short(t)),
                (None, Some(t)) => format!("next attempt {}", short(t)),
                (None, None) => "given up".into(),
            },
            last_error: d.last_error.unwrap_or_default(),
        })
        .collect();
    let title = format!("Webhook #{id}");
    render(&WebhookPage {
        layout: Layout::new(&ctx.session, Some(&access.identity), title, "projects").await,
        key: access.project.key.clone(),
        hook: HookRow::new(hook, None),
        deliveries,
    })
}
