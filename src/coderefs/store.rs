//! SQL of code references: scans, the references they found, and the link template.

use crate::clock::stamp;
use crate::db::{Conn, QueryBuilder};
use chrono::{DateTime, Utc};

/// A repository's latest scan, with what it found.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScanRow {
    pub id: i64,
    pub repository: String,
    pub commit_id: Option<String>,
    pub branch: Option<String>,
    pub scanned_at: String,
    pub recorded_at: String,
    pub recorded_by: String,
    pub references: i64,
    pub flags: i64,
    pub files: i64,
}

const SCAN_SELECT: &str = "select s.id, s.repository, s.commit_id, s.branch, s.scanned_at, \
     s.recorded_at, s.recorded_by, \
     (select count(*) from code_references r where r.scan_id = s.id) as \"references\", \
     (select count(distinct r.flag_id) from code_references r where r.scan_id = s.id) as flags, \
     (select count(distinct r.file) from code_references r where r.scan_id = s.id) as files \
     from code_scans s";

pub async fn scans(conn: &mut Conn, project_id: i64) -> Result<Vec<ScanRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{SCAN_SELECT} where s.project_id = ? order by s.repository"
    ))
    .bind(project_id)
    .fetch_all(conn)
    .await
}

pub async fn scan_of_repository(
    conn: &mut Conn,
    project_id: i64,
    repository: &str,
) -> Result<Option<ScanRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{SCAN_SELECT} where s.project_id = ? and s.repository = ?"
    ))
    .bind(project_id)
    .bind(repository)
    .fetch_optional(conn)
    .await
}

pub struct NewScan<'a> {
    pub project_id: i64,
    pub repository: &'a str,
    pub commit: Option<&'a str>,
    pub branch: Option<&'a str>,
    pub scanned_at: DateTime<Utc>,
    pub recorded_by: &'a str,
}

/// Replaces the repository's previous scan (its references go with it) by a new, empty one.
pub async fn replace_scan(
    conn: &mut Conn,
    s: &NewScan<'_>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    crate::db::query("delete from code_scans where project_id = ? and repository = ?")
        .bind(s.project_id)
        .bind(s.repository)
        .execute(&mut *conn)
        .await?;
    crate::db::query_scalar(
        "insert into code_scans \
         (project_id, repository, commit_id, branch, scanned_at, recorded_at, recorded_by) \
         values (?, ?, ?, ?, ?, ?, ?) returning id",
    )
    .bind(s.project_id)
    .bind(s.repository)
    .bind(s.commit)
    .bind(s.branch)
    .bind(stamp(s.scanned_at))
    .bind(stamp(now))
    .bind(s.recorded_by)
    .fetch_one(conn)
    .await
}

/// (flag id, file, line, snippet)
pub type NewReference<'a> = (i64, &'a str, i64, &'a str);

/// Rows per insert: 5 parameters each, well under SQLite's (and PostgreSQL's) parameter limit.
const INSERT_BATCH: usize = 500;

pub async fn insert_references(
    conn: &mut Conn,
    scan_id: i64,
    refs: &[NewReference<'_>],
) -> Result<(), sqlx::Error> {
    for batch in refs.chunks(INSERT_BATCH) {
        let mut q: QueryBuilder = QueryBuilder::new(
            "insert into code_references (scan_id, flag_id, file, line, snippet) ",
        );
        q.push_values(batch, |mut row, (flag, file, line, snippet)| {
            row.push_bind(scan_id)
                .push_bind(*flag)
                .push_bind(*file)
                .push_bind(*line)
                .push_bind(*snippet);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// One reference as read back, with the scan it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReferenceRow {
    pub scan_id: i64,
    pub flag: String,
    pub file: String,
    pub line: i64,
    pub snippet: String,
}

pub async fn references_of_scan(
    conn: &mut Conn,
    scan_id: i64,
) -> Result<Vec<ReferenceRow>, sqlx::Error> {
    crate::db::query_as(
        "select r.scan_id, f.key as flag, r.file, r.line, r.snippet \
         from code_references r join flags f on f.id = r.flag_id \
         where r.scan_id = ? order by r.file, r.line, f.key",
    )
    .bind(scan_id)
    .fetch_all(conn)
    .await
}

pub async fn references_of_flag(
    conn: &mut Conn,
    flag_id: i64,
) -> Result<Vec<ReferenceRow>, sqlx::Error> {
    crate::db::query_as(
        "select r.scan_id, f.key as flag, r.file, r.line, r.snippet \
         from code_references r join flags f on f.id = r.flag_id \
         where r.flag_id = ? order by r.scan_id, r.file, r.line",
    )
    .bind(flag_id)
    .fetch_all(conn)
    .await
}

/// Every flag key of the project with its id, archived ones included.
pub async fn flag_ids(conn: &mut Conn, project_id: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    crate::db::query_as("select key, id from flags where project_id = ?")
        .bind(project_id)
        .fetch_all(conn)
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnreferencedRow {
    pub id: i64,
    pub key: String,
    pub archived: bool,
}

/// Flags that no latest scan references and that existed before every latest scan was made
/// (a scan made before a flag existed could not have looked for it).
pub async fn unreferenced_flags(
    conn: &mut Conn,
    project_id: i64,
) -> Result<Vec<UnreferencedRow>, sqlx::Error> {
    crate::db::query_as(
        "select f.id, f.key, f.archived_at is not null as archived from flags f \
         where f.project_id = ? \
           and f.created_at < (select min(s.scanned_at) from code_scans s where s.project_id = ?) \
           and not exists (select 1 from code_references r where r.flag_id = f.id) \
         order by f.key",
    )
    .bind(project_id)
    .bind(project_id)
    .fetch_all(conn)
    .await
}

pub async fn url_template(conn: &mut Conn, project_id: i64) -> Result<Option<String>, sqlx::Error> {
    crate::db::query_scalar("select template from code_url_templates where project_id = ?")
        .bind(project_id)
        .fetch_optional(conn)
        .await
}

/// Sets the template, or removes it with None.
pub async fn set_url_template(
    conn: &mut Conn,
    project_id: i64,
    template: Option<&str>,
) -> Result<(), sqlx::Error> {
    match template {
        Some(t) => {
            crate::db::query(
                "insert into code_url_templates (project_id, template) values (?, ?) \
                 on conflict (project_id) do update set template = excluded.template",
            )
            .bind(project_id)
            .bind(t)
            .execute(conn)
            .await?
        }
        None => {
            crate::db::query("delete from code_url_templates where project_id = ?")
                .bind(project_id)
                .execute(conn)
                .await?
        }
    };
    Ok(())
}
