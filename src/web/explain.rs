//! `/projects/{p}/explain`: type a context, pick an environment, and see every flag's answer as
//! the feed gives it and why (`evaluation::explain`). A GET form, so a result is a link to share.

use crate::authz::Action;
use crate::error::FieldError;
use crate::evaluation::{frontend_context_from_body, FlagExplanation, RequestDefaults};
use crate::projects::store as projects_store;
use crate::state::AppState;
use crate::targeting::store as targeting_store;
use crate::web::{render_with, Errors, Layout, PageResult, ProjectCtx};
use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

mod view;

use view::FlagView;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/projects/{project}/explain", get(explain_page))
}

/// What the person typed, kept as typed.
#[derive(Debug, Default, Deserialize)]
struct ExplainForm {
    environment: Option<String>,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    session_id: String,
    #[serde(default)]
    remote_address: String,
    #[serde(default)]
    properties: String,
    /// Flag keys to narrow to, separated by spaces or commas; empty for every flag.
    #[serde(default)]
    flags: String,
}

struct EnvOption {
    key: String,
    name: String,
}

#[derive(Template)]
#[template(path = "explain/page.html")]
struct ExplainPage {
    layout: Layout,
    key: String,
    environments: Vec<EnvOption>,
    environment: String,
    user_id: String,
    session_id: String,
    remote_address: String,
    properties: String,
    flags: String,
    errors: Errors,
    /// None until a context is submitted without errors.
    results: Option<Vec<FlagView>>,
    on_count: usize,
    /// Keys typed under "Only these flags" that the environment does not serve.
    unknown: Vec<String>,
    can_manage: bool,
}

async fn explain_page(ctx: ProjectCtx, Query(form): Query<ExplainForm>) -> PageResult {
    ctx.require(Action::ViewProject)?;
    let access = &ctx.who;
    let mut conn = ctx.app.db.acquire().await?;
    let envs = projects_store::environments(&mut conn, access.project.id).await?;
    let segment_names: HashMap<i32, String> =
        targeting_store::segment_names_of(&mut conn, access.project.id)
            .await?
            .into_iter()
            .map(|(id, name)| (id as i32, name))
            .collect();
    drop(conn);
    let submitted = form.environment.is_some();
    let chosen = form
        .environment
        .clone()
        .or_else(|| envs.first().map(|e| e.key.clone()))
        .unwrap_or_default();
    let mut errors = Vec::new();
    let env = envs.iter().find(|e| e.key == chosen);
    if submitted && env.is_none() {
        errors.push(field(
            "environment",
            format!("there is no environment {chosen:?}"),
        ));
    }
    let context = context_of(&form, &mut errors);
    let mut results = None;
    let mut unknown: Vec<String> = Vec::new();
    if let (true, Some(env), true) = (submitted, env, errors.is_empty()) {
        let body = serde_json::to_vec(&serde_json::json!({ "context": context }))
            .map_err(|e| crate::error::AppError::Internal(e.into()))?;
        let ctx_engine = frontend_context_from_body(&body, &RequestDefaults::default())
            .map_err(|e| crate::error::AppError::invalid("context", e.to_string()))?;
        let only: Vec<String> = form
            .flags
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
        unknown = only
            .iter()
            .filter(|k| not_served(&ctx.app, env.id, k))
            .cloned()
            .collect();
        let snap = ctx.app.feed.snapshots.get(env.id);
        let snap = snap.filter(|s| s.project_id == access.project.id);
        let snap = snap.ok_or(crate::error::AppError::Unavailable)?;
        // Compiling every part of every flag takes a while on large projects: off the runtime.
        let explained: Vec<FlagExplanation> = tokio::task::spawn_blocking(move || {
            let only = (!only.is_empty()).then_some(only.as_slice());
            snap.compiled.explain(&ctx_engine, only)
        })
        .await
        .map_err(|e| crate::error::AppError::Internal(e.into()))?;
        results = Some(
            explained
                .iter()
                .map(|e| FlagView::of(e, &segment_names))
                .collect::<Vec<_>>(),
        );
    }
    let on_count = results.iter().flatten().filter(|f| f.enabled).count();
    let page = ExplainPage {
        layout: Layout::new(&ctx.session, Some(&access.identity), "Explain", "projects").await,
        key: access.project.key.clone(),
        environments: envs
            .iter()
            .map(|e| EnvOption {
                key: e.key.clone(),
                name: e.name.clone(),
            })
            .collect(),
        environment: chosen,
        user_id: form.user_id,
        session_id: form.session_id,
        remote_address: form.remote_address,
        properties: form.properties,
        flags: form.flags,
        errors: Errors(errors),
        results,
        on_count,
        unknown,
        can_manage: access.can(Action::ManageMembers),
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with(&page, status)
}

/// True when the environment's feed does not serve `flag`.
fn not_served(app: &AppState, environment_id: i64, flag: &str) -> bool {
    app.feed
        .snapshots
        .get(environment_id)
        .is_some_and(|s| s.compiled.value_type(flag).is_none())
}

fn field(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// The Unleash context the form describes; problems go into `errors` by field.
fn context_of(form: &ExplainForm, errors: &mut Vec<FieldError>) -> Value {
    let mut ctx = Map::new();
    let mut put = |k: &str, v: &str| {
        if !v.trim().is_empty() {
            ctx.insert(k.into(), Value::String(v.trim().into()));
        }
    };
    put("userId", &form.user_id);
    put("sessionId", &form.session_id);
    put("remoteAddress", &form.remote_address);
    let address = form.remote_address.trim();
    if !address.is_empty() && address.parse::<std::net::IpAddr>().is_err() {
        errors.push(field(
            "remote_address",
            format!("{address:?} is not an IP address (such as 203.0.113.7 or 2001:db8::1)"),
        ));
    }
    let mut properties = Map::new();
    for (n, line) in form.properties.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                properties.insert(k.trim().into(), Value::String(v.trim().into()));
            }
            _ => {
                errors.push(field(
                    "properties",
                    format!("line {}: write one property per line as name=value", n + 1),
                ));
                break;
            }
        }
    }
    if !properties.is_empty() {
        ctx.insert("properties".into(), Value::Object(properties));
    }
    Value::Object(ctx)
}
