//! `switchyard serve`: prepare the database, create the first admin or print the setup link, serve.

use crate::accounts::{self, store as accounts_store};
use crate::app;
use crate::audit::{self, Actor};
use crate::auth::client_address::{Cidr, TrustedProxies};
use crate::auth::{password, store as auth_store, tokens};
use crate::config::Settings;
use crate::db;
use crate::state::AppState;
use anyhow::{anyhow, Context};
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SWITCHYARD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Seed a demo organisation first (projects, flags, users of each role, history).
    #[arg(long)]
    pub demo: bool,
    /// Serve behind TLS: Secure `__Host-` cookies and HSTS.
    #[arg(long, env = "SWITCHYARD_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Minutes without activity after which a session ends.
    #[arg(long, env = "SWITCHYARD_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u64,
    /// Proxies (addresses or CIDR ranges) whose X-Forwarded-For or Forwarded header names the
    /// client; from any other peer those headers are ignored.
    #[arg(
        long = "trusted-proxy",
        env = "SWITCHYARD_TRUSTED_PROXIES",
        value_name = "ADDR[,ADDR..]",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<Cidr>,
    /// Failed sign-ins allowed per client address each minute (per account: 10).
    #[arg(
        long,
        env = "SWITCHYARD_LOGIN_ATTEMPTS_PER_ADDRESS",
        default_value_t = 100
    )]
    pub login_attempts_per_address: usize,
    /// Internal hosts webhooks may reach, as `host` or `host:port`, separated by commas.
    /// Loopback, private, link-local and unspecified addresses are refused otherwise.
    #[arg(long, env = "SWITCHYARD_WEBHOOK_ALLOW_HOSTS", default_value = "")]
    pub webhook_allow_hosts: String,
    /// Metric and registration posts each SDK token may make per minute (429 past it).
    #[arg(long, env = "SWITCHYARD_METRICS_POSTS_PER_MINUTE", default_value_t = crate::feed::usage::DEFAULT_POSTS_PER_MINUTE)]
    pub metrics_posts_per_minute: u32,
    /// Append the audit head (`SEQ HASH`) to this file, outside the database, at most once a
    /// second when it moved; check it later with `audit verify --checkpoint PATH`.
    #[arg(long, env = "SWITCHYARD_AUDIT_CHECKPOINT")]
    pub audit_checkpoint: Option<std::path::PathBuf>,
    /// Seconds between two assessments of every flag's lifecycle (stale reasons, stages).
    #[arg(
        long,
        env = "SWITCHYARD_LIFECYCLE_INTERVAL_SECONDS",
        default_value_t = 300
    )]
    pub lifecycle_interval_seconds: u64,
    /// Seconds a client has to send a request's headers; an idle kept-alive connection is
    /// closed after the same time.
    #[arg(
        long,
        env = "SWITCHYARD_HEADER_READ_TIMEOUT_SECONDS",
        default_value_t = 10
    )]
    pub header_read_timeout_seconds: u64,
    /// When the weekly cleanup report of every project is kept: a weekday and a UTC time, such
    /// as "mon 09:00", or "off".
    #[arg(long, env = "SWITCHYARD_REPORT_SCHEDULE", default_value = "mon 09:00")]
    pub report_schedule: crate::lifecycle::report::schedule::Schedule,
    /// Open connections allowed at once.
    #[arg(long, env = "SWITCHYARD_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Open connections allowed at once from one client address; a peer listed in
    /// --trusted-proxy is held to --max-connections only.
    #[arg(
        long,
        env = "SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 512
    )]
    pub max_connections_per_address: usize,
}

