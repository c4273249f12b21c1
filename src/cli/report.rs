//! `switchyard report stale`: the cleanup report computed now, as the web app shows it, for one
//! project or every project, on standard output. Time comes from `SWITCHYARD_TEST_CLOCK_FILE`
//! when it is set.

use crate::db;
use crate::lifecycle::report::{self, render};
use clap::{Args, Subcommand};
use std::io::Write;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Print the stale-flag cleanup report computed now.
    Stale(StaleArgs),
}

#[derive(Args, Debug)]
pub struct StaleArgs {
    /// Only this project (every project when left out).
    #[arg(long)]
    project: Option<String>,
    #[arg(long, value_parser = ["markdown", "csv", "json"], default_value = "markdown")]
    format: String,
}

pub async fn run(url: &str, c: ReportCommand) -> anyhow::Result<ExitCode> {
    let ReportCommand::Stale(a) = c;
    let format = render::Format::parse(&a.format).unwrap_or(render::Format::Markdown);
    let pool = db::connect(url).await?;
    let projects = {
        let mut conn = pool.acquire().await?;
        crate::projects::store::all_projects(&mut conn).await?
    };
    let chosen: Vec<_> = match &a.project {
        None => projects,
        Some(key) => match projects.into_iter().find(|p| &p.key == key) {
            Some(p) => vec![p],
            None => {
                eprintln!("error: there is no project {key:?}");
                return Ok(ExitCode::from(2));
            }
        },
    };
    let now = crate::clock::from_env().now();
    let reports = report::current_all(&pool, &chosen, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = render::render(&reports, format, a.project.is_some());
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
