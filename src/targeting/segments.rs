//! The project's segments: reusable constraint lists that strategies refer to by id.

use super::store::{self, SegmentRecord};
use super::strategies::{json_list, path_error, paths, to_json};
use crate::audit::{self, Actor, NewEntry};
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult, PathError};
use crate::evaluation::validate_constraints;
use crate::projects::Project;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use unleash_types::client_features::Constraint;

/// A segment as the admin API receives it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SegmentDraft {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub constraints: Vec<Constraint>,
}

/// Where a segment is used: one strategy list of one flag environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentUse {
    pub flag: String,
    pub environment: String,
    pub protected: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub constraints: Vec<Value>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub used_by: Vec<SegmentUse>,
}

impl SegmentView {
    /// The constraints as typed values, for describing and editing.
    pub fn constraint_list(&self) -> Vec<Constraint> {
        serde_json::from_value(Value::Array(self.constraints.clone())).unwrap_or_default()
    }
}

pub(super) fn segment_view(r: SegmentRecord, used_by: Vec<SegmentUse>) -> SegmentView {
    SegmentView {
        id: r.id,
        name: r.name,
        description: r.description,
        constraints: json_list(&r.constraints),
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
        used_by,
    }
}

pub(super) fn audit_segment(s: &SegmentView) -> Value {
    json!({ "name": s.name, "description": s.description, "constraints": s.constraints })
}

/// Only the `segments` of each strategy: the rest is skipped unread, so counting uses over many
/// flags builds no JSON trees.
#[derive(Deserialize)]
struct SegmentRefs {
    #[serde(default)]
    segments: Value,
}

/// The segment ids a stored strategy list references.
fn segment_ids(strategies: &str) -> Vec<i64> {
    let lists: Vec<Value> = match serde_json::from_str::<Vec<SegmentRefs>>(strategies) {
        Ok(refs) => refs.into_iter().map(|r| r.segments).collect(),
        // Not a list of objects: read it as the editor does, skipping what is not a strategy.
        Err(_) => json_list(strategies)
            .into_iter()
            .filter_map(|mut s| s.get_mut("segments").map(Value::take))
            .collect(),
    };
    lists
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_i64)
        .collect()
}

/// Every use of each segment id in the project's stored strategies (archived flags included: a
/// revived flag must not point at a segment that is gone).
pub(super) async fn usage(conn: &mut Conn, project: &Project) -> AppResult<Vec<(i64, SegmentUse)>> {
    let mut out = Vec::new();
    for (flag, environment, protected, strategies) in
        store::strategies_using_segments(conn, project.id).await?
    {
        let mut ids = segment_ids(&strategies);
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            out.push((
                id,
                SegmentUse {
                    flag: flag.clone(),
                    environment: environment.clone(),
                    protected,
                },
            ));
        }
    }
    Ok(out)
}

pub async fn segment_usage(
    conn: &mut Conn,
    project: &Project,
    id: i64,
) -> AppResult<Vec<SegmentUse>> {
    Ok(usage(conn, project)
        .await?
        .into_iter()
        .filter(|(i, _)| *i == id)
        .map(|(_, u)| u)
        .collect())
}

/// The project's segments as (id, name), without their uses: what a strategy's picker needs.
pub async fn segment_names(conn: &mut Conn, project: &Project) -> AppResult<Vec<(i64, String)>> {
    Ok(store::segment_names_of(conn, project.id).await?)
}

pub async fn segments(conn: &mut Conn, project: &Project) -> AppResult<Vec<SegmentView>> {
    let uses = usage(&mut *conn, project).await?;
    Ok(store::segments_of(&mut *conn, project.id)
        .await?
        .into_iter()
        .map(|r| {
            let used = uses
                .iter()
                .filter(|(i, _)| *i == r.id)
                .map(|(_, u)| u.clone())
                .collect();
            segment_view(r, used)
        })
        .collect())
}

pub(super) fn segment_not_found(project: &Project, id: i64) -> AppError {
    AppError::not_found(format!(
        "there is no segment {id} in the project {}",
        project.key
    ))
}

pub async fn segment(conn: &mut Conn, project: &Project, id: i64) -> AppResult<SegmentView> {
    let r = store::segment_by_id(&mut *conn, project.id, id)
        .await?
        .ok_or_else(|| segment_not_found(project, id))?;
    let used = segment_usage(conn, project, id).await?;
    Ok(segment_view(r, used))
}

