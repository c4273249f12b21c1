//! A project's settings: name, description, flag naming, expected lifetimes per flag type, the
//! lifecycle thresholds (`thresholds`), and the repository URL template of code references.

mod thresholds;

use super::project_href;
use crate::audit::{self, NewEntry};
use crate::authz::{Action, ProjectAccess};
use crate::catalog::FlagType;
use crate::coderefs;
use crate::db::begin_write;
use crate::error::{AppError, FieldError};
use crate::lifecycle::{marks, stale::Thresholds, store as lifecycle_store};
use crate::projects::{service, store};
use crate::state::AppState;
use crate::web::{render, render_with, Errors, Layout, PageResult, ProjectCtx, WebForm};
use askama::Template;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/projects/{project}/settings",
        get(settings_page).post(save_settings),
    )
}

/// One flag type's expected lifetime as the settings form shows it.
struct LifetimeView {
    flag_type: &'static str,
    default_days: String,
    /// The override in days, "" for the type's default.
    days: String,
    permanent: bool,
}

#[derive(Template)]
#[template(path = "projects/settings.html")]
struct SettingsPage {
    layout: Layout,
    key: String,
    name: String,
    description: String,
    key_pattern: String,
    key_example: String,
    lifetimes: Vec<LifetimeView>,
    thresholds: Vec<thresholds::ThresholdView>,
    /// Links from the flag page's Code tab (`coderefs::link`).
    code_url_template: String,
    errors: Errors,
}

async fn settings_page(ctx: ProjectCtx) -> PageResult {
    ctx.require(Action::ManageSettings)?;
    let access = &ctx.who;
    let mut conn = ctx.app.db.acquire().await?;
    let overrides = store::lifetimes(&mut conn, access.project.id).await?;
    let p = &access.project;
    let lifetimes = FlagType::ALL
        .iter()
        .map(|t| {
            let o = overrides.iter().find(|(k, _)| k == t.as_str());
            lifetime_view(
                *t,
                o.map(|(_, d)| d.map(|d| d.to_string()).unwrap_or_default()),
                o.is_some_and(|(_, d)| d.is_none()),
            )
        })
        .collect();
    render(&SettingsPage {
        layout: Layout::new(&ctx.session, Some(&access.identity), "Settings", "projects").await,
        key: p.key.clone(),
        name: p.name.clone(),
        description: p.description.clone(),
        key_pattern: p.key_pattern.clone().unwrap_or_default(),
        key_example: p.key_example.clone().unwrap_or_default(),
        lifetimes,
        thresholds: thresholds::views(&lifecycle_store::thresholds(&mut conn, p.id).await?),
        code_url_template: coderefs::store::url_template(&mut conn, p.id)
            .await?
            .unwrap_or_default(),
        errors: Errors::default(),
    })
}

fn lifetime_view(t: FlagType, days: Option<String>, permanent: bool) -> LifetimeView {
    LifetimeView {
        flag_type: t.as_str(),
        default_days: t
            .default_lifetime_days()
            .map(|d| format!("{d} days"))
            .unwrap_or_else(|| "permanent".into()),
        days: if permanent {
            String::new()
        } else {
            days.unwrap_or_default()
        },
        permanent,
    }
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    key_pattern: String,
    #[serde(default)]
    key_example: String,
    /// None when the form did not carry the field: then the template stays as it is.
    #[serde(default)]
    code_url_template: Option<String>,
    #[serde(flatten)]
    lifetimes: std::collections::HashMap<String, String>,
}

/// Lifetime fields are `days_<type>` (empty = the type's default) and `permanent_<type>`.
type LifetimeChoice = (FlagType, Option<Option<i64>>);

fn parse_lifetimes(form: &SettingsForm) -> Result<Vec<LifetimeChoice>, FieldError> {
    FlagType::ALL
        .iter()
        .map(|t| {
            let days = form.lifetimes.get(&format!("days_{}", t.as_str()));
            let days = days.map(|d| d.trim()).unwrap_or("");
            if form
                .lifetimes
                .contains_key(&format!("permanent_{}", t.as_str()))
            {
                return Ok((*t, Some(None)));
            }
            if days.is_empty() {
                return Ok((*t, None));
            }
            match days.parse::<i64>() {
                Ok(d) if (1..=3650).contains(&d) => Ok((*t, Some(Some(d)))),
                _ => Err(FieldError {
                    field: "lifetimes",
                    message: format!("{}: enter 1 to 3650 days, or leave empty", t.as_str()),
                }),
            }
        })
        .collect()
}