pub async fn run(url: &str, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let webhook_allow = crate::notify::AllowList::parse(&args.webhook_allow_hosts)
        .map_err(|m| anyhow!("--webhook-allow-hosts: {m}"))?;
    let pool = db::connect(url).await?;
    crate::memory::release_periodically(crate::memory::RELEASE_EVERY);
    let settings = Settings {
        secure_cookies: args.secure_cookies,
        webhook_allow,
        metrics_posts_per_minute: args.metrics_posts_per_minute,
        session_idle: std::time::Duration::from_secs(args.session_idle_minutes.max(1) * 60),
        trusted_proxies: TrustedProxies::new(args.trusted_proxies),
        login_address_burst: args.login_attempts_per_address.max(1),
        lifecycle_interval: std::time::Duration::from_secs(args.lifecycle_interval_seconds.max(1)),
        header_read_timeout: std::time::Duration::from_secs(
            args.header_read_timeout_seconds.max(1),
        ),
        max_connections: args.max_connections,
        max_connections_per_address: args.max_connections_per_address,
        report_schedule: args.report_schedule,
        ..Settings::default()
    };
    let clock = crate::clock::from_env();
    let state = AppState::new(pool.clone(), settings, clock);

    if args.demo {
        let seeded = crate::demo::seed(&state).await?;
        println!("{seeded}");
    }
    admin_from_env(&state).await?;

    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .with_context(|| format!("could not listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    if let Some(token) = setup_token(&state).await? {
        println!(
            "No users yet. Create the first admin at {base}/setup/{token} (this link works once)"
        );
    }
    println!("Switchyard is listening on {base}");
    if args.demo {
        println!("Sign in at {base}/login");
    }
    let checkpoint = match args.audit_checkpoint {
        Some(path) => Some(audit::checkpoint::Checkpoint::open(state.db.clone(), path)?),
        None => None,
    };
    if let Some(c) = &checkpoint {
        c.start();
    }
    app::serve(state, listener, shutdown_signal()).await?;
    // The last second's entries reach the file too.
    if let Some(c) = &checkpoint {
        if let Err(e) = c.write_now().await {
            eprintln!("error: the audit checkpoint was not written at exit: {e:#}");
        }
    }
    // Checkpoints the WAL and closes the database cleanly; bounded like the rest of the stop.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), pool.close()).await;
    println!("Switchyard stopped");
    Ok(ExitCode::SUCCESS)
}

/// A new first-admin setup token while the database has no user, its hash kept in the database
/// so the link works through every replica; with users, the hashes of old links are forgotten.
async fn setup_token(state: &AppState) -> anyhow::Result<Option<String>> {
    let mut conn = state.db.acquire().await?;
    if accounts_store::user_count(&mut conn).await? > 0 {
        auth_store::forget_setup_tokens(&mut conn).await?;
        return Ok(None);
    }
    let token = {
        use rand::RngCore;
        let mut b = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut b);
        hex::encode(b)
    };
    let at = crate::clock::stamp(state.now());
    auth_store::add_setup_token(&mut conn, &tokens::hash_secret(&token), &at).await?;
    Ok(Some(token))
}

/// `SWITCHYARD_ADMIN_EMAIL` and `SWITCHYARD_ADMIN_PASSWORD` create the first admin without a browser.
async fn admin_from_env(state: &AppState) -> anyhow::Result<()> {
    let (Ok(email), Ok(secret)) = (
        std::env::var("SWITCHYARD_ADMIN_EMAIL"),
        std::env::var("SWITCHYARD_ADMIN_PASSWORD"),
    ) else {
        return Ok(());
    };
    let email =
        accounts::normalise_email(&email).map_err(|m| anyhow!("SWITCHYARD_ADMIN_EMAIL: {m}"))?;
    // Before the feed starts (its first load reads this).
    let writes = db::Writes::unobserved(state.db.clone());
    let mut tx = writes.begin().await?;
    if accounts_store::user_by_email(&mut tx, &email)
        .await?
        .is_some()
    {
        return Ok(());
    }
    password::check_policy(&secret, &[&email])
        .map_err(|m| anyhow!("SWITCHYARD_ADMIN_PASSWORD: {m}"))?;
    let hash = password::hash_blocking(secret).await?;
    let name = email.split('@').next().unwrap_or("admin").to_string();
    let now = state.now();
    accounts_store::insert_user(&mut tx, &email, &name, &hash, true, now).await?;
    audit::append(
        &mut tx,
        &Actor::system("environment"),
        audit::NewEntry::new(audit::Action::UserCreated, format!("user {email}"))
            .after(serde_json::json!({"email": email, "name": name, "admin": true})),
        now,
    )
    .await?;
    writes.commit(tx).await?;
    println!("Created the admin {email} from SWITCHYARD_ADMIN_EMAIL");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: ending event streams, finishing requests in flight");
}
