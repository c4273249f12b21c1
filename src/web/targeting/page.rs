//! The flag's Targeting tab: one environment's strategies in words, and the form that edits them.
//! Adding or removing a strategy, constraint or variant posts the form back and re-renders it
//! (no client script); "Save" replaces the strategies through `targeting::service`.

use super::form::{
    self, ConstraintForm, FormErrors, SegmentChoice, StrategyForm, VariantForm, OPERATORS,
    STRATEGIES,
};
use super::{encode, Choice};
use crate::authz::{Action, ProjectAccess};
use crate::catalog::service as catalog;
use crate::changes::service as changes;
use crate::changes::Proposal;
use crate::db::begin_write;
use crate::error::AppError;
use crate::evaluation::StrategyDraft;
use crate::http::commands;
use crate::projects::{store as projects_store, Environment};
use crate::state::AppState;
use crate::targeting::service as targeting;
use crate::web::{render, see_other, Flash, Layout, PageError, PageResult, WebForm};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tower_sessions::Session;

#[derive(Deserialize)]
pub(super) struct FlagPath {
    #[allow(dead_code)]
    project: String,
    key: String,
}

#[derive(Deserialize, Default)]
pub(super) struct EnvQuery {
    #[serde(default)]
    env: Option<String>,
}

pub struct EnvLink {
    key: String,
    protected: bool,
    current: bool,
}

#[derive(Template)]
#[template(path = "targeting/show.html")]
struct TargetingPage {
    layout: Layout,
    project_key: String,
    /// The flag page's address.
    href: String,
    key: String,
    name: String,
    flag_type: String,
    value_type: String,
    envs: Vec<EnvLink>,
    env: Environment,
    enabled: bool,
    summary: Vec<String>,
    /// Stored strategies the editor cannot show (an import in another shape).
    unreadable: bool,
    can_change: bool,
    note: String,
    strategies: Vec<StrategyForm>,
    errors: FormErrors,
    unplaced: Vec<String>,
    operators: Vec<&'static str>,
    strategy_types: Vec<Choice>,
    payload_types: Vec<&'static str>,
    has_segments: bool,
    /// The environments this person may copy this one's targeting to.
    copy_targets: Vec<EnvLink>,
}

/// What the page shows besides the form: the flag, its environments and the chosen one.
struct Loaded {
    detail: catalog::FlagDetail,
    envs: Vec<Environment>,
    env: Environment,
    targeting: targeting::Targeting,
    segments: Vec<(i64, String)>,
}

async fn load(
    app: &AppState,
    access: &ProjectAccess,
    key: &str,
    env: Option<&str>,
) -> Result<Loaded, PageError> {
    let mut conn = app.db.acquire().await?;
    let detail = catalog::detail(&mut conn, &access.project, key, app.now()).await?;
    let envs = projects_store::environments(&mut conn, access.project.id).await?;
    let env = match env {
        Some(k) => envs.iter().find(|e| e.key == k),
        None => envs.first(),
    }
    .cloned()
    .ok_or_else(|| {
        AppError::not_found(format!(
            "the project {} has no environment {:?}",
            access.project.key,
            env.unwrap_or("")
        ))
    })?;
    let targeting = targeting::targeting(&mut conn, &access.project, key, &env).await?;
    let segments = targeting::segment_names(&mut conn, &access.project).await?;
    Ok(Loaded {
        detail,
        envs,
        env,
        targeting,
        segments,
    })
}

