//! People and teams, for admins: create users, (de)activate them, reset passwords, grant admin;
//! create teams and manage their members. Every change is audited in its own transaction.

use super::{render, see_other, Errors, Flash, Layout, PageError, PageResult, WebForm};
use crate::accounts::{service, store as accounts_store, Team, User};
use crate::app::AppState;
use crate::auth::extract::{CurrentUser, Identity};
use crate::auth::{password, session};
use crate::authz::{allows, Action, Principal};
use crate::db::begin_write;
use crate::error::{AppError, AppResult};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { see_other("/admin/users") }))
        .route("/admin/users", get(list_users).post(create_user))
        .route("/admin/users/{id}", get(show_user))
        .route("/admin/users/{id}/deactivate", post(deactivate_user))
        .route("/admin/users/{id}/activate", post(activate_user))
        .route("/admin/users/{id}/password", post(reset_password))
        .route("/admin/users/{id}/admin", post(set_admin))
        .route("/admin/teams", get(list_teams).post(create_team))
        .route("/admin/teams/{key}", get(show_team))
        .route("/admin/teams/{key}/members", post(add_member))
        .route(
            "/admin/teams/{key}/members/{user_id}/remove",
            post(remove_member),
        )
}

fn require(identity: &Identity, action: Action) -> Result<(), PageError> {
    let who = Principal {
        is_admin: identity.user.is_admin,
        role: None,
    };
    allows(who, action).map_err(|d| PageError(AppError::forbidden(d.0)))
}

/// A user as the pages show one.
struct UserRow {
    id: i64,
    email: String,
    name: String,
    is_admin: bool,
    active: bool,
    created: String,
}

impl From<User> for UserRow {
    fn from(u: User) -> Self {
        UserRow {
            created: u.created_at.get(..10).unwrap_or(&u.created_at).to_string(),
            id: u.id,
            email: u.email,
            name: u.name,
            is_admin: u.is_admin,
            active: u.active,
        }
    }
}

fn with_status(mut res: axum::response::Response, errors: &Errors) -> PageResult {
    if !errors.is_empty() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

/// Refusals a form can cause (deactivating yourself…) come back as a flash on the same page.
async fn finish(session: &Session, done: AppResult<String>, back: &str) -> PageResult {
    match done {
        Ok(msg) => Flash::set(session, "success", msg).await,
        Err(AppError::Conflict { message, .. }) => {
            Flash::set(session, "error", super::sentence(&message)).await
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(back))
}

// ---------- users ----------

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    me: i64,
    users: Vec<UserRow>,
    email: String,
    name: String,
    admin: bool,
    errors: Errors,
}

#[derive(Deserialize, Default)]
struct NewUserForm {
    email: String,
    name: String,
    password: String,
    admin: Option<String>,
}

async fn users_page(
    app: &AppState,
    session: &Session,
    identity: &Identity,
    form: NewUserForm,
    errors: Errors,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let users = accounts_store::all_users(&mut conn).await?;
    let page = UsersPage {
        layout: Layout::new(session, Some(identity), "People", "admin").await,
        me: identity.user.id,
        users: users.into_iter().map(UserRow::from).collect(),
        email: form.email,
        name: form.name,
        admin: form.admin.is_some(),
        errors,
    };
    with_status(render(&page)?, &page.errors)
}

async fn list_users(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
) -> PageResult {
    require(&identity, Action::ManageUsers)?;
    users_page(
        &app,
        &session,
        &identity,
        NewUserForm::default(),
        Errors::default(),
    )
    .await
}

async fn create_user(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    WebForm(form): WebForm<NewUserForm>,
) -> PageResult {
    require(&identity, Action::ManageUsers)?;
    let created = insert_user(&app, &identity, &form).await;
    match created {
        Ok(u) => {
            let msg = format!(
                "Created {} ({}). Give them their password in person.",
                u.name, u.email
            );
            Flash::set(&session, "success", msg).await;
            Ok(see_other("/admin/users"))
        }
        Err(e) => {
            let errors = Errors::from_app(e)?;
            users_page(&app, &session, &identity, form, errors).await
        }
    }
}

async fn insert_user(app: &AppState, identity: &Identity, form: &NewUserForm) -> AppResult<User> {
    let new = service::check_new_user(&form.email, &form.name, &form.password)?;
    let hash = password::hash_blocking(form.password.clone()).await?;
    let mut tx = begin_write(&app.db).await?;
    let admin = form.admin.is_some();
    let user =
        service::create_user(&mut tx, &identity.actor, &new, &hash, admin, app.now()).await?;
    tx.commit().await?;
    Ok(user)
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    layout: Layout,
    user: UserRow,
    is_me: bool,
    teams: Vec<Team>,
    errors: Errors,
}

async fn user_page(
    app: &AppState,
    session: &Session,
    identity: &Identity,
    id: i64,
    errors: Errors,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let user = accounts_store::user_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("no such user"))?;
    let teams = accounts_store::teams_of(&mut conn, id).await?;
    let page = UserPage {
        layout: Layout::new(session, Some(identity), user.name.clone(), "admin").await,
        is_me: user.id == identity.user.id,
        user: user.into(),
        teams,
        errors,
    };
    with_status(render(&page)?, &page.errors)
}

