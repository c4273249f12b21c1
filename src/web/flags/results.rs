//! The results part of the catalog: one page of flags with, per environment, on/off and how far
//! it reaches (`targeting::exposure`), when SDKs last evaluated it, its paging and sort links.
//! Built with a fixed number of queries per page, whatever the catalog's size.

use super::governance::PendingBadge;
use crate::audit::describe::Names;
use crate::catalog::filter::{CatalogFilter, Sort, PAGE_SIZE};
use crate::catalog::store::{self, EnvState, FlagRow};
use crate::changes::service as changes;
use crate::db::Conn;
use crate::projects::{store as projects_store, Project};
use crate::targeting::exposure;
use crate::targeting::store as targeting_store;
use crate::usage::store as usage_store;
use crate::web::text::{ago, short_date, short_time};
use crate::web::PageError;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;

/// One cell of the environment columns: `known` is false where a project lacks the environment.
pub struct Cell {
    pub known: bool,
    pub on: bool,
    /// "10 %", "2 rules", "everyone"… ("" when off).
    pub exposure: String,
    /// Some users, not all: the words are shown louder.
    pub partial: bool,
    /// The strategies as sentences, for the tooltip.
    pub detail: String,
}

pub struct CatalogRow {
    pub project: String,
    pub key: String,
    pub name: String,
    pub flag_type: String,
    pub owner: String,
    pub tags: Vec<String>,
    pub cells: Vec<Cell>,
    pub stage: &'static str,
    pub stale: String,
    pub archived: bool,
    /// "3 h ago", or "never" when no SDK reported an evaluation.
    pub last_seen: String,
    pub last_seen_at: String,
    pub updated: String,
    pub updated_at: String,
    /// The change requests under way that touch the flag (the viewer's own drafts included).
    pub pending: Vec<PendingBadge>,
}

/// The results part of the catalog: the table, its paging and its empty states.
pub struct Results {
    pub base: String,
    /// The project filter of the cross-project page ("" on a project's page).
    pub project_param: String,
    pub filter: CatalogFilter,
    pub env_keys: Vec<String>,
    pub rows: Vec<CatalogRow>,
    pub show_project: bool,
    /// Rows carry a checkbox for the bulk actions (a project's catalog, for editors).
    pub selectable: bool,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// Where "create one" points when the catalog is empty ("" when the user can't create).
    pub create_href: String,
}

/// Where the results are shown and for whom.
pub struct Place {
    pub base: String,
    pub project_param: String,
    pub create_href: String,
    pub selectable: bool,
    /// Who reads the page: their own drafts show as pending too.
    pub viewer: i64,
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

    /// This very page's address, without empty or default parameters: what htmx pushes.
    pub fn canonical_href(&self) -> String {
        self.href(&[])
    }

    /// The link of a column header: the column in its natural order (dates newest first), or
    /// the active column in the other order.
    pub fn sort_href(&self, col: &str) -> String {
        let sort = Sort::parse(col);
        let natural = sort.newest_first();
        let desc = if self.filter.sort() == sort {
            !self.filter.descending()
        } else {
            natural
        };
        let dir = match (desc, natural) {
            (true, false) => "desc",
            (false, true) => "asc",
            _ => "",
        };
        let col = if sort == Sort::Key { "" } else { col };
        self.href(&[("sort", col), ("dir", dir), ("page", "")])
    }

    pub fn aria_sort(&self, col: &str) -> &'static str {
        match (self.filter.sort_key() == col, self.filter.descending()) {
            (false, _) => "",
            (true, false) => "ascending",
            (true, true) => "descending",
        }
    }

    /// What following the header link does, for screen readers and the tooltip.
    pub fn sort_title(&self, col: &str) -> &'static str {
        let natural = Sort::parse(col).newest_first();
        let desc = match self.aria_sort(col) {
            "ascending" => true,
            "descending" => false,
            _ => natural,
        };
        match (natural, desc) {
            (true, true) => "Sort newest first",
            (true, false) => "Sort oldest first",
            (false, false) => "Sort A to Z",
            (false, true) => "Sort Z to A",
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

    /// How many filters are set, for the folded filter bar's summary ("Filters (2)").
    pub fn filter_count(&self) -> usize {
        let q = self
            .filter
            .query_with(&[("sort", ""), ("dir", ""), ("page", "")]);
        let set = if q.is_empty() {
            0
        } else {
            q.split('&').count()
        };
        set + usize::from(!self.project_param.is_empty())
    }
}

