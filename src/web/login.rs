//! Signing in and out, and creating the first admin through the one-time setup link.

use super::{render, see_other, Errors, Layout, PageError, PageResult, WebForm};
use crate::accounts::{self, store as accounts_store};
use crate::app::AppState;
use crate::audit::{self, Actor};
use crate::auth::extract::MaybeUser;
use crate::auth::{password, session, tokens};
use crate::db::begin_write;
use crate::error::AppError;
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Instant;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/setup/{token}", get(setup_page).post(setup))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths: `next` must never send someone to another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.contains(['\r', '\n']) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

async fn login_page(
    session: Session,
    MaybeUser(user): MaybeUser,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let next = safe_next(q.next.as_deref());
    if user.is_some() {
        return Ok(see_other(&next));
    }
    render(&LoginPage {
        layout: Layout::new(&session, None, "Sign in", "").await,
        email: String::new(),
        next,
        error: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

const WRONG: &str = "Wrong e-mail or password.";

async fn login(
    State(app): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    WebForm(form): WebForm<LoginForm>,
) -> PageResult {
    let email = form.email.trim().to_lowercase();
    let address = peer.ip().to_string();
    let next = safe_next(form.next.as_deref());
    let now = Instant::now();
    let throttled = app
        .throttle
        .per_account
        .check(&email, now)
        .and(app.throttle.per_address.check(&address, now));
    if let Err(wait) = throttled {
        tracing::warn!(target: "security", email = %email, address = %address, "sign-in throttled");
        let msg = format!("Too many failed attempts. Try again in {wait} seconds.");
        let mut res =
            login_form(&session, &email, &next, msg, StatusCode::TOO_MANY_REQUESTS).await?;
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Ok(res);
    }
    let user = {
        let mut conn = app.db.acquire().await?;
        accounts_store::user_by_email(&mut conn, &email).await?
    };
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_string());
    let ok = password::verify_blocking(form.password, stored).await;
    let user = user.filter(|u| ok && u.active);
    let Some(user) = user else {
        app.throttle.per_account.record_failure(&email, now);
        app.throttle.per_address.record_failure(&address, now);
        tracing::warn!(target: "security", email = %email, address = %address, "sign-in failed");
        return login_form(
            &session,
            &email,
            &next,
            WRONG.into(),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    };
    app.throttle.per_account.clear(&email);
    session::sign_in(&session, &user, app.now().timestamp())
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("could not start the session: {e}")))?;
    tracing::info!(user = %user.email, "signed in");
    Ok(see_other(&next))
}

async fn login_form(
    session: &Session,
    email: &str,
    next: &str,
    error: String,
    status: StatusCode,
) -> PageResult {
    let page = LoginPage {
        layout: Layout::new(session, None, "Sign in", "").await,
        email: email.to_string(),
        next: next.to_string(),
        error: Some(error),
    };
    let mut res = render(&page)?;
    *res.status_mut() = status;
    Ok(res)
}

async fn logout(session: Session) -> Response {
    session::sign_out(&session).await;
    see_other("/login")
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    layout: Layout,
    token: String,
    email: String,
    name: String,
    errors: Errors,
}

/// The link is valid while no user exists and only with the token printed at start.
fn setup_allowed(app: &AppState, token: &str) -> bool {
    let guard = app.setup_token.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .as_deref()
        .is_some_and(|h| tokens::hashes_match(h, &tokens::hash_secret(token)))
}

fn setup_gone() -> PageError {
    PageError(AppError::not_found(
        "this setup link is not valid or has already been used; sign in instead",
    ))
}

async fn setup_page(
    State(app): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> PageResult {
    if !setup_allowed(&app, &token) {
        return Err(setup_gone());
    }
    render(&SetupPage {
        layout: Layout::new(&session, None, "Create the first admin", "").await,
        token,
        email: String::new(),
        name: String::new(),
        errors: Errors::default(),
    })
}

#[derive(Deserialize)]
struct SetupForm {
    email: String,
    name: String,
    password: String,
}

async fn setup(
    State(app): State<AppState>,
    session: Session,
    Path(token): Path<String>,
    WebForm(form): WebForm<SetupForm>,
) -> PageResult {
    if !setup_allowed(&app, &token) {
        return Err(setup_gone());
    }
    let mut errors = Vec::new();
    let email = accounts::normalise_email(&form.email).map_err(|m| {
        errors.push(crate::error::FieldError {
            field: "email",
            message: m,
        })
    });
    let name = accounts::valid_name(&form.name).map_err(|m| {
        errors.push(crate::error::FieldError {
            field: "name",
            message: m,
        })
    });
    if let Err(m) = password::check_policy(&form.password, form.email.trim()) {
        errors.push(crate::error::FieldError {
            field: "password",
            message: m,
        });
    }
    let (Ok(email), Ok(name), true) = (email, name, errors.is_empty()) else {
        let page = SetupPage {
            layout: Layout::new(&session, None, "Create the first admin", "").await,
            token,
            email: form.email,
            name: form.name,
            errors: Errors(errors),
        };
        let mut res = render(&page)?;
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(res);
    };
    let hash = password::hash_blocking(form.password).await?;
    let mut tx = begin_write(&app.db).await?;
    if accounts_store::user_count(&mut tx).await? > 0 {
        return Err(setup_gone());
    }
    let now = app.now();
    let user = accounts_store::insert_user(&mut tx, &email, &name, &hash, true, now).await?;
    let actor = Actor::user(user.id, &user.email, true);
    audit::append(
        &mut tx,
        &actor,
        audit::NewEntry::new("user.created", format!("user {email}")).after(
            serde_json::json!({"email": email, "name": name, "admin": true, "via": "setup link"}),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    *app.setup_token.lock().unwrap_or_else(|p| p.into_inner()) = None;
    session::sign_in(&session, &user, now.timestamp())
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("could not start the session: {e}")))?;
    super::Flash::set(
        &session,
        "success",
        "Welcome! Create your first project to get started.",
    )
    .await;
    Ok(see_other("/projects"))
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> Self {
        PageError(AppError::Internal(e))
    }
}
