//! Tags and links of flags: reading them, the project's tag choices, and replacing them.

use crate::db::{Conn, QueryBuilder};
use std::collections::HashMap;

pub async fn tags_of(
    conn: &mut Conn,
    flag_ids: &[i64],
) -> Result<HashMap<i64, Vec<String>>, sqlx::Error> {
    if flag_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut q: QueryBuilder =
        QueryBuilder::new("select flag_id, tag from flag_tags where flag_id in (");
    let mut sep = q.separated(", ");
    for id in flag_ids {
        sep.push_bind(*id);
    }
    q.push(") order by tag");
    let rows: Vec<(i64, String)> = q.build_query_as().fetch_all(conn).await?;
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, tag) in rows {
        map.entry(id).or_default().push(tag);
    }
    Ok(map)
}

pub async fn links_of(conn: &mut Conn, flag_id: i64) -> Result<Vec<(String, String)>, sqlx::Error> {
    crate::db::query_as("select kind, url from flag_links where flag_id = ? order by id")
        .bind(flag_id)
        .fetch_all(conn)
        .await
}

/// Distinct tags in a project, for the filter's choices.
pub async fn project_tags(conn: &mut Conn, project_id: i64) -> Result<Vec<String>, sqlx::Error> {
    crate::db::query_scalar(
        "select distinct t.tag from flag_tags t join flags f on f.id = t.flag_id where f.project_id = ? order by t.tag",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await
}

pub async fn replace_tags(
    conn: &mut Conn,
    flag_id: i64,
    tags: &[String],
) -> Result<(), sqlx::Error> {
    crate::db::query("delete from flag_tags where flag_id = ?")
        .bind(flag_id)
        .execute(&mut *conn)
        .await?;
    for tag in tags {
        crate::db::query("insert into flag_tags (flag_id, tag) values (?, ?)")
            .bind(flag_id)
            .bind(tag)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn replace_links(
    conn: &mut Conn,
    flag_id: i64,
    links: &[(String, String)],
) -> Result<(), sqlx::Error> {
    crate::db::query("delete from flag_links where flag_id = ?")
        .bind(flag_id)
        .execute(&mut *conn)
        .await?;
    for (kind, url) in links {
        crate::db::query("insert into flag_links (flag_id, kind, url) values (?, ?, ?)")
            .bind(flag_id)
            .bind(kind)
            .bind(url)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
