//! `switchyard import` and `switchyard export` in Unleash's client-API format.

use crate::audit::Actor;
use crate::db;
use crate::error::AppError;
use crate::projects::service as projects;
use crate::targeting::import;
use crate::transfer::{self, guard, Document};
use anyhow::anyhow;
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[arg(long)]
    project: String,
    /// Required for the Unleash format, whose files hold one environment.
    #[arg(long)]
    environment: Option<String>,
    #[arg(long, value_parser = ["unleash", "switchyard"])]
    format: String,
    /// Let the import change protected environments without review. Without it, an import that
    /// would change what a protected environment serves is refused (exit code 2); with it, the
    /// override is audited as `import.protected-override`.
    #[arg(long)]
    allow_protected: bool,
    file: std::path::PathBuf,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(long)]
    project: String,
    #[arg(long, value_parser = ["switchyard", "unleash"], default_value = "switchyard")]
    format: String,
    /// The environment of an Unleash-format export.
    #[arg(long, default_value = "development")]
    environment: String,
}

fn plain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Internal(e) => e,
        other => anyhow!("{other}"),
    }
}

/// A file that cannot be imported as it is: one line on stderr and exit code 2, before the
/// database is opened, so nothing is written.
fn refuse_file(file: &std::path::Path, why: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {} cannot be imported: {why}", file.display());
    ExitCode::from(2)
}

pub async fn import(url: &str, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let text = match std::fs::read_to_string(&a.file) {
        Ok(text) => text,
        Err(e) => return Ok(refuse_file(&a.file, format!("it could not be read ({e})"))),
    };
    let state: serde_json::Value = match serde_json::from_str(&text) {
        Ok(state) => state,
        Err(e) => return Ok(refuse_file(&a.file, format!("it is not valid JSON ({e})"))),
    };
    let shape = if a.format == "switchyard" {
        serde_json::from_value::<Document>(state.clone())
            .map(drop)
            .map_err(|e| format!("it is not a Switchyard export ({e})"))
    } else {
        transfer::shape::check_unleash_state(&state)
    };
    if let Err(why) = shape {
        return Ok(refuse_file(&a.file, why));
    }
    let writes = db::Writes::unobserved(db::connect(url).await?);
    let mut tx = writes.begin().await?;
    let p = projects::project(&mut tx, &a.project)
        .await
        .map_err(plain)?;
    let actor = Actor::system("import");
    let now = crate::clock::from_env().now();
    let before = guard::protected(&mut tx, &p).await.map_err(plain)?;
    let said = if a.format == "switchyard" {
        let doc: Document = serde_json::from_value(state)?;
        let s = transfer::import::document(&mut tx, &actor, &p, &doc, now)
            .await
            .map_err(plain)?;
        format!(
            "imported into {}: {} flags created, {} updated, {} unchanged",
            p.key, s.created, s.updated, s.unchanged
        )
    } else {
        let env_key = a.environment.as_deref().ok_or_else(|| {
            anyhow!("an Unleash state holds one environment: name it with --environment")
        })?;
        let env = projects::environment(&mut tx, &p, env_key)
            .await
            .map_err(plain)?;
        let s = import::unleash_state(&mut tx, &actor, &p, &env, &state, now)
            .await
            .map_err(plain)?;
        format!(
            "imported into {}/{}: {} flags created, {} updated, {} segments",
            p.key, env.key, s.created, s.updated, s.segments
        )
    };
    let after = guard::protected(&mut tx, &p).await.map_err(plain)?;
    let touched = guard::changed(&before, &after);
    if !touched.is_empty() {
        if !a.allow_protected {
            // Dropping the transaction rolls the import back: nothing half-written stays.
            drop(tx);
            eprintln!("error: {}", guard::refusal(&touched));
            return Ok(ExitCode::from(2));
        }
        guard::record_override(&mut tx, &actor, &p, &touched, &a.format, now)
            .await
            .map_err(plain)?;
    }
    writes.commit(tx).await?;
    println!("{said}");
    Ok(ExitCode::SUCCESS)
}

pub async fn export(url: &str, a: ExportArgs) -> anyhow::Result<ExitCode> {
    let pool = db::connect(url).await?;
    let mut conn = pool.acquire().await?;
    let p = projects::project(&mut conn, &a.project)
        .await
        .map_err(plain)?;
    let text = if a.format == "switchyard" {
        let doc = transfer::export::project(&mut conn, &p)
            .await
            .map_err(plain)?;
        serde_json::to_string_pretty(&doc)?
    } else {
        let env = projects::environment(&mut conn, &p, &a.environment)
            .await
            .map_err(plain)?;
        let state = transfer::export::unleash_state(&mut conn, &p, &env)
            .await
            .map_err(plain)?;
        serde_json::to_string_pretty(&state)?
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
