//! A request's flags as their environment serves them before and after the request, whole
//! (switch, strategies, variants, parents), for reviewers to read side by side with the per-change
//! lines (issue 9: "the environment's whole configuration before and after").

use super::queries::ChangeRequestView;
use crate::audit::describe::{Configuration, Names};
use crate::catalog::store as catalog;
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::store as projects;
use crate::targeting::{service as targeting, store as targeting_store};

/// One flag of the request: its configuration in the request's environment without and with the
/// request's changes.
pub struct FlagConfigurations {
    pub flag: String,
    pub before: Configuration,
    pub after: Configuration,
}

/// The names the request's configurations refer to (its project's segments).
pub async fn names(conn: &mut Conn, project_key: &str) -> AppResult<Names> {
    let Some(project) = projects::project_by_key(&mut *conn, project_key).await? else {
        return Ok(Names::default());
    };
    names_in(conn, project.id).await
}

/// The same by the project's id (for the webhook that tells reviewers of a request).
pub async fn names_in(conn: &mut Conn, project_id: i64) -> AppResult<Names> {
    let segments = targeting_store::segment_names_of(conn, project_id).await?;
    Ok(Names::with_segments(segments))
}

/// Every flag the request changes, in the order its changes were added. The parts a change does
/// not touch are read from the live configuration; the parts it touches are the change's own
/// before and after.
pub async fn configurations(
    conn: &mut Conn,
    cr: &ChangeRequestView,
) -> AppResult<Vec<FlagConfigurations>> {
    let Some(project) = projects::project_by_key(&mut *conn, &cr.project).await? else {
        return Ok(Vec::new());
    };
    let Some(env) = projects::environment(&mut *conn, project.id, &cr.environment).await? else {
        return Ok(Vec::new());
    };
    let mut flags: Vec<&str> = Vec::new();
    for flag in cr.items.iter().filter_map(|i| i.flag.as_deref()) {
        if !flags.contains(&flag) {
            flags.push(flag);
        }
    }
    let mut out = Vec::new();
    for flag in flags {
        let Some(row) = catalog::flag_by_key(&mut *conn, project.id, flag).await? else {
            continue;
        };
        let live = targeting::targeting(&mut *conn, &project, flag, &env).await?;
        let parents = targeting::dependencies(&mut *conn, &project, flag).await?;
        let base = Configuration {
            archived: row.archived_at.is_some(),
            enabled: live.enabled,
            strategies: live.strategies,
            variants: live.variants,
            dependencies: parents
                .iter()
                .filter_map(|d| serde_json::to_value(d).ok())
                .collect(),
        };
        let items = cr.items.iter().filter(|i| i.flag.as_deref() == Some(flag));
        let (mut before, mut after) = (base.clone(), base);
        for i in items {
            before = before.with(&i.before);
            after = after.with(&i.after);
            if i.kind == "archive" {
                after.archived = true;
            }
        }
        out.push(FlagConfigurations {
            flag: flag.to_string(),
            before,
            after,
        });
    }
    Ok(out)
}
