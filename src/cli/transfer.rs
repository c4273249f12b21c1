//! `switchyard import` and `switchyard export` in Unleash's client-API format.

use crate::audit::Actor;
use crate::db;
use crate::error::AppError;
use crate::projects::service as projects;
use crate::targeting::{import, store};
use anyhow::{anyhow, Context};
use chrono::Utc;
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[arg(long)]
    project: String,
    #[arg(long)]
    environment: String,
    #[arg(long, value_parser = ["unleash"])]
    format: String,
    file: std::path::PathBuf,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(long)]
    project: String,
    #[arg(long, value_parser = ["unleash"], default_value = "unleash")]
    format: String,
    #[arg(long, default_value = "development")]
    environment: String,
}

fn plain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Internal(e) => e,
        other => anyhow!("{other}"),
    }
}

pub async fn import(url: &str, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("could not read {}", a.file.display()))?;
    let state: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{} is not valid JSON: {e}", a.file.display()))?;
    let pool = db::connect(url).await?;
    let mut tx = db::begin_write(&pool).await?;
    let p = projects::project(&mut tx, &a.project)
        .await
        .map_err(plain)?;
    let env = projects::environment(&mut tx, &p, &a.environment)
        .await
        .map_err(plain)?;
    let s = import::unleash_state(
        &mut tx,
        &Actor::system("import"),
        &p,
        &env,
        &state,
        Utc::now(),
    )
    .await
    .map_err(plain)?;
    tx.commit().await?;
    println!(
        "imported into {}/{}: {} flags created, {} updated, {} segments",
        p.key, env.key, s.created, s.updated, s.segments
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn export(url: &str, a: ExportArgs) -> anyhow::Result<ExitCode> {
    let pool = db::connect(url).await?;
    let mut conn = pool.acquire().await?;
    let p = projects::project(&mut conn, &a.project)
        .await
        .map_err(plain)?;
    let env = projects::environment(&mut conn, &p, &a.environment)
        .await
        .map_err(plain)?;
    let (state, _) = store::environment_state(&mut conn, p.id, &p.key, env.id).await?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(ExitCode::SUCCESS)
}