/// One page of flags with their states, exposure, tags and last evaluation: six queries for the
/// flags, one per project for its environments, one for its segment names and one for its
/// change requests under way.
pub async fn results(
    conn: &mut Conn,
    projects: &[Project],
    filter: CatalogFilter,
    place: Place,
    now: DateTime<Utc>,
) -> Result<Results, PageError> {
    let ids: Vec<i64> = projects.iter().map(|p| p.id).collect();
    let page = store::search(&mut *conn, &ids, &filter, None).await?;
    let flag_ids: Vec<i64> = page.flags.iter().map(|f| f.id).collect();
    let states = store::env_states(&mut *conn, &flag_ids).await?;
    let mut tags = store::tags_of(&mut *conn, &flag_ids).await?;
    let env_keys = env_columns(&mut *conn, projects).await?;
    let mut stale = crate::lifecycle::store::stale_reasons_of(&mut *conn, &flag_ids).await?;
    let seen_keys: Vec<(i64, &str)> = page
        .flags
        .iter()
        .map(|f| (f.project_id, f.key.as_str()))
        .collect();
    let mut seen = usage_store::last_seen_of(&mut *conn, &seen_keys).await?;
    let mut names = HashMap::new();
    for p in projects {
        let segments = targeting_store::segment_names_of(&mut *conn, p.id).await?;
        names.insert(p.id, Names::with_segments(segments));
    }
    let mut pending = HashMap::new();
    for p in projects {
        pending.extend(changes::pending_by_flag(&mut *conn, p.id, &flag_ids, place.viewer).await?);
    }
    let keys: HashMap<i64, &str> = projects.iter().map(|p| (p.id, p.key.as_str())).collect();
    let mut by_flag: HashMap<i64, Vec<&EnvState>> = HashMap::new();
    for s in &states {
        by_flag.entry(s.flag_id).or_default().push(s);
    }
    let none = Names::default();
    let rows = page
        .flags
        .into_iter()
        .map(|f| {
            let mine = by_flag.remove(&f.id).unwrap_or_default();
            let project = keys.get(&f.project_id).copied().unwrap_or_default();
            let extra = Extra {
                project: project.to_string(),
                tags: tags.remove(&f.id).unwrap_or_default(),
                reasons: stale.remove(&f.id),
                last_seen: seen.remove(&(f.project_id, f.key.clone())),
                names: names.get(&f.project_id).unwrap_or(&none),
                pending: pending.remove(&f.id).unwrap_or_default(),
            };
            catalog_row(f, &mine, &env_keys, extra, now)
        })
        .collect();
    let pages = ((page.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    Ok(Results {
        show_project: place.base == "/flags",
        base: place.base,
        project_param: place.project_param,
        selectable: place.selectable,
        page: filter.page(),
        filter,
        env_keys,
        rows,
        total: page.total,
        pages,
        create_href: place.create_href,
    })
}

/// Environment keys in order; across projects, each key once, in its lowest position.
async fn env_columns(conn: &mut Conn, projects: &[Project]) -> Result<Vec<String>, PageError> {
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
fn stale_words(reasons: Option<&Value>) -> String {
    reasons
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("code").and_then(Value::as_str))
        .filter_map(crate::lifecycle::stale::Code::parse)
        .map(|c| c.label())
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a row needs beside the flag and its environments.
struct Extra<'a> {
    project: String,
    tags: Vec<String>,
    reasons: Option<Value>,
    last_seen: Option<String>,
    names: &'a Names,
    pending: Vec<changes::Pending>,
}

fn json_list(s: &str) -> Vec<Value> {
    serde_json::from_str(s).unwrap_or_default()
}

fn cell(state: &EnvState, names: &Names) -> Cell {
    let (strategies, variants) = (json_list(&state.strategies), json_list(&state.variants));
    let e = exposure::summarise(state.enabled, &strategies, &variants, names);
    Cell {
        known: true,
        on: state.enabled,
        exposure: if state.enabled {
            e.label()
        } else {
            String::new()
        },
        partial: e.partial(),
        detail: e.detail,
    }
}

fn catalog_row(
    f: FlagRow,
    states: &[&EnvState],
    env_keys: &[String],
    x: Extra<'_>,
    now: DateTime<Utc>,
) -> CatalogRow {
    let archived = f.archived_at.is_some();
    let pairs: Vec<(bool, bool)> = states.iter().map(|s| s.stage_pair()).collect();
    let cells = env_keys
        .iter()
        .map(|k| match states.iter().find(|s| &s.env_key == k) {
            Some(s) => cell(s, x.names),
            None => Cell {
                known: false,
                on: false,
                exposure: String::new(),
                partial: false,
                detail: String::new(),
            },
        })
        .collect();
    let (last_seen, last_seen_at) = match &x.last_seen {
        Some(hour) => (ago(hour, now), short_time(hour)),
        None => ("never".to_string(), String::new()),
    };
    CatalogRow {
        project: x.project,
        stage: f.stage(&pairs).as_str(),
        stale: stale_words(x.reasons.as_ref()),
        owner: f.owner.unwrap_or_default(),
        updated: short_date(&f.updated_at),
        updated_at: short_time(&f.updated_at),
        last_seen,
        last_seen_at,
        key: f.key,
        name: f.name,
        flag_type: f.flag_type,
        tags: x.tags,
        cells,
        archived,
        pending: x.pending.into_iter().map(PendingBadge::from).collect(),
    }
}
