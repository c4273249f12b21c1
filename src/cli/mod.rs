//! The `switchyard` command line (see shared/spec/contract.md, "The binary").

mod commands;
mod log_fields;
mod report;
mod scan;
mod serve;
mod transfer;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "switchyard", version, about = "Feature-flag governance server")]
pub struct Cli {
    /// Database to use; created with its schema when missing.
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_DATABASE_URL",
        default_value = "sqlite://switchyard.db"
    )]
    pub database_url: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app and every API.
    Serve(serve::ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(commands::UserCommand),
    /// Manage projects.
    #[command(subcommand)]
    Project(commands::ProjectCommand),
    /// Manage project members.
    #[command(subcommand)]
    Member(commands::MemberCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(commands::TokenCommand),
    /// Check the audit log.
    #[command(subcommand)]
    Audit(commands::AuditCommand),
    /// Load an Unleash client-API state file (or a Switchyard export) into a project.
    ///
    /// Protected environments change only through reviewed change requests, so an import that
    /// would change one is refused with exit code 2 and nothing is written, unless
    /// --allow-protected is given (an operator override, audited as such).
    Import(transfer::ImportArgs),
    /// Write a project's flags to standard output.
    Export(transfer::ExportArgs),
    /// Find the project's flag keys in source trees and record the references (or upload
    /// them with --url and --token, e.g. from a repository's CI).
    ///
    /// Keys are found as whole tokens: `[A-Za-z0-9_]` and letters, plus `-`, `.` or `:` between
    /// them, continue a token. `.gitignore` is honoured and binary files are skipped. A missing
    /// path, an unknown project or a token of another project: exit code 2, nothing written.
    Scan(scan::ScanArgs),
    /// Cleanup reports: `report stale [--project K] --format markdown|csv|json` prints the
    /// stale-flag report computed now. An unknown project: exit code 2.
    #[command(subcommand)]
    Report(report::ReportCommand),
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Serve(args) => serve::run(&cli.database_url, args).await,
        Command::User(c) => commands::user(&cli.database_url, c).await,
        Command::Project(c) => commands::project(&cli.database_url, c).await,
        Command::Member(c) => commands::member(&cli.database_url, c).await,
        Command::Token(c) => commands::token(&cli.database_url, c).await,
        Command::Audit(c) => commands::audit(&cli.database_url, c).await,
        Command::Import(a) => transfer::import(&cli.database_url, a).await,
        Command::Export(a) => transfer::export(&cli.database_url, a).await,
        Command::Scan(a) => scan::run(&cli.database_url, a).await,
        Command::Report(c) => report::run(&cli.database_url, c).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One line per event on stderr, every value escaped ([`log_fields`]); colours only on a
/// terminal, so files and log collectors get no escape codes.
fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SWITCHYARD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .fmt_fields(log_fields::EscapedFields)
        .with_target(true)
        .try_init();
}