async fn save_settings(ctx: ProjectCtx, WebForm(form): WebForm<SettingsForm>) -> PageResult {
    ctx.require(Action::ManageSettings)?;
    let current = {
        let mut conn = ctx.app.db.acquire().await?;
        lifecycle_store::thresholds(&mut conn, ctx.who.project.id).await?
    };
    let result = match (
        parse_lifetimes(&form),
        thresholds::parse(&form.lifetimes, &current),
    ) {
        (Ok(choices), Ok(wanted)) => save_all(&ctx.app, &ctx.who, &form, &choices, wanted).await,
        (lifetimes, wanted) => {
            let mut bad: Vec<FieldError> = lifetimes.err().into_iter().collect();
            bad.extend(wanted.err().unwrap_or_default());
            Err(AppError::Invalid(bad))
        }
    };
    if let Err(errors) = Errors::check(result)? {
        return settings_again(&ctx, form, errors).await;
    }
    let to = project_href(&ctx.who.project.key, "/settings");
    ctx.done("Settings saved.", &to).await
}

async fn save_all(
    app: &AppState,
    access: &ProjectAccess,
    form: &SettingsForm,
    choices: &[LifetimeChoice],
    wanted: Thresholds,
) -> Result<(), AppError> {
    let mut tx = begin_write(&app.db).await?;
    let (actor, p, now) = (access.actor(), &access.project, app.now());
    let settings = service::Settings {
        name: &form.name,
        description: &form.description,
        key_pattern: &form.key_pattern,
        key_example: &form.key_example,
    };
    // Saving the lifetimes alone should not log an unchanged project.
    if settings_changed(p, &settings) {
        service::update_settings(&mut tx, actor, p, settings, now).await?;
    }
    let before = store::lifetimes(&mut tx, p.id).await?;
    for (t, choice) in choices {
        match choice {
            Some(days) => store::set_lifetime(&mut tx, p.id, t.as_str(), *days).await?,
            None => store::clear_lifetime(&mut tx, p.id, t.as_str()).await?,
        }
    }
    if let Some(template) = &form.code_url_template {
        coderefs::set_url_template(&mut tx, actor, p, template, now).await?;
    }
    let after = store::lifetimes(&mut tx, p.id).await?;
    if sorted(before.clone()) != sorted(after.clone()) {
        let entry = NewEntry::new(
            audit::Action::ProjectLifetimesSet,
            format!("project {}", p.key),
        )
        .project(&p.key)
        .before(lifetimes_json(before))
        .after(lifetimes_json(after));
        audit::append(&mut tx, actor, entry, now).await?;
    }
    if lifecycle_store::thresholds(&mut tx, p.id).await? != wanted {
        marks::set_thresholds(&mut tx, actor, p, wanted, now).await?;
    }
    app.writes.commit(tx).await?;
    Ok(())
}

fn settings_changed(p: &crate::projects::Project, s: &service::Settings<'_>) -> bool {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    p.name != s.name.trim()
        || p.description != s.description.trim()
        || opt(&p.key_pattern) != s.key_pattern.trim()
        || opt(&p.key_example) != s.key_example.trim()
}

fn sorted(mut v: Vec<(String, Option<i64>)>) -> Vec<(String, Option<i64>)> {
    v.sort();
    v
}

fn lifetimes_json(v: Vec<(String, Option<i64>)>) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = v
        .into_iter()
        .map(|(t, d)| {
            (
                t,
                d.map_or(serde_json::Value::from("permanent"), Into::into),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

async fn settings_again(ctx: &ProjectCtx, form: SettingsForm, errors: Errors) -> PageResult {
    let access = &ctx.who;
    let current = {
        let mut conn = ctx.app.db.acquire().await?;
        lifecycle_store::thresholds(&mut conn, access.project.id).await?
    };
    let lifetimes = FlagType::ALL
        .iter()
        .map(|t| {
            let days = form.lifetimes.get(&format!("days_{}", t.as_str())).cloned();
            let permanent = form
                .lifetimes
                .contains_key(&format!("permanent_{}", t.as_str()));
            lifetime_view(*t, days, permanent)
        })
        .collect();
    let page = SettingsPage {
        layout: Layout::new(&ctx.session, Some(&access.identity), "Settings", "projects").await,
        key: access.project.key.clone(),
        name: form.name,
        description: form.description,
        key_pattern: form.key_pattern,
        key_example: form.key_example,
        lifetimes,
        thresholds: thresholds::posted_views(&form.lifetimes, &current),
        code_url_template: form.code_url_template.unwrap_or_default(),
        errors,
    };
    render_with(&page, StatusCode::UNPROCESSABLE_ENTITY)
}
