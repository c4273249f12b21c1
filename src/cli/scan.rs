//! `switchyard scan`: finds the project's flag keys in source trees and records the references
//! in the database, or uploads them through the admin API so it can run in any repository's CI.
//! Bad input (a missing path, an unknown project, a token of another project) is one line on
//! stderr and exit code 2, with nothing written.

use crate::audit::Actor;
use crate::clock;
use crate::coderefs::{self, git, scan::Matcher, walk, Reference, Scan};
use crate::db;
use crate::error::AppError;
use crate::projects::service as projects;
use anyhow::anyhow;
use clap::Args;
use server::Server;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

mod server;

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// The project whose flag keys are looked for.
    #[arg(long)]
    project: String,
    /// The repository the references are recorded under; by default the name of the
    /// checkout's top directory (or of the scanned directory outside a checkout).
    #[arg(long)]
    repository: Option<String>,
    /// Upload to this Switchyard (e.g. https://flags.example.com) instead of writing the database.
    #[arg(long)]
    url: Option<String>,
    /// An admin token of the project, for --url.
    #[arg(long, env = "SWITCHYARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Directories or files to scan.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// Why a scan was refused: bad input, exit code 2.
struct Refusal(String);

enum Failure {
    Refused(Refusal),
    Failed(anyhow::Error),
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

/// A domain refusal (unknown project, a reference to no flag) is bad input; the rest failed.
impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Internal(e) => Failure::Failed(e),
            other => Failure::Refused(Refusal(other.to_string())),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Failed(e)
    }
}

pub async fn run(database_url: &str, a: ScanArgs) -> anyhow::Result<ExitCode> {
    match scan(database_url, a).await {
        Ok(said) => {
            println!("{said}");
            Ok(ExitCode::SUCCESS)
        }
        Err(Failure::Refused(Refusal(why))) => {
            let _ = writeln!(std::io::stderr(), "error: {}", one_line(&why));
            Ok(ExitCode::from(2))
        }
        Err(Failure::Failed(e)) => Err(e),
    }
}

async fn scan(database_url: &str, a: ScanArgs) -> Result<String, Failure> {
    // The scan's time is when it started: a flag created after it was not looked for.
    let now = clock::from_env().now();
    let tree = Tree::resolve(&a.paths, a.repository.as_deref())?;
    let target = match (&a.url, &a.token) {
        (Some(url), Some(token)) => Target::Server(Server::new(url, token, &a.project)?),
        (Some(_), None) => {
            return Err(Refusal(
                "--url needs --token (or SWITCHYARD_TOKEN): an admin token of the project".into(),
            )
            .into())
        }
        (None, _) => Target::Database(open_database(database_url).await?),
    };
    let keys = match &target {
        Target::Server(s) => s.flag_keys().await?,
        Target::Database(pool) => {
            let mut conn = pool.acquire().await.map_err(anyhow::Error::from)?;
            let p = projects::project(&mut conn, &a.project).await?;
            crate::catalog::store::flag_keys(&mut conn, p.id)
                .await
                .map_err(anyhow::Error::from)?
        }
    };
    let key_count = keys.len();
    let started = std::time::Instant::now();
    let matcher = Matcher::new(keys).map_err(|e| anyhow!(e))?;
    let (walked, matcher) = tokio::task::spawn_blocking(move || {
        let w = walk::walk(&tree.root, &tree.paths, &matcher);
        (w, (matcher, tree))
    })
    .await
    .map_err(anyhow::Error::from)?;
    let (matcher, tree) = matcher;
    tracing::debug!(elapsed = ?started.elapsed(), files = walked.scanned, "walked and matched");
    let references: Vec<Reference> = walked
        .files
        .iter()
        .flat_map(|f| {
            f.hits.iter().map(|h| Reference {
                flag: matcher.keys()[h.key].clone(),
                file: f.file.clone(),
                line: i64::from(h.line),
                snippet: h.snippet.clone(),
            })
        })
        .collect();
    let checkout = tree.checkout.clone().unwrap_or_default();
    let scan = Scan {
        commit: checkout.commit,
        branch: checkout.branch,
        scanned_at: now,
        references,
    };
    let found = Found::of(&scan, &walked, key_count);
    let started = std::time::Instant::now();
    let summary = match target {
        Target::Server(s) => s.upload(&tree.repository, &scan).await?,
        Target::Database(pool) => record(&pool, &a.project, &tree.repository, scan, now).await?,
    };
    tracing::debug!(elapsed = ?started.elapsed(), "recorded");
    Ok(format!(
        "{} of {} in project {}{}: {found}",
        if a.url.is_some() {
            "Uploaded the scan"
        } else {
            "Recorded the scan"
        },
        tree.repository,
        a.project,
        describe_checkout(summary.commit.as_deref(), summary.branch.as_deref()),
    ))
}

