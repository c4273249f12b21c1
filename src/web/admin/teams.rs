//! Teams: the list with the form to create one, and one team's members.

use super::UserRow;
use crate::accounts::{service, store as accounts_store, Team};
use crate::authz::Action;
use crate::db::begin_write;
use crate::web::{render_form, Errors, Layout, PageResult, UserCtx, WebForm};
use askama::Template;
use axum::extract::Path;
use serde::Deserialize;

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
pub(super) struct TeamForm {
    key: String,
    name: String,
}

async fn teams_page(ctx: &UserCtx, form: TeamForm, errors: Errors) -> PageResult {
    let mut conn = ctx.app.db.acquire().await?;
    let page = TeamsPage {
        layout: Layout::new(&ctx.session, Some(ctx.identity()), "Teams", "admin").await,
        teams: accounts_store::all_teams(&mut conn).await?,
        key: form.key,
        name: form.name,
        errors,
    };
    render_form(&page, &page.errors)
}

fn team_href(key: &str) -> String {
    format!("/admin/teams/{key}")
}

pub(super) async fn list_teams(ctx: UserCtx) -> PageResult {
    ctx.require(Action::ManageTeams)?;
    teams_page(&ctx, TeamForm::default(), Errors::default()).await
}

pub(super) async fn create_team(ctx: UserCtx, WebForm(form): WebForm<TeamForm>) -> PageResult {
    ctx.require(Action::ManageTeams)?;
    let (actor, now) = (&ctx.identity().actor, ctx.app.now());
    let mut tx = begin_write(&ctx.app.db).await?;
    let created = service::create_team(&mut tx, actor, &form.key, &form.name, now).await;
    match Errors::check(ctx.app.writes.commit_if_ok(tx, created).await)? {
        Ok(key) => {
            let msg = format!("Created team {key}. Add its members next.");
            ctx.done(msg, &team_href(&key)).await
        }
        Err(errors) => teams_page(&ctx, form, errors).await,
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

async fn team_page(ctx: &UserCtx, key: &str, email: String, errors: Errors) -> PageResult {
    let mut conn = ctx.app.db.acquire().await?;
    let team = service::team(&mut conn, key).await?;
    let members = accounts_store::team_members(&mut conn, team.id).await?;
    let title = format!("Team {}", team.name);
    let page = TeamPage {
        layout: Layout::new(&ctx.session, Some(ctx.identity()), title, "admin").await,
        team,
        members: members.into_iter().map(UserRow::from).collect(),
        email,
        errors,
    };
    render_form(&page, &page.errors)
}

pub(super) async fn show_team(ctx: UserCtx, Path(key): Path<String>) -> PageResult {
    ctx.require(Action::ManageTeams)?;
    team_page(&ctx, &key, String::new(), Errors::default()).await
}

#[derive(Deserialize)]
pub(super) struct MemberForm {
    email: String,
}

pub(super) async fn add_member(
    ctx: UserCtx,
    Path(key): Path<String>,
    WebForm(form): WebForm<MemberForm>,
) -> PageResult {
    ctx.require(Action::ManageTeams)?;
    let (actor, now) = (&ctx.identity().actor, ctx.app.now());
    let mut tx = begin_write(&ctx.app.db).await?;
    let added = service::add_team_member(&mut tx, actor, &key, &form.email, now).await;
    match Errors::check(ctx.app.writes.commit_if_ok(tx, added).await)? {
        Ok(u) => {
            let msg = format!("Added {} to the team.", u.email);
            ctx.done(msg, &team_href(&key)).await
        }
        Err(errors) => team_page(&ctx, &key, form.email, errors).await,
    }
}

pub(super) async fn remove_member(
    ctx: UserCtx,
    Path((key, user_id)): Path<(String, i64)>,
) -> PageResult {
    ctx.require(Action::ManageTeams)?;
    let (actor, now) = (&ctx.identity().actor, ctx.app.now());
    let mut tx = begin_write(&ctx.app.db).await?;
    let u = service::remove_team_member(&mut tx, actor, &key, user_id, now).await?;
    ctx.app.writes.commit(tx).await?;
    ctx.done(
        format!("Removed {} from the team.", u.email),
        &team_href(&key),
    )
    .await
}