async fn show_user(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    Path(id): Path<i64>,
) -> PageResult {
    require(&identity, Action::ManageUsers)?;
    user_page(&app, &session, &identity, id, Errors::default()).await
}

async fn set_active(
    app: &AppState,
    identity: &Identity,
    id: i64,
    active: bool,
) -> AppResult<String> {
    let mut tx = begin_write(&app.db).await?;
    let u = service::set_active(&mut tx, &identity.actor, id, active, app.now()).await?;
    tx.commit().await?;
    Ok(if active {
        format!("{} can sign in again.", u.email)
    } else {
        format!(
            "{} is deactivated and has been signed out everywhere.",
            u.email
        )
    })
}

async fn deactivate_user(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    Path(id): Path<i64>,
) -> PageResult {
    require(&identity, Action::ManageUsers)?;
    let done = set_active(&app, &identity, id, false).await;
    finish(&session, done, &format!("/admin/users/{id}")).await
}

async fn activate_user(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    Path(id): Path<i64>,
) -> PageResult {
    require(&identity, Action::ManageUsers)?;
    let done = set_active(&app, &identity, id, true).await;
    finish(&session, done, &format!("/admin/users/{id}")).await
}

#[derive(Deserialize)]
struct ResetForm {
    password: String,
}

async fn reset_password(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ResetForm>,
) -> PageResult {
    require(&identity, Action::ManageUsers)?;
    let mut conn = app.db.acquire().await?;
    let target = accounts_store::user_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("no such user"))?;
    drop(conn);
    if let Err(m) = password::check_policy(&form.password, &target.email) {
        return user_page(&app, &session, &identity, id, Errors::one("password", m)).await;
    }
    let hash = password::hash_blocking(form.password).await?;
    let mut tx = begin_write(&app.db).await?;
    let version = service::set_password(&mut tx, &identity.actor, id, &hash, app.now()).await?;
    tx.commit().await?;
    if id == identity.user.id {
        session::refresh_version(&session, version).await;
    }
    let msg = format!(
        "New password set for {}; their sessions have ended.",
        target.email
    );
    finish(&session, Ok(msg), &format!("/admin/users/{id}")).await
}

#[derive(Deserialize)]
struct AdminForm {
    admin: String,
}

async fn set_admin(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    Path(id): Path<i64>,
    WebForm(form): WebForm<AdminForm>,
) -> PageResult {
    require(&identity, Action::ManageUsers)?;
    let done = grant_admin(&app, &identity, id, form.admin == "true").await;
    finish(&session, done, &format!("/admin/users/{id}")).await
}

async fn grant_admin(
    app: &AppState,
    identity: &Identity,
    id: i64,
    grant: bool,
) -> AppResult<String> {
    let mut tx = begin_write(&app.db).await?;
    let u = service::set_admin(&mut tx, &identity.actor, id, grant, app.now()).await?;
    tx.commit().await?;
    Ok(match grant {
        true => format!("{} is now an admin.", u.email),
        false => format!("{} is no longer an admin.", u.email),
    })
}