fn render_page(
    access: &ProjectAccess,
    layout: Layout,
    l: Loaded,
    form: Option<Vec<StrategyForm>>,
    errors: FormErrors,
) -> Result<TargetingPage, PageError> {
    let drafts = l.targeting.strategy_drafts();
    let segment_name = |id: i32| {
        l.segments
            .iter()
            .find(|(i, _)| *i == i64::from(id))
            .map_or(format!("#{id} (missing)"), |(_, n)| n.clone())
    };
    let summary = match &drafts {
        Some(d) => d.iter().map(|s| form::describe(s, segment_name)).collect(),
        None => l
            .targeting
            .strategies
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let archived = l.detail.flag.archived_at.is_some();
    let can = may_change(access, &l.env);
    let note = if archived {
        "This flag is archived: revive it before changing its targeting.".to_string()
    } else if can && l.env.protected {
        format!(
            "{} is protected: saving adds the change to your draft change request, \
             applied once it is approved.",
            l.env.key
        )
    } else if !can && l.env.protected {
        format!(
            "{} is protected: editors, approvers or owners may propose changes to it.",
            l.env.key
        )
    } else if !can {
        "Your role lets you read the targeting, not change it.".to_string()
    } else {
        String::new()
    };
    let mut strategies =
        form.unwrap_or_else(|| form::from_drafts(drafts.as_deref().unwrap_or(&[])));
    for s in &mut strategies {
        s.segment_choices = l
            .segments
            .iter()
            .map(|(id, name)| SegmentChoice {
                id: *id,
                name: name.clone(),
                checked: s.segments.contains(id),
            })
            .collect();
    }
    let unplaced = errors.unplaced();
    Ok(TargetingPage {
        project_key: access.project.key.clone(),
        href: format!(
            "/projects/{}/flags/{}",
            access.project.key,
            encode(&l.detail.flag.key)
        ),
        key: l.detail.flag.key.clone(),
        name: l.detail.flag.name.clone(),
        flag_type: l.detail.flag.flag_type.clone(),
        value_type: l.detail.flag.value_type.clone(),
        envs: l
            .envs
            .iter()
            .map(|e| EnvLink {
                key: e.key.clone(),
                protected: e.protected,
                current: e.id == l.env.id,
            })
            .collect(),
        enabled: l.targeting.enabled,
        summary,
        unreadable: drafts.is_none(),
        can_change: can && !archived,
        note,
        strategies,
        errors,
        unplaced,
        operators: OPERATORS.to_vec(),
        strategy_types: STRATEGIES
            .iter()
            .map(|(value, label)| Choice { value, label })
            .collect(),
        payload_types: vec!["string", "number", "json", "csv"],
        has_segments: !l.segments.is_empty(),
        copy_targets: if archived || drafts.is_none() {
            Vec::new()
        } else {
            l.envs
                .iter()
                .filter(|e| e.id != l.env.id && may_change(access, e))
                .map(|e| EnvLink {
                    key: e.key.clone(),
                    protected: e.protected,
                    current: false,
                })
                .collect()
        },
        env: l.env,
        layout,
    })
}

/// In a protected environment the form proposes: saving stages the change in a change request.
fn may_change(access: &ProjectAccess, env: &Environment) -> bool {
    access.can(Action::change_in(env.protected))
}

fn require_change(access: &ProjectAccess, env: &Environment) -> Result<(), AppError> {
    access.require(Action::change_in(env.protected))
}

pub(super) async fn show_targeting(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
    Query(q): Query<EnvQuery>,
) -> PageResult {
    let loaded = load(&app, &access, &p.key, q.env.as_deref()).await?;
    let title = format!("Targeting of {}", p.key);
    let layout = Layout::new(&session, Some(&access.identity), title, "flags").await;
    render(&render_page(
        &access,
        layout,
        loaded,
        None,
        FormErrors::default(),
    )?)
}

/// The button pressed: `save`, `add-strategy`, `remove-strategy:0`, `add-constraint:0`,
/// `remove-constraint:0:1`, `add-variant:0`, `remove-variant:0:1`.
fn apply(action: &str, new_strategy: &str, strategies: &mut Vec<StrategyForm>) {
    let (verb, target) = action.split_once(':').unwrap_or((action, ""));
    let mut nums = target.split(':').filter_map(|n| n.parse::<usize>().ok());
    let (i, j) = (nums.next(), nums.next());
    match (verb, i, j) {
        ("add-strategy", _, _) => {
            let name = if STRATEGIES.iter().any(|(n, _)| *n == new_strategy) {
                new_strategy
            } else {
                "default"
            };
            strategies.push(StrategyForm::new(name));
        }
        ("remove-strategy", Some(i), _) if i < strategies.len() => {
            strategies.remove(i);
        }
        ("add-constraint", Some(i), _) if i < strategies.len() => {
            strategies[i].constraints.push(ConstraintForm {
                operator: "IN".into(),
                ..Default::default()
            });
        }
        ("remove-constraint", Some(i), Some(j))
            if i < strategies.len() && j < strategies[i].constraints.len() =>
        {
            strategies[i].constraints.remove(j);
        }
        ("add-variant", Some(i), _) if i < strategies.len() => {
            strategies[i].variants.push(VariantForm::default());
        }
        ("remove-variant", Some(i), Some(j))
            if i < strategies.len() && j < strategies[i].variants.len() =>
        {
            strategies[i].variants.remove(j);
        }
        _ => {}
    }
    form::renumber(strategies);
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

pub(super) async fn post_targeting(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
    Query(q): Query<EnvQuery>,
    WebForm(pairs): WebForm<Vec<(String, String)>>,
) -> PageResult {
    let loaded = load(&app, &access, &p.key, q.env.as_deref()).await?;
    require_change(&access, &loaded.env)?;
    let mut strategies = form::parse_strategies(&pairs);
    let action = field(&pairs, "action");
    let errors = if action == "save" {
        match save(&app, &access, &p.key, &loaded.env, &strategies).await {
            Ok(Some(cr)) => {
                // A protected environment never changes in place: the change waits in the draft.
                let message = format!(
                    "Added to your draft change request #{cr}: the targeting of {} in {} stays \
                     as it is until the request is approved and applied.",
                    p.key, loaded.env.key
                );
                Flash::set(&session, "success", message).await;
                return Ok(see_other(&crate::web::href::change_request(cr)));
            }
            Ok(None) => {
                let message = format!("Targeting of {} in {} saved.", p.key, loaded.env.key);
                Flash::set(&session, "success", message).await;
                let to = format!(
                    "/projects/{}/flags/{}/targeting?env={}",
                    access.project.key,
                    encode(&p.key),
                    loaded.env.key
                );
                return Ok(see_other(&to));
            }
            Err(e) => e,
        }
    } else {
        apply(action, field(&pairs, "new_strategy"), &mut strategies);
        FormErrors::default()
    };
    let invalid = !errors.is_empty();
    let layout = Layout::new(
        &session,
        Some(&access.identity),
        format!("Targeting of {}", p.key),
        "flags",
    )
    .await;
    let page = render_page(&access, layout, loaded, Some(strategies), errors)?;
    let mut res = render(&page)?;
    if invalid {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

/// Proposes the strategies through `changes::service::propose`: applied at once, or (in a
/// protected environment) staged into the caller's draft, whose id comes back. Field errors come
/// back for the form; anything else is a real error.
async fn save(
    app: &AppState,
    access: &ProjectAccess,
    key: &str,
    env: &Environment,
    strategies: &[StrategyForm],
) -> Result<Option<i64>, FormErrors> {
    let drafts: Vec<StrategyDraft> = form::to_drafts(strategies).map_err(FormErrors)?;
    let result = async {
        let mut tx = begin_write(&app.db).await?;
        let change = changes::Change {
            flag_key: key,
            env: Some(env),
            proposal: Proposal::Strategies { strategies: drafts },
        };
        let outcome = commands::propose(&mut tx, access, change, app.now()).await?;
        app.writes.commit(tx).await?;
        Ok::<_, AppError>(match outcome {
            changes::Outcome::Staged(cr) => Some(cr.id),
            changes::Outcome::Applied(_) => None,
        })
    }
    .await;
    match result {
        Ok(staged) => Ok(staged),
        Err(AppError::InvalidPaths(e)) => Err(FormErrors::from_paths(e)),
        Err(other) => {
            other.log();
            Err(FormErrors(vec![crate::error::PathError {
                field: "form".into(),
                message: crate::web::sentence(&other.to_string()),
            }]))
        }
    }
}
