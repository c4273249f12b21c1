//! A project's API tokens: the list, creating one (its secret shown once, on the response page,
//! never stored in the session) and revoking. Owners only, as in `api/projects.rs`.

use super::{render_secret_form, Errors, Layout, PageResult, ProjectCtx, WebForm};
use crate::auth::token_store::{self, TokenInfo};
use crate::auth::tokens::TokenKind;
use crate::authz::Action;
use crate::db::begin_write;
use crate::error::AppError;
use crate::projects::{service, store};
use crate::state::AppState;
use askama::Template;
use axum::extract::Path;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/projects/{project}/tokens",
            get(list_tokens).post(create_token),
        )
        .route("/projects/{project}/tokens/{id}/revoke", post(revoke_token))
}

#[derive(Deserialize, Default)]
struct TokenForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    environment: String,
}

/// A token that was just created: its secret, shown once.
struct Created {
    name: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "tokens/list.html")]
struct TokensPage {
    layout: Layout,
    key: String,
    tokens: Vec<TokenInfo>,
    environments: Vec<String>,
    form: TokenForm,
    errors: Errors,
    created: Option<Created>,
}

async fn page(
    ctx: &ProjectCtx,
    form: TokenForm,
    errors: Errors,
    created: Option<Created>,
) -> PageResult {
    let access = &ctx.who;
    let mut conn = ctx.app.db.acquire().await?;
    let tokens = token_store::list(&mut conn, &access.project).await?;
    let environments = store::environments(&mut conn, access.project.id)
        .await?
        .into_iter()
        .map(|e| e.key)
        .collect();
    let p = TokensPage {
        layout: Layout::new(&ctx.session, Some(&access.identity), "Tokens", "projects").await,
        key: access.project.key.clone(),
        tokens,
        environments,
        form,
        errors,
        created,
    };
    render_secret_form(&p, &p.errors)
}

async fn list_tokens(ctx: ProjectCtx) -> PageResult {
    ctx.require(Action::ManageTokens)?;
    let form = TokenForm {
        kind: "client".into(),
        ..Default::default()
    };
    page(&ctx, form, Errors::default(), None).await
}

async fn create_token(ctx: ProjectCtx, WebForm(form): WebForm<TokenForm>) -> PageResult {
    ctx.require(Action::ManageTokens)?;
    match Errors::check(insert(&ctx, &form).await)? {
        Ok(created) => {
            let fresh = TokenForm {
                kind: form.kind,
                ..Default::default()
            };
            page(&ctx, fresh, Errors::default(), Some(created)).await
        }
        Err(errors) => page(&ctx, form, errors, None).await,
    }
}

/// Creates the token in one transaction; admin tokens act as the signed-in user.
async fn insert(ctx: &ProjectCtx, form: &TokenForm) -> Result<Created, AppError> {
    let (app, access) = (&ctx.app, &ctx.who);
    let kind = TokenKind::parse(&form.kind)
        .ok_or_else(|| AppError::invalid("kind", "choose client, frontend or admin"))?;
    let mut tx = begin_write(&app.db).await?;
    let env = match kind {
        TokenKind::Client | TokenKind::Frontend if !form.environment.is_empty() => {
            Some(service::environment(&mut tx, &access.project, &form.environment).await?)
        }
        _ => None,
    };
    let me = &access.identity.user;
    let new = token_store::NewToken {
        kind,
        name: &form.name,
        environment: env.as_ref(),
        user: (kind == TokenKind::Admin).then_some((me.id, me.email.as_str())),
    };
    let created = token_store::create(
        &mut tx,
        access.actor(),
        Some(&access.project),
        new,
        app.now(),
    )
    .await?;
    app.writes.commit(tx).await?;
    Ok(Created {
        name: created.info.name,
        secret: created.secret,
    })
}

async fn revoke_token(ctx: ProjectCtx, Path((_, id)): Path<(String, i64)>) -> PageResult {
    ctx.require(Action::ManageTokens)?;
    let (actor, p, now) = (ctx.who.actor(), &ctx.who.project, ctx.app.now());
    let mut tx = begin_write(&ctx.app.db).await?;
    let info = token_store::revoke(&mut tx, actor, p, id, now).await?;
    ctx.app.writes.commit(tx).await?;
    let msg = format!("Token {:?} revoked; it no longer works.", info.name);
    ctx.done(msg, &format!("/projects/{}/tokens", p.key)).await
}
