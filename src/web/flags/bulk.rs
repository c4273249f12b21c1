//! Acting on the flags selected in a catalog, a project's or the cross-project one: the form
//! posts the action, its value and the flags; the answer says, flag by flag, what was done and
//! what was refused and why (`changes::bulk` decides, each flag's project by its own rules).
//! Tagging, owning and archiving answer with a page of their own; a switch comes back to the
//! catalog, whose cells show the new states, with the report above them (`outcomes`).

use super::outcomes::{self, Line, Switched};
use crate::authz::Identity;
use crate::changes::bulk::{BulkAction, BulkReport};
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::commands::{self, ProjectReport};
use crate::http::extract::CurrentUser;
use crate::web::handler::{Ctx, ProjectCtx};
use crate::web::{render, see_other, sentence, Flash, Layout, PageResult, WebForm};
use askama::Template;
use tower_sessions::Session;

#[derive(Template)]
#[template(path = "flags/bulk.html")]
struct BulkPage {
    layout: Layout,
    /// The project's key on its catalog, "" on the cross-project one.
    project_key: String,
    title: String,
    summary: String,
    lines: Vec<Line>,
    back: String,
}

/// The form's fields; `flags` repeats, so the body is read as pairs.
struct BulkForm {
    action: String,
    value: String,
    env: String,
    flags: Vec<String>,
    back: String,
}

impl BulkForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> BulkForm {
        let mut f = BulkForm {
            action: String::new(),
            value: String::new(),
            env: String::new(),
            flags: Vec::new(),
            back: String::new(),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "action" => f.action = v,
                "value" => f.value = v,
                "env" => f.env = v,
                "flags" => f.flags.push(v),
                "back" => f.back = v,
                _ => {}
            }
        }
        f
    }

    /// The action; a switch takes the environment from its own field.
    fn action(&self) -> Result<BulkAction, AppError> {
        let value = match self.action.as_str() {
            "on" | "off" => &self.env,
            _ => &self.value,
        };
        BulkAction::parse(&self.action, value)
    }

    /// Back to the catalog as it was filtered (`catalog`, or an address of it); nowhere else.
    fn back(&self, catalog: &str) -> String {
        if self.back == catalog || self.back.starts_with(&format!("{catalog}?")) {
            self.back.clone()
        } else {
            catalog.to_string()
        }
    }
}

pub(super) async fn bulk_flags(
    ctx: ProjectCtx,
    WebForm(pairs): WebForm<Vec<(String, String)>>,
) -> PageResult {
    let f = BulkForm::from_pairs(pairs);
    let project = ctx.who.project.key.clone();
    let catalog = format!("/projects/{project}/flags");
    let back = f.back(&catalog);
    let action = match f.action() {
        Ok(a) => a,
        Err(e) => return refused(&ctx.session, e, &back).await,
    };
    let title = action.title();
    let mut tx = begin_write(&ctx.app.db).await?;
    let done = commands::bulk(&mut tx, &ctx.who, &f.flags, action.clone(), ctx.app.now()).await;
    let report = match ctx.app.writes.commit_if_ok(tx, done).await {
        Ok(r) => r,
        Err(e) => return refused(&ctx.session, e, &back).await,
    };
    let layout_title = format!("{title} · {}", ctx.who.project.name);
    let a = Answer {
        title,
        summary: report.summary(),
        lines: outcomes::lines(&project, &action, report),
        back,
        project_key: project,
    };
    answer(&ctx.session, &ctx.who.identity, layout_title, &action, a).await
}

/// The cross-project catalog's form: each selected flag is `project/key`.
pub(super) async fn bulk_all_flags(
    ctx: Ctx<CurrentUser>,
    WebForm(pairs): WebForm<Vec<(String, String)>>,
) -> PageResult {
    let f = BulkForm::from_pairs(pairs);
    let back = f.back("/flags");
    let action = match f.action() {
        Ok(a) => a,
        Err(e) => return refused(&ctx.session, e, &back).await,
    };
    let picks: Vec<(String, String)> = f
        .flags
        .iter()
        .filter_map(|v| v.split_once('/'))
        .map(|(p, k)| (p.to_string(), k.to_string()))
        .collect();
    let identity = &ctx.who.0;
    let title = action.title();
    let mut tx = begin_write(&ctx.app.db).await?;
    let done =
        commands::bulk_across(&mut tx, identity, &picks, action.clone(), ctx.app.now()).await;
    let reports = match ctx.app.writes.commit_if_ok(tx, done).await {
        Ok(r) => r,
        Err(e) => return refused(&ctx.session, e, &back).await,
    };
    let all = BulkReport {
        results: reports
            .iter()
            .flat_map(|r| r.report.results.clone())
            .collect(),
    };
    let a = Answer {
        title: title.clone(),
        summary: all.summary(),
        lines: reports
            .into_iter()
            .flat_map(|ProjectReport { project, report }| {
                outcomes::lines(&project, &action, report)
            })
            .collect(),
        back,
        project_key: String::new(),
    };
    answer(&ctx.session, identity, title, &action, a).await
}

/// What a bulk action did, to show.
struct Answer {
    title: String,
    summary: String,
    lines: Vec<Line>,
    /// The catalog it came from, as it was filtered.
    back: String,
    /// The project's key on its catalog, "" on the cross-project one.
    project_key: String,
}

/// A switch goes back to the catalog with its report; the other actions get their page.
async fn answer(
    session: &Session,
    identity: &Identity,
    layout_title: String,
    action: &BulkAction,
    a: Answer,
) -> PageResult {
    if let BulkAction::Switch { .. } = action {
        let place = a.back.split('?').next().unwrap_or_default().to_string();
        let report = Switched {
            place,
            title: a.title,
            summary: a.summary,
            lines: a.lines,
        };
        outcomes::keep(session, report).await;
        return Ok(see_other(&a.back));
    }
    let layout = Layout::new(session, Some(identity), layout_title, "flags").await;
    render(&BulkPage {
        layout,
        project_key: a.project_key,
        title: a.title,
        summary: a.summary,
        lines: a.lines,
        back: a.back,
    })
}

/// Bad input comes back as a message on the catalog, with nothing changed; a refusal of the
/// whole action (a viewer) is an error page.
async fn refused(session: &Session, e: AppError, back: &str) -> PageResult {
    match e {
        AppError::Invalid(_) | AppError::Conflict { .. } | AppError::NotFound(_) => {
            Flash::set(session, "error", sentence(&e.to_string())).await;
            Ok(see_other(back))
        }
        e => Err(e.into()),
    }
}
