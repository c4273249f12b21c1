//! One's own account: who they are, and changing their password (which ends their other
//! sessions but keeps this one).

use super::{render, see_other, Errors, Layout, PageResult, WebForm};
use crate::accounts::service;
use crate::app::AppState;
use crate::auth::extract::{CurrentUser, Identity};
use crate::auth::{password, session};
use crate::db::begin_write;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(account_page))
        .route("/account/password", post(change_password))
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    email: String,
    name: String,
    is_admin: bool,
    created_at: String,
    projects: Vec<String>,
    errors: Errors,
}

async fn page(
    app: &AppState,
    session: &Session,
    identity: &Identity,
    errors: Errors,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let projects = crate::projects::store::project_keys_of(&mut conn, identity.user.id).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let u = &identity.user;
    let mut res = render(&AccountPage {
        layout: Layout::new(session, Some(identity), "Your account", "account").await,
        email: u.email.clone(),
        name: u.name.clone(),
        is_admin: u.is_admin,
        created_at: u.created_at.get(..10).unwrap_or(&u.created_at).to_string(),
        projects,
        errors,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

async fn account_page(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
) -> PageResult {
    page(&app, &session, &identity, Errors::default()).await
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

async fn change_password(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    WebForm(form): WebForm<PasswordForm>,
) -> PageResult {
    let errors = check(&identity, &form).await;
    if !errors.is_empty() {
        return page(&app, &session, &identity, errors).await;
    }
    let hash = password::hash_blocking(form.new).await?;
    let mut tx = begin_write(&app.db).await?;
    let version =
        service::set_password(&mut tx, &identity.actor, identity.user.id, &hash, app.now()).await?;
    tx.commit().await?;
    session::refresh_version(&session, version).await;
    super::Flash::set(
        &session,
        "success",
        "Your password has been changed. Your other sessions have been signed out.",
    )
    .await;
    Ok(see_other("/account"))
}

/// The current password must be right, the new one must follow the policy and be typed twice.
async fn check(identity: &Identity, form: &PasswordForm) -> Errors {
    let stored = identity.user.password_hash.clone();
    if !password::verify_blocking(form.current.clone(), stored).await {
        return Errors::one("current", "this is not your current password");
    }
    if let Err(m) = password::check_policy(&form.new, &identity.user.email) {
        return Errors::one("new", m);
    }
    if form.new != form.confirm {
        return Errors::one("confirm", "the two new passwords differ");
    }
    if form.new == form.current {
        return Errors::one("new", "choose a password different from the current one");
    }
    Errors::default()
}
