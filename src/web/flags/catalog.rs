//! The catalog: a project's flags and every flag the user can see, filtered, sorted, paged.

use super::outcomes::{self, Switched};
use super::results::{results, Place, Results};
use crate::authz::{Action, ProjectAccess};
use crate::catalog::filter::CatalogFilter;
use crate::catalog::store;
use crate::catalog::FlagType;
use crate::http::extract::CurrentUser;
use crate::projects::Project;
use crate::state::AppState;
use crate::web::{render, see_other, Layout, PageResult};
use askama::Template;
use axum::extract::{Query, RawQuery, State};
use axum::http::HeaderValue;
use axum::response::Response;
use axum_htmx::HxRequest;
use serde::Deserialize;
use tower_sessions::Session;
#[derive(Template)]
#[template(path = "flags/_results.html")]
struct ResultsPartial {
    r: Results,
}

/// The choices of the filter bar.
pub struct FilterChoices {
    projects: Vec<String>,
    envs: Vec<String>,
    tags: Vec<String>,
    types: Vec<&'static str>,
    /// Stale reason codes with their labels.
    reasons: Vec<(&'static str, &'static str)>,
}

fn reason_choices() -> Vec<(&'static str, &'static str)> {
    crate::lifecycle::stale::Code::ALL
        .into_iter()
        .map(|c| (c.as_str(), c.label()))
        .collect()
}

#[derive(Template)]
#[template(path = "flags/list.html")]
struct CatalogPage {
    layout: Layout,
    /// The project's key on its catalog, "" on the cross-project page.
    project_key: String,
    project_name: String,
    can_create: bool,
    can_manage: bool,
    choices: FilterChoices,
    r: Results,
    /// Where the bulk form comes back to: this page's address.
    back: String,
    /// Where the bulk form posts ("" when there is none).
    bulk_action: String,
    /// What a bulk switch just did here, once.
    switched: Option<Switched>,
}

#[derive(Deserialize, Default)]
pub(super) struct ProjectPick {
    #[serde(default)]
    project: Option<String>,
}

pub(super) async fn list_flags(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    HxRequest(hx): HxRequest,
    RawQuery(raw): RawQuery,
    Query(filter): Query<CatalogFilter>,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let projects = vec![access.project.clone()];
    let can_create = access.can(Action::CreateFlag);
    let base = format!("/projects/{}/flags", access.project.key);
    let place = Place {
        create_href: if can_create {
            format!("{base}/new")
        } else {
            String::new()
        },
        base,
        project_param: String::new(),
        selectable: access.can(Action::EditFlag),
        viewer: access.identity.user.id,
    };
    let r = results(&mut conn, &projects, filter, place, app.now()).await?;
    if let Some(answer) = clean_address(&r, hx, raw.as_deref()) {
        return answer;
    }
    if hx {
        let address = r.canonical_href();
        return pushed(&address, render(&ResultsPartial { r })?);
    }
    let tags = store::project_tags(&mut conn, access.project.id).await?;
    let choices = FilterChoices {
        projects: Vec::new(),
        envs: r.env_keys.clone(),
        tags,
        types: FlagType::ALL.iter().map(|t| t.as_str()).collect(),
        reasons: reason_choices(),
    };
    let p = &access.project;
    let switched = outcomes::take(&session, &r.base).await;
    render(&CatalogPage {
        layout: Layout::new(
            &session,
            Some(&access.identity),
            format!("Flags · {}", p.name),
            "flags",
        )
        .await,
        project_key: p.key.clone(),
        project_name: p.name.clone(),
        can_create,
        can_manage: access.can(Action::ManageSettings),
        choices,
        back: r.canonical_href(),
        bulk_action: format!("/projects/{}/bulk-flags", p.key),
        switched,
        r,
    })
}

pub(super) async fn all_flags(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(id): CurrentUser,
    HxRequest(hx): HxRequest,
    RawQuery(raw): RawQuery,
    Query(pick): Query<ProjectPick>,
    Query(filter): Query<CatalogFilter>,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let visible = crate::authz::Reach::of(&mut conn, &id)
        .await?
        .projects()
        .to_vec();
    let keys: Vec<String> = visible.iter().map(|p| p.key.clone()).collect();
    let pick = pick
        .project
        .filter(|p| keys.contains(p))
        .unwrap_or_default();
    let chosen: Vec<Project> = visible
        .into_iter()
        .filter(|p| pick.is_empty() || p.key == pick)
        .collect();
    // Anyone who may edit flags somewhere may select; each flag's project decides.
    let mut selectable = false;
    for p in &chosen {
        let role = crate::projects::store::role_of(&mut conn, p.id, id.user.id).await?;
        let principal = crate::authz::reach::principal(&id, role);
        selectable |= crate::authz::allows(principal, Action::EditFlag).is_ok();
    }
    let place = Place {
        base: "/flags".into(),
        project_param: pick,
        create_href: String::new(),
        selectable,
        viewer: id.user.id,
    };
    let r = results(&mut conn, &chosen, filter, place, app.now()).await?;
    if let Some(answer) = clean_address(&r, hx, raw.as_deref()) {
        return answer;
    }
    if hx {
        let address = r.canonical_href();
        return pushed(&address, render(&ResultsPartial { r })?);
    }
    let choices = FilterChoices {
        projects: keys,
        envs: r.env_keys.clone(),
        tags: Vec::new(),
        types: FlagType::ALL.iter().map(|t| t.as_str()).collect(),
        reasons: reason_choices(),
    };
    let switched = outcomes::take(&session, &r.base).await;
    render(&CatalogPage {
        layout: Layout::new(&session, Some(&id), "Flags", "flags").await,
        project_key: String::new(),
        project_name: String::new(),
        can_create: false,
        can_manage: false,
        choices,
        back: r.canonical_href(),
        bulk_action: "/bulk-flags".into(),
        switched,
        r,
    })
}

/// A shared catalog address carries only what is set: a page asked for with empty parameters (a
/// form sent without JavaScript) is sent to its clean address. Other addresses, older spellings
/// (`stage=`) included, are answered as they are. htmx requests are answered in place;
/// [`pushed`] tells htmx the clean address to show.
fn clean_address(r: &Results, hx: bool, raw: Option<&str>) -> Option<PageResult> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).ok()?;
    let empty = pairs.iter().any(|(_, v)| v.trim().is_empty());
    (!hx && empty).then(|| Ok(see_other(&r.canonical_href())))
}

/// The partial, with the address htmx pushes into the history: the clean one, whatever the form
/// sent.
fn pushed(address: &str, mut res: Response) -> PageResult {
    if let Ok(v) = HeaderValue::from_str(address) {
        res.headers_mut().insert("hx-push-url", v);
    }
    Ok(res)
}
