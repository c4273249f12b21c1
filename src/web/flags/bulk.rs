//! Acting on the flags selected in a project's catalog: the form posts the action, its value
//! and the keys; the page that answers says, flag by flag, what was done and what was refused
//! and why (`changes::bulk` decides).

use crate::changes::bulk::{BulkAction, BulkReport, Done};
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::commands;
use crate::web::handler::ProjectCtx;
use crate::web::{render, see_other, sentence, Flash, Layout, PageResult, WebForm};
use askama::Template;

#[derive(Template)]
#[template(path = "flags/bulk.html")]
struct BulkPage {
    layout: Layout,
    project_key: String,
    title: String,
    summary: String,
    report: BulkReport,
    back: String,
}

impl BulkPage {
    fn class(&self, d: &Done) -> &'static str {
        match d {
            Done::Applied => "badge-ok",
            Done::Staged => "badge-info",
            Done::Unchanged => "badge-muted",
            Done::Refused => "badge-danger",
        }
    }

    fn word(&self, d: &Done) -> &'static str {
        match d {
            Done::Applied => "done",
            Done::Staged => "in a change request",
            Done::Unchanged => "already so",
            Done::Refused => "refused",
        }
    }
}

/// The form's fields; `flags` repeats, so the body is read as pairs.
struct BulkForm {
    action: String,
    value: String,
    flags: Vec<String>,
    back: String,
}

impl BulkForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> BulkForm {
        let mut f = BulkForm {
            action: String::new(),
            value: String::new(),
            flags: Vec::new(),
            back: String::new(),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "action" => f.action = v,
                "value" => f.value = v,
                "flags" => f.flags.push(v),
                "back" => f.back = v,
                _ => {}
            }
        }
        f
    }
}

pub(super) async fn bulk_flags(
    ctx: ProjectCtx,
    WebForm(pairs): WebForm<Vec<(String, String)>>,
) -> PageResult {
    let f = BulkForm::from_pairs(pairs);
    let catalog = format!("/projects/{}/flags", ctx.who.project.key);
    // Back to the catalog as it was filtered; nowhere else.
    let back = if f.back == catalog || f.back.starts_with(&format!("{catalog}?")) {
        f.back.clone()
    } else {
        catalog
    };
    let action = match BulkAction::parse(&f.action, &f.value) {
        Ok(a) => a,
        Err(e) => return refused(&ctx, e, &back).await,
    };
    let title = action.title();
    let mut tx = begin_write(&ctx.app.db).await?;
    let done = commands::bulk(&mut tx, &ctx.who, &f.flags, action, ctx.app.now()).await;
    let report = match ctx.app.writes.commit_if_ok(tx, done).await {
        Ok(r) => r,
        Err(e) => return refused(&ctx, e, &back).await,
    };
    let layout = Layout::new(
        &ctx.session,
        Some(&ctx.who.identity),
        format!("{title} · {}", ctx.who.project.name),
        "flags",
    )
    .await;
    render(&BulkPage {
        layout,
        project_key: ctx.who.project.key.clone(),
        summary: report.summary(),
        title,
        report,
        back,
    })
}

/// Bad input comes back as a message on the catalog, with nothing changed; a refusal of the
/// whole action (a viewer) is an error page.
async fn refused(ctx: &ProjectCtx, e: AppError, back: &str) -> PageResult {
    match e {
        AppError::Invalid(_) | AppError::Conflict { .. } => {
            Flash::set(&ctx.session, "error", sentence(&e.to_string())).await;
            Ok(see_other(back))
        }
        e => Err(e.into()),
    }
}