/// The draft's name and description, checked, plus its constraints' problems.
pub(super) async fn check_segment(
    conn: &mut Conn,
    project: &Project,
    draft: &SegmentDraft,
    id: Option<i64>,
) -> AppResult<(String, String)> {
    let mut errors: Vec<PathError> = Vec::new();
    let name = draft.name.trim().to_string();
    if name.is_empty() {
        errors.push(path_error("name", "a segment needs a name"));
    } else if name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.push(path_error(
            "name",
            "a name has at most 100 characters and no control characters",
        ));
    } else if let Some(other) = store::segment_by_name(conn, project.id, &name).await? {
        if Some(other.id) != id {
            errors.push(path_error(
                "name",
                format!("a segment named {name:?} already exists in this project"),
            ));
        }
    }
    let description = draft.description.trim().to_string();
    if description.chars().count() > 1000 {
        errors.push(path_error(
            "description",
            "a description has at most 1000 characters",
        ));
    }
    errors.extend(paths(validate_constraints(
        &draft.constraints,
        "constraints",
    )));
    if errors.is_empty() {
        Ok((name, description))
    } else {
        Err(AppError::InvalidPaths(errors))
    }
}

pub async fn create_segment(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    draft: SegmentDraft,
    now: DateTime<Utc>,
) -> AppResult<SegmentView> {
    let (name, description) = check_segment(&mut *conn, project, &draft, None).await?;
    let constraints = to_json(&draft.constraints)?;
    let id = store::insert_segment(
        &mut *conn,
        project.id,
        (&name, &description, &constraints),
        &stamp(now),
    )
    .await?;
    let view = segment(&mut *conn, project, id).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::SegmentCreated,
            format!("segment {}/{}", project.key, name),
        )
        .project(&project.key)
        .after(audit_segment(&view)),
        now,
    )
    .await?;
    Ok(view)
}

pub async fn update_segment(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    id: i64,
    draft: SegmentDraft,
    now: DateTime<Utc>,
) -> AppResult<SegmentView> {
    let before = segment(&mut *conn, project, id).await?;
    let (name, description) = check_segment(&mut *conn, project, &draft, Some(id)).await?;
    let constraints = to_json(&draft.constraints)?;
    store::update_segment(
        &mut *conn,
        id,
        (&name, &description, &constraints),
        &stamp(now),
    )
    .await?;
    let after = segment(&mut *conn, project, id).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::SegmentUpdated,
            format!("segment {}/{}", project.key, name),
        )
        .project(&project.key)
        .before(audit_segment(&before))
        .after(audit_segment(&after)),
        now,
    )
    .await?;
    Ok(after)
}

/// Deletes a segment no strategy uses; otherwise refuses, naming the flags that use it.
pub async fn delete_segment(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let before = segment(&mut *conn, project, id).await?;
    if !before.used_by.is_empty() {
        let mut flags: Vec<&str> = before.used_by.iter().map(|u| u.flag.as_str()).collect();
        flags.dedup();
        return Err(AppError::conflict(
            "segment-in-use",
            format!(
                "the segment {} is used by the flag{} {}; remove it from their strategies first",
                before.name,
                if flags.len() == 1 { "" } else { "s" },
                flags.join(", ")
            ),
        ));
    }
    store::delete_segment(&mut *conn, id).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::SegmentDeleted,
            format!("segment {}/{}", project.key, before.name),
        )
        .project(&project.key)
        .before(audit_segment(&before)),
        now,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod segment_id_tests {
    use super::segment_ids;

    #[test]
    fn segment_ids_are_read_from_every_strategy_whatever_else_it_holds() {
        let cases: [(&str, &[i64]); 7] = [
            (r#"[{"name":"default","segments":[]}]"#, &[]),
            (
                r#"[{"constraints":[{"values":["segments"]}],"segments":[]},{"segments":[3, 1]}]"#,
                &[3, 1],
            ),
            (r#"[{"name":"default"}]"#, &[]),
            (r#"[ { "segments" : [ 7 ] } ]"#, &[7]),
            (r#"[{"segments":null},{"segments":"2"}]"#, &[]),
            (r#"[5, {"segments":[4]}]"#, &[4]),
            ("not json", &[]),
        ];
        for (stored, ids) in cases {
            assert_eq!(segment_ids(stored), ids, "{stored}");
        }
    }
}
