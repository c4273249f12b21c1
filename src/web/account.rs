//! One's own account: who they are, and changing their password (which ends their other
//! sessions but keeps this one).

use super::{render_form, render_with, Errors, Layout, PageResult, UserCtx, WebForm};
use crate::accounts::service;
use crate::auth::{password, session};
use crate::authz::Identity;
use crate::db::begin_write;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<crate::state::AppState> {
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

async fn page(ctx: &UserCtx, errors: Errors) -> PageResult {
    let page = account(ctx, errors).await?;
    render_form(&page, &page.errors)
}

async fn account(ctx: &UserCtx, errors: Errors) -> PageResult<AccountPage> {
    let identity = ctx.identity();
    // The connection goes back before the layout takes one: holding it there starved the pool
    // when many requests came at once.
    let projects = {
        let mut conn = ctx.app.db.acquire().await?;
        crate::projects::store::project_keys_of(&mut conn, identity.user.id).await?
    };
    let u = &identity.user;
    Ok(AccountPage {
        layout: Layout::new(&ctx.session, Some(identity), "Your account", "account").await,
        email: u.email.clone(),
        name: u.name.clone(),
        is_admin: u.is_admin,
        created_at: u.created_at.get(..10).unwrap_or(&u.created_at).to_string(),
        projects,
        errors,
    })
}

async fn account_page(ctx: UserCtx) -> PageResult {
    page(&ctx, Errors::default()).await
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// Wrong current passwords are throttled per user (`throttle::PASSWORD_CHANGE_LIMIT` per
/// window): each attempt takes its slot before the password is checked, so parallel requests
/// cannot check more; past that, 429 with Retry-After and the form.
async fn change_password(ctx: UserCtx, WebForm(form): WebForm<PasswordForm>) -> PageResult {
    let throttle = &ctx.app.throttle.password_change;
    let key = ctx.identity().user.id.to_string();
    let slot = match throttle.reserve(&key, ctx.app.now()).await? {
        Ok(slot) => slot,
        Err(wait) => return too_many_attempts(&ctx, wait).await,
    };
    let errors = check(ctx.identity(), &form).await;
    if errors.get("current").is_some() {
        tracing::warn!(target: "security", user = %ctx.identity().user.email, "wrong current password");
    } else {
        // The right current password is not a guess.
        throttle.release(slot).await?;
    }
    if !errors.is_empty() {
        return page(&ctx, errors).await;
    }
    throttle.clear(&key).await?;
    store_password(&ctx, ctx.identity().user.id, form.new).await?;
    let msg = "Your password has been changed. Your other sessions have been signed out.";
    ctx.done(msg, "/account").await
}

async fn too_many_attempts(ctx: &UserCtx, wait: u64) -> PageResult {
    tracing::warn!(target: "security", user = %ctx.identity().user.email, "password change throttled");
    let minutes = wait.div_ceil(60);
    let message = format!(
        "too many wrong passwords; try again in {minutes} minute{}",
        if minutes == 1 { "" } else { "s" }
    );
    let page = account(ctx, Errors::one("current", message)).await?;
    let mut res = render_with(&page, StatusCode::TOO_MANY_REQUESTS)?;
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    Ok(res)
}

/// Stores a new password, which ends the user's sessions; the one asking stays signed in when it
/// is their own (the admin pages reset others' passwords with it too).
pub(super) async fn store_password(ctx: &UserCtx, user_id: i64, new: String) -> PageResult<()> {
    let hash = password::hash_blocking(new).await?;
    let mut tx = begin_write(&ctx.app.db).await?;
    let (actor, now) = (&ctx.identity().actor, ctx.app.now());
    let version = service::set_password(&mut tx, actor, user_id, &hash, now).await?;
    ctx.app.writes.commit(tx).await?;
    if user_id == ctx.identity().user.id {
        session::refresh_version(&ctx.session, version).await;
    }
    Ok(())
}

/// The current password must be right, the new one must follow the policy and be typed twice.
async fn check(identity: &Identity, form: &PasswordForm) -> Errors {
    let stored = identity.user.password_hash.clone();
    if !password::verify_blocking(form.current.clone(), stored).await {
        return Errors::one("current", "this is not your current password");
    }
    if let Err(m) = password::check_policy(&form.new, &[&identity.user.email, &identity.user.name])
    {
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
