//! The catalog: a project's flags and every flag the user can see, filtered, sorted, paged.

use super::short_time;
use crate::authz::{Action, ProjectAccess};
use crate::catalog::filter::{CatalogFilter, PAGE_SIZE};
use crate::catalog::store::{self, EnvState, FlagRow};
use crate::catalog::FlagType;
use crate::http::extract::CurrentUser;
use crate::projects::{store as projects_store, Project};
use crate::state::AppState;
use crate::web::{render, Layout, PageError, PageResult};
use askama::Template;
use axum::extract::{Query, State};
use axum_htmx::HxRequest;
use serde::Deserialize;
use sqlx::SqliteConnection;
use std::collections::HashMap;
use tower_sessions::Session;
// ---------- The catalog ----------

/// One cell of the environment columns: `known` is false where a project lacks the environment.
pub struct Cell {
    known: bool,
    on: bool,
}

pub struct CatalogRow {
    project: String,
    key: String,
    name: String,
    flag_type: String,
    owner: String,
    tags: Vec<String>,
    cells: Vec<Cell>,
    stage: &'static str,
    stale: String,
    archived: bool,
    updated: String,
}

/// The results part of the catalog: the table, its paging and its empty states.
pub struct Results {
    base: String,
    /// The project filter of the cross-project page ("" on a project's page).
    project_param: String,
    filter: CatalogFilter,
    env_keys: Vec<String>,
    rows: Vec<CatalogRow>,
    show_project: bool,
    total: i64,
    page: i64,
    pages: i64,
    /// Where "create one" points when the catalog is empty ("" when the user can't create).
    create_href: String,
}

impl Results {
    fn href(&self, overrides: &[(&str, &str)]) -> String {
        let mut q = self.filter.query_with(overrides);
        if !self.project_param.is_empty() {
            let p = serde_urlencoded::to_string([("project", &self.project_param)]);
            let p = p.unwrap_or_default();
            q = if q.is_empty() { p } else { format!("{p}&{q}") };
        }
        if q.is_empty() {
            self.base.clone()
        } else {
            format!("{}?{q}", self.base)
        }
    }

    pub fn sort_href(&self, col: &str) -> String {
        let desc = self.filter.sort_key() == col && !self.filter.descending();
        self.href(&[
            ("sort", col),
            ("dir", if desc { "desc" } else { "" }),
            ("page", ""),
        ])
    }

    pub fn aria_sort(&self, col: &str) -> &'static str {
        match (self.filter.sort_key() == col, self.filter.descending()) {
            (false, _) => "",
            (true, false) => "ascending",
            (true, true) => "descending",
        }
    }

    pub fn page_href(&self, page: &i64) -> String {
        let p = page.to_string();
        self.href(&[("page", if *page <= 1 { "" } else { &p })])
    }

    pub fn prev_href(&self) -> String {
        self.page_href(&(self.page - 1))
    }

    pub fn next_href(&self) -> String {
        self.page_href(&(self.page + 1))
    }

    pub fn clear_href(&self) -> String {
        self.base.clone()
    }

    pub fn first(&self) -> i64 {
        if self.total == 0 {
            0
        } else {
            (self.page - 1) * PAGE_SIZE + 1
        }
    }

    pub fn last(&self) -> i64 {
        (self.page * PAGE_SIZE).min(self.total)
    }

    /// Page numbers to link, with 0 for a gap.
    pub fn page_numbers(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for n in 1..=self.pages {
            let near = (n - self.page).abs() <= 2;
            if n == 1 || n == self.pages || near {
                out.push(n);
            } else if out.last() != Some(&0) {
                out.push(0);
            }
        }
        out
    }

    pub fn filtered(&self) -> bool {
        !self
            .filter
            .query_with(&[("sort", ""), ("dir", ""), ("page", "")])
            .is_empty()
    }
}

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
    Query(filter): Query<CatalogFilter>,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let projects = vec![access.project.clone()];
    let can_create = access.can(Action::CreateFlag);
    let base = format!("/projects/{}/flags", access.project.key);
    let create = if can_create {
        format!("{base}/new")
    } else {
        String::new()
    };
    let r = results(&mut conn, &projects, filter, base, String::new(), create).await?;
    if hx {
        return render(&ResultsPartial { r });
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
        r,
    })
}

