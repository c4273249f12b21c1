//! Signing in and out, and creating the first admin through the one-time setup link.

use super::{render, see_other, Errors, Layout, PageError, PageResult, WebForm};
use crate::accounts::{self, store as accounts_store, User};
use crate::audit::{self, Actor};
use crate::auth::csrf::SignedOut;
use crate::auth::{password, session, store as auth_store, tokens};
use crate::db::begin_write;
use crate::error::{AppError, AppResult};
use crate::http::extract::ClientAddress;
use crate::http::extract::MaybeUser;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
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
    csrf: SignedOut,
    MaybeUser(user): MaybeUser,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let next = safe_next(q.next.as_deref());
    if user.is_some() {
        return Ok(see_other(&next));
    }
    let page = LoginPage {
        layout: Layout::signed_out(&session, &csrf, "Sign in").await,
        email: String::new(),
        next,
        error: None,
    };
    with_cookie(&csrf, render(&page)?)
}

/// A signed-out page's answer, with the CSRF cookie its form's token is bound to.
fn with_cookie(csrf: &SignedOut, mut res: Response) -> PageResult {
    csrf.set_cookie(&mut res);
    Ok(res)
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

const WRONG: &str = "Wrong e-mail or password.";

/// Each attempt takes its throttle slots before the password is checked (reliability plan L6).
async fn login(
    State(app): State<AppState>,
    session: Session,
    csrf: SignedOut,
    ClientAddress(address): ClientAddress,
    WebForm(form): WebForm<LoginForm>,
) -> PageResult {
    let email = form.email.trim().to_lowercase();
    let next = safe_next(form.next.as_deref());
    let again = Again {
        session: &session,
        csrf: &csrf,
        email: &email,
        next: &next,
    };
    let slots = match app
        .throttle
        .reserve_sign_in(&email, address, app.now())
        .await?
    {
        Ok(slots) => slots,
        Err(wait) => {
            tracing::warn!(target: "security", email = %email, address = %address, "sign-in throttled");
            return again.throttled(wait).await;
        }
    };
    let Some(user) = check_password(&app, &email, form.password).await? else {
        app.throttle.failed(slots);
        tracing::warn!(target: "security", email = %email, address = %address, "sign-in failed");
        return again.form(WRONG.into(), StatusCode::UNAUTHORIZED).await;
    };
    app.throttle.signed_in(slots).await?;
    session::sign_in(&session, &user, app.now().timestamp()).await?;
    tracing::info!(user = %user.email, address = %address, "signed in");
    Ok(see_other(&next))
}

/// The active user with this e-mail and password. An unknown e-mail is checked against a dummy
/// hash, so that it takes as long as a wrong password.
async fn check_password(app: &AppState, email: &str, password: String) -> AppResult<Option<User>> {
    let user = {
        let mut conn = app.db.acquire().await?;
        accounts_store::user_by_email(&mut conn, email).await?
    };
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_string());
    let ok = password::verify_blocking(password, stored).await;
    Ok(user.filter(|u| ok && u.active))
}

/// The sign-in form again, with what was typed and why it did not work.
struct Again<'a> {
    session: &'a Session,
    csrf: &'a SignedOut,
    email: &'a str,
    next: &'a str,
}

impl Again<'_> {
    async fn form(&self, error: String, status: StatusCode) -> PageResult {
        let page = LoginPage {
            layout: Layout::signed_out(self.session, self.csrf, "Sign in").await,
            email: self.email.to_string(),
            next: self.next.to_string(),
            error: Some(error),
        };
        let mut res = render(&page)?;
        *res.status_mut() = status;
        with_cookie(self.csrf, res)
    }

    async fn throttled(&self, wait: u64) -> PageResult {
        let msg = format!("Too many failed attempts. Try again in {wait} seconds.");
        let mut res = self.form(msg, StatusCode::TOO_MANY_REQUESTS).await?;
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        Ok(res)
    }
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

/// The link is valid while no user exists and only with a token a server printed at start
/// (any replica's: their hashes are in the database).
async fn setup_allowed(conn: &mut crate::db::Conn, token: &str) -> AppResult<bool> {
    Ok(auth_store::setup_token_valid(conn, &tokens::hash_secret(token)).await?)
}

fn setup_gone() -> PageError {
    PageError(AppError::not_found(
        "this setup link is not valid or has already been used; sign in instead",
    ))
}

async fn setup_page(
    State(app): State<AppState>,
    session: Session,
    csrf: SignedOut,
    Path(token): Path<String>,
) -> PageResult {
    if !setup_allowed(&mut *app.db.acquire().await?, &token).await? {
        return Err(setup_gone());
    }
    let page = SetupPage {
        layout: Layout::signed_out(&session, &csrf, "Create the first admin").await,
        token,
        email: String::new(),
        name: String::new(),
        errors: Errors::default(),
    };
    with_cookie(&csrf, render(&page)?)
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
    csrf: SignedOut,
    Path(token): Path<String>,
    WebForm(form): WebForm<SetupForm>,
) -> PageResult {
    if !setup_allowed(&mut *app.db.acquire().await?, &token).await? {
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
    if let Err(m) = password::check_policy(&form.password, &[&form.email, &form.name]) {
        errors.push(crate::error::FieldError {
            field: "password",
            message: m,
        });
    }
    let (Ok(email), Ok(name), true) = (email, name, errors.is_empty()) else {
        let page = SetupPage {
            layout: Layout::signed_out(&session, &csrf, "Create the first admin").await,
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
    // Asked again under the write lock: of people using links at once, through any replicas,
    // one creates the admin.
    if !setup_allowed(&mut tx, &token).await? {
        return Err(setup_gone());
    }
    let now = app.now();
    let user = accounts_store::insert_user(&mut tx, &email, &name, &hash, true, now).await?;
    let actor = Actor::user(user.id, &user.email, true);
    audit::append(
        &mut tx,
        &actor,
        audit::NewEntry::new(audit::Action::UserCreated, format!("user {email}")).after(
            serde_json::json!({"email": email, "name": name, "admin": true, "via": "setup link"}),
        ),
        now,
    )
    .await?;
    auth_store::forget_setup_tokens(&mut tx).await?;
    app.writes.commit(tx).await?;
    session::sign_in(&session, &user, now.timestamp()).await?;
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
