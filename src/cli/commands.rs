//! One-shot commands: users, projects, members, tokens, audit verification.

use crate::accounts::{self, store as accounts_store};
use crate::audit::{self, Actor};
use crate::auth::{password, token_store, tokens::TokenKind};
use crate::authz::Role;
use crate::db;
use crate::error::AppError;
use crate::projects::service as projects;
use anyhow::{anyhow, Context};
use clap::Subcommand;
use std::io::Read;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        admin: bool,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProjectCommand {
    /// Create a project with the environments development, staging and production (protected).
    Create {
        #[arg(long)]
        key: String,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Give a user a role in a project.
    Add {
        #[arg(long)]
        project: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["viewer", "editor", "approver", "owner"])]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print its secret (only its hash is stored).
    Create {
        #[arg(long = "type", value_parser = ["client", "frontend", "admin"])]
        kind: String,
        /// The project the token is bound to; leave it out for an instance-wide admin token.
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        environment: Option<String>,
        /// The user an admin token acts as.
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain; exits non-zero naming the first broken entry.
    Verify {
        /// A head recorded earlier (`SEQ:HASH`, as `audit head` prints it, or `HASH`) that the
        /// log must still contain: catches a truncated tail, or a rewrite with the chain
        /// recomputed after it.
        #[arg(long)]
        expect_head: Vec<String>,
        /// A checkpoint file written by `serve --audit-checkpoint`: every head in it must
        /// still be in the log.
        #[arg(long)]
        checkpoint: Option<std::path::PathBuf>,
    },
    /// Print the current head as SEQ:HASH; keep it elsewhere to check against later.
    Head,
}

fn cli_actor() -> Actor {
    Actor::system("cli")
}

/// Domain errors read as one sentence on the command line.
fn plain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Internal(e) => e,
        other => anyhow!("{other}"),
    }
}