enum Target {
    Database(db::Db),
    Server(Server),
}

/// What was scanned: the root file names are relative to, and the checkout it is, if any.
struct Tree {
    root: PathBuf,
    paths: Vec<PathBuf>,
    repository: String,
    checkout: Option<git::Checkout>,
}

impl Tree {
    fn resolve(given: &[PathBuf], repository: Option<&str>) -> Result<Tree, Refusal> {
        let mut paths = Vec::with_capacity(given.len());
        for p in given {
            let full = std::fs::canonicalize(p).map_err(|e| {
                Refusal(match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        format!("the path {} does not exist", p.display())
                    }
                    _ => format!("the path {} cannot be read ({e})", p.display()),
                })
            })?;
            paths.push(full);
        }
        let checkout =
            git::checkout_of(&paths[0]).filter(|c| paths.iter().all(|p| p.starts_with(&c.top)));
        let root = match &checkout {
            Some(c) => c.top.clone(),
            None => common_dir(&paths),
        };
        let repository = match repository {
            Some(r) => r.to_string(),
            None => root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let repository = coderefs::check_repository(&repository).map_err(|m| {
            Refusal(format!(
                "the repository name {repository:?} cannot be used ({m}); name it with --repository"
            ))
        })?;
        Ok(Tree {
            root,
            paths,
            repository,
            checkout,
        })
    }
}

/// The deepest directory holding every path (a file's own directory for a single file).
fn common_dir(paths: &[PathBuf]) -> PathBuf {
    let dir_of = |p: &Path| {
        if p.is_dir() {
            p.to_path_buf()
        } else {
            p.parent().map(Path::to_path_buf).unwrap_or_default()
        }
    };
    let mut common = dir_of(&paths[0]);
    for p in &paths[1..] {
        while !p.starts_with(&common) {
            if !common.pop() {
                break;
            }
        }
    }
    common
}

/// The database must exist already: a scan run in some checkout must not leave a new
/// `switchyard.db` behind.
async fn open_database(url: &str) -> Result<db::Db, Failure> {
    if db::is_postgres_url(url) {
        return Ok(db::connect(url).await?);
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| Refusal(format!("the database URL {url:?} is not valid: {e}")))?;
    let file = options.get_filename();
    if file != Path::new(":memory:") && !file.exists() {
        return Err(Refusal(format!(
            "there is no database at {}: pass --database-url, or --url and --token to upload",
            file.display()
        ))
        .into());
    }
    Ok(db::connect(url).await?)
}

async fn record(
    pool: &db::Db,
    project: &str,
    repository: &str,
    scan: Scan,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<coderefs::ScanSummary, Failure> {
    let writes = db::Writes::unobserved(pool.clone());
    let mut tx = writes.begin().await.map_err(anyhow::Error::from)?;
    let p = projects::project(&mut tx, project).await?;
    let actor = Actor::system("scan");
    let summary = coderefs::record_scan(&mut tx, &actor, &p, repository, scan, now).await?;
    writes.commit(tx).await.map_err(anyhow::Error::from)?;
    Ok(summary)
}

/// The counts a finished scan reports.
struct Found {
    references: usize,
    flags: usize,
    keys: usize,
    files: usize,
    scanned: usize,
    binary: usize,
    large: usize,
    unreadable: usize,
}

impl Found {
    fn of(scan: &Scan, w: &walk::Walked, keys: usize) -> Found {
        let flags: std::collections::HashSet<&str> =
            scan.references.iter().map(|r| r.flag.as_str()).collect();
        Found {
            references: scan.references.len(),
            flags: flags.len(),
            keys,
            files: w.files.len(),
            scanned: w.scanned,
            binary: w.binary,
            large: w.large,
            unreadable: w.unreadable,
        }
    }
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} references to {} of {} flags in {} files; {} files scanned, {} binary skipped",
            self.references, self.flags, self.keys, self.files, self.scanned, self.binary
        )?;
        if self.large > 0 {
            write!(f, ", {} over 64 MiB skipped", self.large)?;
        }
        if self.unreadable > 0 {
            write!(f, ", {} unreadable", self.unreadable)?;
        }
        Ok(())
    }
}

fn describe_checkout(commit: Option<&str>, branch: Option<&str>) -> String {
    let short = commit.map(|c| &c[..c.len().min(12)]);
    match (short, branch) {
        (Some(c), Some(b)) => format!(" (commit {c} on {b})"),
        (Some(c), None) => format!(" (commit {c})"),
        (None, Some(b)) => format!(" (branch {b}, no commit yet)"),
        (None, None) => String::new(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
