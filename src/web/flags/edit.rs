//! Creating a flag and editing its metadata.

use super::{flag_href, FlagPath};
use crate::authz::Action;
use crate::catalog::service::{self, FlagDetail, FlagInput, FlagPatch};
use crate::catalog::{flag::split_tags, FlagType, ValueType};
use crate::db::begin_write;
use crate::db::Conn;
use crate::projects::Project;
use crate::web::{render_form, Errors, Layout, PageError, PageResult, ProjectCtx, WebForm};
use askama::Template;
use axum::extract::Path;
use serde::Deserialize;
// ---------- Create and edit ----------

#[derive(Deserialize, Default)]
pub(super) struct FlagForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default, rename = "type")]
    flag_type: String,
    #[serde(default)]
    value_type: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    docs: String,
}

impl FlagForm {
    fn links(&self) -> Vec<(String, String)> {
        vec![
            ("ticket".to_string(), self.ticket.clone()),
            ("docs".to_string(), self.docs.clone()),
        ]
    }

    fn from_detail(d: &FlagDetail) -> Self {
        let link = |kind: &str| {
            d.links
                .iter()
                .find(|l| l.kind == kind)
                .map(|l| l.url.clone())
                .unwrap_or_default()
        };
        FlagForm {
            key: d.flag.key.clone(),
            name: d.flag.name.clone(),
            description: d.flag.description.clone(),
            flag_type: d.flag.flag_type.clone(),
            value_type: d.flag.value_type.clone(),
            owner: d.flag.owner.clone().unwrap_or_default(),
            tags: d.tags.join(", "),
            ticket: link("ticket"),
            docs: link("docs"),
        }
    }
}

/// A flag type as the form's select shows it.
pub struct TypeChoice {
    value: &'static str,
    label: String,
}

#[derive(Template)]
#[template(path = "flags/form.html")]
pub(super) struct FlagFormPage {
    layout: Layout,
    project_key: String,
    key_pattern: String,
    key_example: String,
    /// Editing an existing flag (no key or value type fields) or creating one.
    editing: bool,
    form: FlagForm,
    types: Vec<TypeChoice>,
    value_types: Vec<&'static str>,
    errors: Errors,
}

async fn type_choices(conn: &mut Conn, project: &Project) -> Result<Vec<TypeChoice>, PageError> {
    let mut out = Vec::new();
    for t in FlagType::ALL {
        let days = service::lifetime_days(&mut *conn, project, t.as_str()).await?;
        let life = days.map_or("permanent".to_string(), |d| format!("{d} days"));
        out.push(TypeChoice {
            value: t.as_str(),
            label: format!("{} ({life})", t.as_str()),
        });
    }
    Ok(out)
}

async fn form_page(ctx: &ProjectCtx, editing: bool, form: FlagForm, errors: Errors) -> PageResult {
    let mut conn = ctx.app.db.acquire().await?;
    let (p, identity) = (&ctx.who.project, &ctx.who.identity);
    let title = if editing {
        format!("Edit {}", form.key)
    } else {
        "New flag".to_string()
    };
    let page = FlagFormPage {
        layout: Layout::new(&ctx.session, Some(identity), title, "flags").await,
        project_key: p.key.clone(),
        key_pattern: p.key_pattern.clone().unwrap_or_default(),
        key_example: p.key_example.clone().unwrap_or_default(),
        editing,
        form,
        types: type_choices(&mut conn, p).await?,
        value_types: ValueType::ALL.iter().map(|v| v.as_str()).collect(),
        errors,
    };
    render_form(&page, &page.errors)
}

pub(super) async fn new_flag(ctx: ProjectCtx) -> PageResult {
    ctx.require(Action::CreateFlag)?;
    let form = FlagForm {
        flag_type: "release".into(),
        value_type: "boolean".into(),
        owner: ctx.who.identity.user.email.clone(),
        ..Default::default()
    };
    form_page(&ctx, false, form, Errors::default()).await
}

pub(super) async fn create_flag(ctx: ProjectCtx, WebForm(form): WebForm<FlagForm>) -> PageResult {
    ctx.require(Action::CreateFlag)?;
    let input = FlagInput {
        key: form.key.clone(),
        name: form.name.clone(),
        description: form.description.clone(),
        flag_type: form.flag_type.clone(),
        value_type: form.value_type.clone(),
        owner: form.owner.clone(),
        tags: split_tags(&form.tags),
        links: form.links(),
    };
    let (actor, project, now) = (ctx.who.actor(), &ctx.who.project, ctx.app.now());
    let mut tx = begin_write(&ctx.app.db).await?;
    let created = service::create_flag(&mut tx, actor, project, input, now).await;
    match Errors::check(ctx.app.writes.commit_if_ok(tx, created).await)? {
        Ok(d) => {
            let msg = format!("Flag {} created.", d.flag.key);
            ctx.done(msg, &flag_href(&project.key, &d.flag.key)).await
        }
        Err(errors) => form_page(&ctx, false, form, errors).await,
    }
}

pub(super) async fn edit_flag(ctx: ProjectCtx, Path(p): Path<FlagPath>) -> PageResult {
    ctx.require(Action::EditFlag)?;
    let detail = {
        let mut conn = ctx.app.db.acquire().await?;
        service::detail(&mut conn, &ctx.who.project, &p.key, ctx.app.now()).await?
    };
    let form = FlagForm::from_detail(&detail);
    form_page(&ctx, true, form, Errors::default()).await
}

pub(super) async fn update_flag(
    ctx: ProjectCtx,
    Path(p): Path<FlagPath>,
    WebForm(mut form): WebForm<FlagForm>,
) -> PageResult {
    ctx.require(Action::EditFlag)?;
    form.key = p.key.clone();
    let patch = FlagPatch {
        name: Some(form.name.clone()),
        description: Some(form.description.clone()),
        flag_type: Some(form.flag_type.clone()),
        owner: Some(form.owner.clone()),
        tags: Some(split_tags(&form.tags)),
        links: Some(form.links()),
    };
    let (actor, project, now) = (ctx.who.actor(), &ctx.who.project, ctx.app.now());
    let mut tx = begin_write(&ctx.app.db).await?;
    let saved = service::update_flag(&mut tx, actor, project, &p.key, patch, now).await;
    match Errors::check(ctx.app.writes.commit_if_ok(tx, saved).await)? {
        Ok(_) => {
            ctx.done("Flag saved.", &flag_href(&project.key, &p.key))
                .await
        }
        Err(errors) => form_page(&ctx, true, form, errors).await,
    }
}