pub async fn user(url: &str, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let UserCommand::Create {
        email, name, admin, ..
    } = cmd;
    let mut secret = String::new();
    std::io::stdin()
        .read_to_string(&mut secret)
        .context("could not read the password from standard input")?;
    let secret = secret.trim_end_matches(['\n', '\r']).to_string();
    let email = accounts::normalise_email(&email).map_err(|m| anyhow!("{m}"))?;
    password::check_policy(&secret, &[&email, name.as_deref().unwrap_or("")])
        .map_err(|m| anyhow!("password: {m}"))?;
    let name = accounts::valid_name(
        name.as_deref()
            .unwrap_or(email.split('@').next().unwrap_or(&email)),
    )
    .map_err(|m| anyhow!("{m}"))?;
    let hash = password::hash_blocking(secret).await?;
    let writes = db::Writes::unobserved(db::connect(url).await?);
    let mut tx = writes.begin().await?;
    if accounts_store::user_by_email(&mut tx, &email)
        .await?
        .is_some()
    {
        return Err(anyhow!("a user with the e-mail {email} already exists"));
    }
    let now = crate::clock::from_env().now();
    let user = accounts_store::insert_user(&mut tx, &email, &name, &hash, admin, now).await?;
    audit::append(
        &mut tx,
        &cli_actor(),
        audit::NewEntry::new(audit::Action::UserCreated, format!("user {email}"))
            .after(serde_json::json!({"email": email, "name": name, "admin": admin})),
        now,
    )
    .await?;
    writes.commit(tx).await?;
    println!(
        "created user {} ({})",
        user.email,
        if admin { "admin" } else { "user" }
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn project(url: &str, cmd: ProjectCommand) -> anyhow::Result<ExitCode> {
    let ProjectCommand::Create { key, name } = cmd;
    let writes = db::Writes::unobserved(db::connect(url).await?);
    let mut tx = writes.begin().await?;
    let p = projects::create(
        &mut tx,
        &cli_actor(),
        &key,
        name.as_deref().unwrap_or(""),
        "",
        crate::clock::from_env().now(),
    )
    .await
    .map_err(plain)?;
    writes.commit(tx).await?;
    println!(
        "created project {} with environments development, staging, production (protected)",
        p.key
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn member(url: &str, cmd: MemberCommand) -> anyhow::Result<ExitCode> {
    let MemberCommand::Add {
        project,
        email,
        role,
    } = cmd;
    let role = Role::parse(&role).ok_or_else(|| anyhow!("unknown role {role}"))?;
    let writes = db::Writes::unobserved(db::connect(url).await?);
    let mut tx = writes.begin().await?;
    let p = projects::project(&mut tx, &project).await.map_err(plain)?;
    projects::add_member_by_email(
        &mut tx,
        &cli_actor(),
        &p,
        &email,
        role,
        crate::clock::from_env().now(),
    )
    .await
    .map_err(plain)?;
    writes.commit(tx).await?;
    println!("{email} is now {} in {}", role.as_str(), p.key);
    Ok(ExitCode::SUCCESS)
}

pub async fn token(url: &str, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::Create {
        kind,
        project,
        environment,
        user,
        name,
    } = cmd;
    let kind = TokenKind::parse(&kind).ok_or_else(|| anyhow!("unknown token type {kind}"))?;
    let writes = db::Writes::unobserved(db::connect(url).await?);
    let mut tx = writes.begin().await?;
    let p = match &project {
        Some(key) => Some(projects::project(&mut tx, key).await.map_err(plain)?),
        None if kind == TokenKind::Admin => None,
        None => return Err(anyhow!("client and frontend tokens need --project")),
    };
    let env = match (&environment, kind, &p) {
        (Some(e), TokenKind::Client | TokenKind::Frontend, Some(p)) => {
            Some(projects::environment(&mut tx, p, e).await.map_err(plain)?)
        }
        (_, TokenKind::Client | TokenKind::Frontend, _) => {
            return Err(anyhow!("client and frontend tokens need --environment"))
        }
        (_, TokenKind::Admin, _) => None,
    };
    let owner = match (&user, kind) {
        (Some(email), TokenKind::Admin) => {
            let email = email.trim().to_lowercase();
            let u = accounts_store::user_by_email(&mut tx, &email)
                .await?
                .ok_or_else(|| anyhow!("no user has the e-mail {email}"))?;
            Some((u.id, u.email))
        }
        (None, TokenKind::Admin) => {
            return Err(anyhow!("admin tokens need --user (the user they act as)"))
        }
        _ => None,
    };
    let created = token_store::create(
        &mut tx,
        &cli_actor(),
        p.as_ref(),
        token_store::NewToken {
            kind,
            name: &name,
            environment: env.as_ref(),
            user: owner.as_ref().map(|(id, e)| (*id, e.as_str())),
        },
        crate::clock::from_env().now(),
    )
    .await
    .map_err(plain)?;
    writes.commit(tx).await?;
    println!("{}", created.secret);
    Ok(ExitCode::SUCCESS)
}

pub async fn audit(url: &str, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let (expect_head, checkpoint) = match cmd {
        AuditCommand::Head => {
            let pool = db::connect(url).await?;
            let mut conn = pool.acquire().await?;
            println!("{}", audit::store::head(&mut conn).await?);
            return Ok(ExitCode::SUCCESS);
        }
        AuditCommand::Verify {
            expect_head,
            checkpoint,
        } => (expect_head, checkpoint),
    };
    let mut pins = audit::chain::Pins::default();
    let mut read = || -> Result<(), String> {
        for pin in &expect_head {
            pins.add(audit::chain::Pin::parse(pin).map_err(|m| format!("--expect-head: {m}"))?)?;
        }
        if let Some(path) = &checkpoint {
            audit::checkpoint::read_pins(path, &mut pins)?;
        }
        Ok(())
    };
    if let Err(m) = read() {
        eprintln!("error: {m}");
        return Ok(ExitCode::from(2));
    }
    let pool = db::connect(url).await?;
    let mut conn = pool.acquire().await?;
    match audit::store::verify(&mut conn, &mut pins).await? {
        Ok(v) => {
            if let Some(missing) = pins.missing(v.entries) {
                eprintln!("{missing}");
                return Ok(ExitCode::FAILURE);
            }
            println!(
                "the audit log is intact: {} entries, head {}:{}",
                v.entries, v.entries, v.head
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(b) => {
            eprintln!("the audit log is broken at entry {}: {}", b.seq, b.reason);
            Ok(ExitCode::FAILURE)
        }
    }
}