pub(super) async fn all_flags(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(id): CurrentUser,
    HxRequest(hx): HxRequest,
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
    let r = results(
        &mut conn,
        &chosen,
        filter,
        "/flags".into(),
        pick,
        String::new(),
    )
    .await?;
    if hx {
        return render(&ResultsPartial { r });
    }
    let choices = FilterChoices {
        projects: keys,
        envs: r.env_keys.clone(),
        tags: Vec::new(),
        types: FlagType::ALL.iter().map(|t| t.as_str()).collect(),
        reasons: reason_choices(),
    };
    render(&CatalogPage {
        layout: Layout::new(&session, Some(&id), "Flags", "flags").await,
        project_key: String::new(),
        project_name: String::new(),
        can_create: false,
        can_manage: false,
        choices,
        r,
    })
}

/// One page of flags with their states and tags: three queries for the flags, two for the page.
async fn results(
    conn: &mut SqliteConnection,
    projects: &[Project],
    filter: CatalogFilter,
    base: String,
    project_param: String,
    create_href: String,
) -> Result<Results, PageError> {
    let ids: Vec<i64> = projects.iter().map(|p| p.id).collect();
    let page = store::search(&mut *conn, &ids, &filter, None).await?;
    let flag_ids: Vec<i64> = page.flags.iter().map(|f| f.id).collect();
    let states = store::env_states(&mut *conn, &flag_ids).await?;
    let mut tags = store::tags_of(&mut *conn, &flag_ids).await?;
    let env_keys = env_columns(&mut *conn, projects).await?;
    let mut stale = crate::lifecycle::store::stale_reasons_of(&mut *conn, &flag_ids).await?;
    let keys: HashMap<i64, &str> = projects.iter().map(|p| (p.id, p.key.as_str())).collect();
    let rows = page
        .flags
        .into_iter()
        .map(|f| {
            let mine: Vec<&EnvState> = states.iter().filter(|s| s.flag_id == f.id).collect();
            let reasons = stale.remove(&f.id);
            let t = tags.remove(&f.id).unwrap_or_default();
            let project = keys
                .get(&f.project_id)
                .copied()
                .unwrap_or_default()
                .to_string();
            catalog_row(f, project, &mine, &env_keys, t, reasons)
        })
        .collect();
    let pages = ((page.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let show_project = base == "/flags";
    Ok(Results {
        base,
        show_project,
        project_param,
        page: filter.page(),
        filter,
        env_keys,
        rows,
        total: page.total,
        pages,
        create_href,
    })
}

/// Environment keys in order; across projects, each key once, in its lowest position.
async fn env_columns(
    conn: &mut SqliteConnection,
    projects: &[Project],
) -> Result<Vec<String>, PageError> {
    let mut seen: Vec<(i64, String)> = Vec::new();
    for p in projects {
        for e in projects_store::environments(&mut *conn, p.id).await? {
            match seen.iter_mut().find(|(_, k)| *k == e.key) {
                Some(s) => s.0 = s.0.min(e.sort_order),
                None => seen.push((e.sort_order, e.key)),
            }
        }
    }
    seen.sort();
    Ok(seen.into_iter().map(|(_, k)| k).collect())
}

/// The badge's words for stored stale reasons: "unused; no owner".
fn stale_words(reasons: Option<&serde_json::Value>) -> String {
    reasons
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("code").and_then(serde_json::Value::as_str))
        .filter_map(crate::lifecycle::stale::Code::parse)
        .map(|c| c.label())
        .collect::<Vec<_>>()
        .join("; ")
}

fn catalog_row(
    f: FlagRow,
    project: String,
    states: &[&EnvState],
    env_keys: &[String],
    tags: Vec<String>,
    reasons: Option<serde_json::Value>,
) -> CatalogRow {
    let archived = f.archived_at.is_some();
    let pairs: Vec<(bool, bool)> = states.iter().map(|s| s.stage_pair()).collect();
    let cells = env_keys
        .iter()
        .map(|k| match states.iter().find(|s| &s.env_key == k) {
            Some(s) => Cell {
                known: true,
                on: s.enabled,
            },
            None => Cell {
                known: false,
                on: false,
            },
        })
        .collect();
    CatalogRow {
        project,
        stage: f.stage(&pairs).as_str(),
        stale: stale_words(reasons.as_ref()),
        owner: f.owner.unwrap_or_default(),
        updated: short_time(&f.updated_at),
        key: f.key,
        name: f.name,
        flag_type: f.flag_type,
        tags,
        cells,
        archived,
    }
}