// ---------- teams ----------

#[derive(Template)]
#[template(path = "admin/teams.html")]
struct TeamsPage {
    layout: Layout,
    teams: Vec<Team>,
    key: String,
    name: String,
    errors: Errors,
}

#[derive(Deserialize, Default)]
struct TeamForm {
    key: String,
    name: String,
}

async fn teams_page(
    app: &AppState,
    session: &Session,
    identity: &Identity,
    form: TeamForm,
    errors: Errors,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let page = TeamsPage {
        layout: Layout::new(session, Some(identity), "Teams", "admin").await,
        teams: accounts_store::all_teams(&mut conn).await?,
        key: form.key,
        name: form.name,
        errors,
    };
    with_status(render(&page)?, &page.errors)
}

async fn list_teams(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
) -> PageResult {
    require(&identity, Action::ManageTeams)?;
    teams_page(
        &app,
        &session,
        &identity,
        TeamForm::default(),
        Errors::default(),
    )
    .await
}

async fn create_team(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    WebForm(form): WebForm<TeamForm>,
) -> PageResult {
    require(&identity, Action::ManageTeams)?;
    let mut tx = begin_write(&app.db).await?;
    match service::create_team(&mut tx, &identity.actor, &form.key, &form.name, app.now()).await {
        Ok(key) => {
            tx.commit().await?;
            let msg = format!("Created team {key}. Add its members next.");
            finish(&session, Ok(msg), &format!("/admin/teams/{key}")).await
        }
        Err(e) => {
            drop(tx);
            let errors = Errors::from_app(e)?;
            teams_page(&app, &session, &identity, form, errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/team.html")]
struct TeamPage {
    layout: Layout,
    team: Team,
    members: Vec<UserRow>,
    email: String,
    errors: Errors,
}

async fn team_page(
    app: &AppState,
    session: &Session,
    identity: &Identity,
    key: &str,
    email: String,
    errors: Errors,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let team = service::team(&mut conn, key).await?;
    let members = accounts_store::team_members(&mut conn, team.id).await?;
    let page = TeamPage {
        layout: Layout::new(
            session,
            Some(identity),
            format!("Team {}", team.name),
            "admin",
        )
        .await,
        team,
        members: members.into_iter().map(UserRow::from).collect(),
        email,
        errors,
    };
    with_status(render(&page)?, &page.errors)
}

async fn show_team(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    Path(key): Path<String>,
) -> PageResult {
    require(&identity, Action::ManageTeams)?;
    team_page(
        &app,
        &session,
        &identity,
        &key,
        String::new(),
        Errors::default(),
    )
    .await
}

#[derive(Deserialize)]
struct MemberForm {
    email: String,
}

async fn add_member(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    Path(key): Path<String>,
    WebForm(form): WebForm<MemberForm>,
) -> PageResult {
    require(&identity, Action::ManageTeams)?;
    let mut tx = begin_write(&app.db).await?;
    match service::add_team_member(&mut tx, &identity.actor, &key, &form.email, app.now()).await {
        Ok(u) => {
            tx.commit().await?;
            let msg = format!("Added {} to the team.", u.email);
            finish(&session, Ok(msg), &format!("/admin/teams/{key}")).await
        }
        Err(e) => {
            drop(tx);
            let errors = Errors::from_app(e)?;
            team_page(&app, &session, &identity, &key, form.email, errors).await
        }
    }
}

async fn remove_member(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    Path((key, user_id)): Path<(String, i64)>,
) -> PageResult {
    require(&identity, Action::ManageTeams)?;
    let mut tx = begin_write(&app.db).await?;
    let u = service::remove_team_member(&mut tx, &identity.actor, &key, user_id, app.now()).await?;
    tx.commit().await?;
    let msg = format!("Removed {} from the team.", u.email);
    finish(&session, Ok(msg), &format!("/admin/teams/{key}")).await
}
