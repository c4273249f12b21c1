//! People: the list with the form to add someone, and one person's page with its actions.

use super::UserRow;
use crate::accounts::{service, store as accounts_store, Team, User};
use crate::auth::password;
use crate::authz::Action;
use crate::db::begin_write;
use crate::error::{AppError, AppResult};
use crate::web::account::store_password;
use crate::web::{render_form, Errors, Layout, PageResult, UserCtx, WebForm};
use askama::Template;
use axum::extract::Path;
use serde::Deserialize;

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
pub(super) struct NewUserForm {
    email: String,
    name: String,
    password: String,
    admin: Option<String>,
}

async fn users_page(ctx: &UserCtx, form: NewUserForm, errors: Errors) -> PageResult {
    let users = {
        let mut conn = ctx.app.db.acquire().await?;
        accounts_store::all_users(&mut conn).await?
    };
    let identity = ctx.identity();
    let page = UsersPage {
        layout: Layout::new(&ctx.session, Some(identity), "People", "admin").await,
        me: identity.user.id,
        users: users.into_iter().map(UserRow::from).collect(),
        email: form.email,
        name: form.name,
        admin: form.admin.is_some(),
        errors,
    };
    render_form(&page, &page.errors)
}

pub(super) async fn list_users(ctx: UserCtx) -> PageResult {
    ctx.require(Action::ManageUsers)?;
    users_page(&ctx, NewUserForm::default(), Errors::default()).await
}

pub(super) async fn create_user(ctx: UserCtx, WebForm(form): WebForm<NewUserForm>) -> PageResult {
    ctx.require(Action::ManageUsers)?;
    match Errors::check(insert_user(&ctx, &form).await)? {
        Ok(u) => {
            let msg = format!(
                "Created {} ({}). Give them their password in person.",
                u.name, u.email
            );
            ctx.done(msg, "/admin/users").await
        }
        Err(errors) => users_page(&ctx, form, errors).await,
    }
}

async fn insert_user(ctx: &UserCtx, form: &NewUserForm) -> AppResult<User> {
    let new = service::check_new_user(&form.email, &form.name, &form.password)?;
    let hash = password::hash_blocking(form.password.clone()).await?;
    let mut tx = begin_write(&ctx.app.db).await?;
    let (actor, admin, now) = (&ctx.identity().actor, form.admin.is_some(), ctx.app.now());
    let user = service::create_user(&mut tx, actor, &new, &hash, admin, now).await?;
    ctx.app.writes.commit(tx).await?;
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

async fn user_by_id(ctx: &UserCtx, id: i64) -> AppResult<User> {
    let mut conn = ctx.app.db.acquire().await?;
    accounts_store::user_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("no such user"))
}

async fn user_page(ctx: &UserCtx, id: i64, errors: Errors) -> PageResult {
    let user = user_by_id(ctx, id).await?;
    let teams = {
        let mut conn = ctx.app.db.acquire().await?;
        accounts_store::teams_of(&mut conn, id).await?
    };
    let identity = ctx.identity();
    let page = UserPage {
        layout: Layout::new(&ctx.session, Some(identity), user.name.clone(), "admin").await,
        is_me: user.id == identity.user.id,
        user: user.into(),
        teams,
        errors,
    };
    render_form(&page, &page.errors)
}

fn user_href(id: i64) -> String {
    format!("/admin/users/{id}")
}

pub(super) async fn show_user(ctx: UserCtx, Path(id): Path<i64>) -> PageResult {
    ctx.require(Action::ManageUsers)?;
    user_page(&ctx, id, Errors::default()).await
}

pub(super) async fn deactivate_user(ctx: UserCtx, Path(id): Path<i64>) -> PageResult {
    set_active(ctx, id, false).await
}

pub(super) async fn activate_user(ctx: UserCtx, Path(id): Path<i64>) -> PageResult {
    set_active(ctx, id, true).await
}

async fn set_active(ctx: UserCtx, id: i64, active: bool) -> PageResult {
    ctx.require(Action::ManageUsers)?;
    let done = store_active(&ctx, id, active).await;
    ctx.finish(done, &user_href(id)).await
}

async fn store_active(ctx: &UserCtx, id: i64, active: bool) -> AppResult<String> {
    let mut tx = begin_write(&ctx.app.db).await?;
    let actor = &ctx.identity().actor;
    let u = service::set_active(&mut tx, actor, id, active, ctx.app.now()).await?;
    ctx.app.writes.commit(tx).await?;
    Ok(if active {
        format!("{} can sign in again.", u.email)
    } else {
        format!(
            "{} is deactivated and has been signed out everywhere.",
            u.email
        )
    })
}

#[derive(Deserialize)]
pub(super) struct ResetForm {
    password: String,
}

pub(super) async fn reset_password(
    ctx: UserCtx,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ResetForm>,
) -> PageResult {
    ctx.require(Action::ManageUsers)?;
    let target = user_by_id(&ctx, id).await?;
    if let Err(m) = password::check_policy(&form.password, &[&target.email, &target.name]) {
        return user_page(&ctx, id, Errors::one("password", m)).await;
    }
    store_password(&ctx, id, form.password).await?;
    let msg = format!(
        "New password set for {}; their sessions have ended.",
        target.email
    );
    ctx.done(msg, &user_href(id)).await
}

#[derive(Deserialize)]
pub(super) struct AdminForm {
    admin: String,
}

pub(super) async fn set_admin(
    ctx: UserCtx,
    Path(id): Path<i64>,
    WebForm(form): WebForm<AdminForm>,
) -> PageResult {
    ctx.require(Action::ManageUsers)?;
    let done = grant_admin(&ctx, id, form.admin == "true").await;
    ctx.finish(done, &user_href(id)).await
}

async fn grant_admin(ctx: &UserCtx, id: i64, grant: bool) -> AppResult<String> {
    let mut tx = begin_write(&ctx.app.db).await?;
    let actor = &ctx.identity().actor;
    let u = service::set_admin(&mut tx, actor, id, grant, ctx.app.now()).await?;
    ctx.app.writes.commit(tx).await?;
    Ok(match grant {
        true => format!("{} is now an admin.", u.email),
        false => format!("{} is no longer an admin.", u.email),
    })
}
