//! `TestApp`: the real `switchyard serve` on a temp SQLite file and a free port, plus actors
//! (browser sessions and admin-token API clients) with one helper per endpoint. With
//! `SWITCHYARD_TEST_DATABASE_URL=postgres://user@host/` each app gets a fresh PostgreSQL
//! database of its own instead, dropped with the app.

#![allow(dead_code)]

pub mod browser;
pub mod clock;
pub mod fresh;
pub mod partition;
pub mod postgres;
pub mod process;
pub mod prometheus;
pub mod stream;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{header, Method, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

pub const ADMIN_EMAIL: &str = "admin@example.com";
/// Long, not in any common-password list, and not derived from the e-mail.
pub const PASSWORD: &str = "quartz-lantern-meadow-49";
/// The project every `TestApp` starts with.
pub const PROJECT: &str = "web";
pub const SESSION_COOKIE: &str = "switchyard";

const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct TestApp {
    pub base: String,
    dir: tempfile::TempDir,
    child: Child,
    stderr: Arc<Mutex<String>>,
    counter: AtomicUsize,
    envs: Vec<(String, String)>,
    /// The database when the test brought its own ([`TestApp::spawn_on`]); otherwise one made
    /// for the app (`database_url_of`) and dropped with it.
    given_database: Option<String>,
    /// Two more admins, made on first use, through whom `Api::force_toggle` changes a protected
    /// environment the reviewed way.
    governance: std::sync::OnceLock<Arc<Governance>>,
}

/// A proposer and a second person who approves, both admins.
pub struct Governance {
    pub proposer: Api,
    pub approver: Api,
}

/// The PostgreSQL server the suite runs on instead of SQLite, as `postgres://user@host/`.
pub fn postgres_base() -> Option<String> {
    std::env::var("SWITCHYARD_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
        .map(|u| if u.ends_with('/') { u } else { format!("{u}/") })
}

/// Whether the suite runs on PostgreSQL (`SWITCHYARD_TEST_DATABASE_URL`).
pub fn on_postgres() -> bool {
    postgres_base().is_some()
}

/// The database of the app whose files are in `dir`: `dir/sy.db`, or on PostgreSQL a database
/// named after the temp dir.
/// The 1,000-flag Unleash state the benchmarks load.
pub fn bench_features() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/features-1000.json")
}

pub fn database_url_of(dir: &Path) -> String {
    match postgres_base() {
        Some(base) => format!("{base}{}", postgres_name(dir)),
        None => format!("sqlite://{}", dir.join("sy.db").display()),
    }
}

fn postgres_name(dir: &Path) -> String {
    let tail: String = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("sy_test_{tail}")
}

/// Runs one statement on the PostgreSQL server's `postgres` database (create or drop).
fn postgres_admin(base: &str, sql: &str) {
    let out = Command::new("psql")
        .arg(format!("{base}postgres"))
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh PostgreSQL database for the app in `dir`, when the suite runs on PostgreSQL.
fn create_database(dir: &Path) {
    if let Some(base) = postgres_base() {
        postgres_admin(&base, &format!("create database {}", postgres_name(dir)));
    }
}

fn drop_database(dir: &Path) {
    if let Some(base) = postgres_base() {
        postgres_admin(
            &base,
            &format!(
                "drop database if exists {} with (force)",
                postgres_name(dir)
            ),
        );
    }
}

/// Starts `switchyard serve` on the database `url` and waits for its address line.
fn start_server(url: &str, envs: &[(String, String)]) -> (Child, String, Arc<Mutex<String>>) {
    let mut child = Command::new(bin())
        .args(["--database-url", url, "serve", "--bind", "127.0.0.1:0"])
        .env("SWITCHYARD_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("SWITCHYARD_ADMIN_PASSWORD", PASSWORD)
        .env("SWITCHYARD_LOG", "warn")
        .env_remove("SWITCHYARD_DATABASE_URL")
        .env_remove("SWITCHYARD_BIND")
        .env_remove("SWITCHYARD_SECURE_COOKIES")
        .env_remove("SWITCHYARD_TEST_CLOCK_FILE")
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("could not start the switchyard binary");

    let stderr = Arc::new(Mutex::new(String::new()));
    {
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    let (tx, rx) = mpsc::channel::<String>();
    {
        let pipe = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            // Keeps draining after the address line so the server never blocks on stdout.
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
    }
    let deadline = Instant::now() + START_TIMEOUT;
    let mut seen = Vec::new();
    let base = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix("Switchyard is listening on ") {
                    break rest.trim().to_string();
                }
                seen.push(line);
            }
            Err(_) => {
                let status = child.try_wait().ok().flatten();
                let _ = child.kill();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "switchyard serve did not print its address within {START_TIMEOUT:?} \
                     (exit status: {status:?})\nstdout:\n{}\nstderr:\n{}",
                    seen.join("\n"),
                    stderr.lock().unwrap()
                );
            }
        }
    };
    (child, base, stderr)
}

/// A second `switchyard serve` on the same database: both run the background jobs.
pub struct Twin {
    child: Child,
    pub base: String,
    stderr: Arc<Mutex<String>>,
}

impl Twin {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `api`'s caller (its token), talking to this replica instead.
    pub fn api(&self, api: &Api) -> Api {
        Api {
            base: self.base.clone(),
            ..api.clone()
        }
    }

    /// A browser on this replica sharing `browser`'s cookie jar (cookies ignore the port).
    pub fn browser(&self, browser: &Browser) -> Browser {
        Browser {
            client: browser.client.clone(),
            jar: browser.jar.clone(),
            base: self.base.clone(),
        }
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.given_database.is_none() {
            drop_database(self.dir.path());
        }
    }
}

/// Whether a client feed body (`/api/client/features`) serves `key` enabled; None when it does
/// not list the flag.
pub fn feed_enabled(body: &Value, key: &str) -> Option<bool> {
    body["features"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == key)?["enabled"]
        .as_bool()
}

/// A server on `database_url` with `envs`, once it answers `/healthz`.
async fn healthy_replica(database_url: &str, envs: &[(String, String)]) -> Twin {
    let (child, base, stderr) = start_server(database_url, envs);
    let twin = Twin {
        child,
        base,
        stderr,
    };
    wait_healthy(&twin.base, &|| twin.stderr()).await;
    twin
}

async fn wait_healthy(base: &str, stderr: &dyn Fn() -> String) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status() == StatusCode::OK {
                return;
            }
        }
        if Instant::now() > deadline {
            panic!("GET /healthz never answered 200\nstderr:\n{}", stderr());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_switchyard")
}

impl TestApp {
    /// Starts `switchyard serve` with the env-provided admin, and creates the project `web`.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with_env(&[]).await
    }

    /// As [`TestApp::spawn`], with extra environment variables for the server process (kept
    /// for [`TestApp::restart`]).
    pub async fn spawn_with_env(envs: &[(&str, &str)]) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        create_database(dir.path());
        TestApp::start(dir, None, envs).await
    }

    /// As [`TestApp::spawn`], on a database the test provides (and keeps: it is not dropped
    /// with the app), such as one on a PostgreSQL server the test stops and starts.
    pub async fn spawn_on(database_url: &str) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        TestApp::start(dir, Some(database_url.to_string()), &[]).await
    }

    async fn start(
        dir: tempfile::TempDir,
        given_database: Option<String>,
        envs: &[(&str, &str)],
    ) -> TestApp {
        let envs: Vec<(String, String)> = envs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let url = given_database
            .clone()
            .unwrap_or_else(|| database_url_of(dir.path()));
        let (child, base, stderr) = start_server(&url, &envs);
        let app = TestApp {
            base,
            dir,
            child,
            stderr,
            counter: AtomicUsize::new(0),
            envs,
            given_database,
            governance: std::sync::OnceLock::new(),
        };
        app.wait_healthy().await;
        let out = app.cli(&["project", "create", "--key", PROJECT, "--name", "Web"]);
        assert_success(&out, "project create");
        app
    }

    /// Starts a second server on the same database and settings (stopped when dropped).
    pub fn twin(&self) -> Twin {
        let (child, base, stderr) = start_server(&self.database_url(), &self.envs);
        Twin {
            child,
            base,
            stderr,
        }
    }

    /// Another replica on the same database and settings (as [`TestApp::twin`]), once it
    /// answers `/healthz`.
    pub async fn replica(&self) -> Twin {
        let twin = self.twin();
        wait_healthy(&twin.base, &|| twin.stderr()).await;
        twin
    }

    /// As [`TestApp::replica`], reaching the same database by another way (`database_url`),
    /// such as around a forwarder the app's own connections go through.
    pub async fn replica_on(&self, database_url: &str) -> Twin {
        healthy_replica(database_url, &self.envs).await
    }

    /// As [`TestApp::replica`], with environment variables of its own besides the app's (its
    /// own test clock, say).
    pub async fn replica_with_env(&self, envs: &[(&str, &str)]) -> Twin {
        let mut all = self.envs.clone();
        all.extend(envs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        healthy_replica(&self.database_url(), &all).await
    }

    /// Stops the server and starts a new one on the same database (on a new port: make new
    /// clients with [`TestApp::api`]).
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, base, stderr) = start_server(&self.database_url(), &self.envs);
        self.child = child;
        self.base = base;
        self.stderr = stderr;
        self.wait_healthy().await;
    }

    async fn wait_healthy(&self) {
        wait_healthy(&self.base, &|| self.stderr()).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("sy.db")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn database_url(&self) -> String {
        self.given_database
            .clone()
            .unwrap_or_else(|| database_url_of(self.dir.path()))
    }

    /// Runs the binary against this app's database.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, None)
    }

    /// `switchyard import --format unleash FILE` into `project`'s environment `env`.
    pub fn import_unleash(&self, project: &str, env: &str, file: &Path) -> Output {
        let file = file.to_str().unwrap();
        self.cli(&[
            "import",
            "--project",
            project,
            "--environment",
            env,
            "--format",
            "unleash",
            file,
        ])
    }

    pub fn cli_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        cli_on(&self.database_url(), args, stdin)
    }

    fn unique(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.counter.fetch_add(1, Ordering::SeqCst))
    }

    /// A new user (via the CLI), without any membership.
    pub fn create_user(&self, email: &str) {
        let out = self.cli_with_stdin(
            &["user", "create", "--email", email, "--password-stdin"],
            Some(PASSWORD),
        );
        assert_success(&out, "user create");
    }

    pub fn add_member(&self, project: &str, email: &str, role: &str) {
        let out = self.cli(&[
            "member",
            "add",
            "--project",
            project,
            "--email",
            email,
            "--role",
            role,
        ]);
        assert_success(&out, "member add");
    }

    /// An admin token's secret, acting as `email` in `project`.
    pub fn admin_token(&self, project: &str, email: &str) -> String {
        let name = self.unique("tok-");
        let out = self.cli(&[
            "token",
            "create",
            "--type",
            "admin",
            "--project",
            project,
            "--user",
            email,
            "--name",
            &name,
        ]);
        assert_success(&out, "token create");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn feed_token(&self, kind: &str, project: &str, env: &str) -> String {
        let name = self.unique("feed-");
        let out = self.cli(&[
            "token",
            "create",
            "--type",
            kind,
            "--project",
            project,
            "--environment",
            env,
            "--name",
            &name,
        ]);
        assert_success(&out, "token create");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A member of `web` with `role` (viewer, editor, approver, owner), with an admin token.
    pub fn user(&self, role: &str) -> Actor {
        let email = format!("{}@example.com", self.unique(role));
        self.create_user(&email);
        self.add_member(PROJECT, &email, role);
        let api = self.api(Some(self.admin_token(PROJECT, &email)));
        Actor { email, api }
    }

    /// The global admin (created from the environment), with an admin token for `web`.
    pub fn admin(&self) -> Actor {
        let mut api = self.api(Some(self.admin_token(PROJECT, ADMIN_EMAIL)));
        api.governance = Some(self.governance());
        Actor {
            email: ADMIN_EMAIL.to_string(),
            api,
        }
    }

    /// A new global admin (via the CLI), without any membership.
    pub fn create_admin(&self, email: &str) {
        let out = self.cli_with_stdin(
            &[
                "user",
                "create",
                "--email",
                email,
                "--admin",
                "--password-stdin",
            ],
            Some(PASSWORD),
        );
        assert_success(&out, "user create --admin");
    }

    /// An instance-wide admin token (bound to no project) acting as `email`.
    pub fn instance_token(&self, email: &str) -> String {
        let name = self.unique("wide-");
        let out = self.cli(&[
            "token", "create", "--type", "admin", "--user", email, "--name", &name,
        ]);
        assert_success(&out, "token create (instance-wide)");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn governance(&self) -> Arc<Governance> {
        self.governance
            .get_or_init(|| {
                let mut people = ["proposer", "approver"].map(|who| {
                    let email = format!("{}@example.com", self.unique(who));
                    self.create_admin(&email);
                    self.api(Some(self.admin_token(PROJECT, &email)))
                });
                let approver = std::mem::replace(&mut people[1], self.api(None));
                let proposer = std::mem::replace(&mut people[0], self.api(None));
                Arc::new(Governance { proposer, approver })
            })
            .clone()
    }

    /// A user who is not a member of `web`, holding an admin token scoped to `web`.
    pub fn stranger(&self) -> Actor {
        let email = format!("{}@example.com", self.unique("stranger"));
        self.create_user(&email);
        let api = self.api(Some(self.admin_token(PROJECT, &email)));
        Actor { email, api }
    }

    pub fn api(&self, token: Option<String>) -> Api {
        Api {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.base.clone(),
            token,
            governance: None,
        }
    }

    /// A browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        browser_at(&self.base)
    }

    /// A browser signed in through the real login form.
    pub async fn signed_in(&self, email: &str) -> Browser {
        let b = self.browser();
        let r = b.login(email, PASSWORD).await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "signing in as {email} failed: {}",
            r.text().await.unwrap_or_default()
        );
        b
    }

    /// A connection to the server's database through switchyard's own layer (the server keeps
    /// running; on SQLite WAL allows it), so the same statements run on either backend.
    pub async fn sql(&self) -> switchyard::db::Pooled {
        self.pool()
            .await
            .acquire()
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.database_url()))
    }

    /// A raw connection to the SQLite file, for what only SQLite has (`vacuum into`, locks,
    /// pragmas); `None` when the suite runs on PostgreSQL.
    pub async fn sqlite_file(&self) -> Option<SqliteConnection> {
        match on_postgres() {
            true => None,
            false => Some(connect(&self.db_path()).await),
        }
    }

    /// The server's database through switchyard's own pool, for calling its stores directly.
    pub async fn pool(&self) -> switchyard::db::Db {
        switchyard::db::connect(&self.database_url())
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", self.database_url()))
    }

    /// Waits until every queued webhook delivery has been sent, by whichever replica; fails
    /// after `within`.
    pub async fn outbox_drained(&self, within: Duration) {
        let mut conn = self.sql().await;
        let deadline = Instant::now() + within;
        loop {
            let pending = pending_deliveries(&mut conn).await;
            if pending == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{pending} deliveries still pending after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Webhook deliveries queued and not sent yet.
    pub async fn pending_deliveries(&self) -> i64 {
        pending_deliveries(&mut self.sql().await).await
    }

    pub async fn audit_count(&self) -> i64 {
        let mut c = self.sql().await;
        switchyard::db::query_scalar("select count(*) from audit_log")
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}

async fn pending_deliveries(conn: &mut switchyard::db::Pooled) -> i64 {
    switchyard::db::query_scalar("select count(*) from webhook_outbox where delivered_at is null")
        .fetch_one(conn)
        .await
        .unwrap()
}

pub async fn connect(path: &Path) -> SqliteConnection {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::from_secs(5));
    SqliteConnection::connect_with(&opts)
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

pub fn cli_on(url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("--database-url")
        .arg(url)
        .args(args)
        .env("SWITCHYARD_LOG", "warn")
        .env_remove("SWITCHYARD_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().expect("run switchyard");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "`switchyard {what}` failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Actor {
    pub email: String,
    pub api: Api,
}

/// An admin API client; `token: None` is an anonymous caller.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
    /// Set on the admin's client: who proposes and approves in `force_toggle`.
    pub governance: Option<Arc<Governance>>,
}

fn flag_path(project: &str, key: &str) -> String {
    format!(
        "/api/admin/projects/{project}/flags/{}",
        encode_segment(key)
    )
}

/// Percent-encodes one path segment (keys may hold any character but `/` and whitespace).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Api {
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            r = r.header(header::AUTHORIZATION, t);
        }
        r
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut r = self.request(method, path);
        if let Some(b) = body {
            r = r.json(b);
        }
        r.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None).await
    }

    pub async fn create_project(&self, body: &Value) -> Response {
        self.send(Method::POST, "/api/admin/projects", Some(body))
            .await
    }

    pub async fn create_flag(&self, project: &str, body: &Value) -> Response {
        self.send(
            Method::POST,
            &format!("/api/admin/projects/{project}/flags"),
            Some(body),
        )
        .await
    }

    pub async fn flags(&self, project: &str, query: &str) -> Response {
        self.get(&format!("/api/admin/projects/{project}/flags?{query}"))
            .await
    }

    pub async fn flag(&self, project: &str, key: &str) -> Response {
        self.get(&flag_path(project, key)).await
    }

    pub async fn patch(&self, project: &str, key: &str, body: &Value) -> Response {
        self.send(Method::PATCH, &flag_path(project, key), Some(body))
            .await
    }

    pub async fn toggle(&self, project: &str, key: &str, env: &str, on: bool) -> Response {
        let verb = if on { "on" } else { "off" };
        self.send(
            Method::POST,
            &format!("{}/environments/{env}/{verb}", flag_path(project, key)),
            None,
        )
        .await
    }

    pub async fn archive(&self, project: &str, key: &str) -> Response {
        self.send(
            Method::POST,
            &format!("{}/archive", flag_path(project, key)),
            None,
        )
        .await
    }

    pub async fn revive(&self, project: &str, key: &str) -> Response {
        self.send(
            Method::POST,
            &format!("{}/revive", flag_path(project, key)),
            None,
        )
        .await
    }

    pub async fn add_webhook(&self, project: &str, body: &Value) -> Response {
        self.send(
            Method::POST,
            &format!("/api/admin/projects/{project}/webhooks"),
            Some(body),
        )
        .await
    }

    pub async fn set_member(&self, project: &str, email: &str, role: &str) -> Response {
        self.send(
            Method::PUT,
            &format!("/api/admin/projects/{project}/members"),
            Some(&json!({"email": email, "role": role})),
        )
        .await
    }

    pub async fn create_token(&self, project: &str, body: &Value) -> Response {
        self.send(
            Method::POST,
            &format!("/api/admin/projects/{project}/tokens"),
            Some(body),
        )
        .await
    }

    pub async fn revoke_token(&self, project: &str, id: i64) -> Response {
        self.send(
            Method::DELETE,
            &format!("/api/admin/projects/{project}/tokens/{id}"),
            None,
        )
        .await
    }

    pub async fn add_environment(&self, project: &str, body: &Value) -> Response {
        self.send(
            Method::POST,
            &format!("/api/admin/projects/{project}/environments"),
            Some(body),
        )
        .await
    }

    pub async fn set_protection(
        &self,
        project: &str,
        env: &str,
        protected: bool,
        required_approvals: i64,
    ) -> Response {
        self.send(
            Method::PUT,
            &format!("/api/admin/projects/{project}/environments/{env}/protection"),
            Some(&json!({"protected": protected, "requiredApprovals": required_approvals})),
        )
        .await
    }

    /// Switches a flag on or off in a protected environment the reviewed way (one admin
    /// proposes and applies, another approves), for tests that need a live state to start from.
    pub async fn force_toggle(&self, project: &str, key: &str, env: &str, on: bool) {
        let verb = if on { "on" } else { "off" };
        let path = format!("{}/environments/{env}/{verb}", flag_path(project, key));
        self.force(Method::POST, &path, None).await;
    }

    /// Sends a write to a protected environment the reviewed way: a second admin proposes it
    /// (202), a third approves, the second applies.
    pub async fn force(&self, method: Method, path: &str, body: Option<&Value>) {
        let g = self
            .governance
            .as_ref()
            .expect("force needs the admin's client (TestApp::admin)");
        let r = g.proposer.send(method, path, body).await;
        let status = r.status();
        let answer: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::ACCEPTED, "propose {path}: {answer}");
        let id = answer["changeRequest"]["id"].as_i64().unwrap();
        let title = json!({"title": "test setup", "reason": "a live state to start from"});
        for (api, verb, body) in [
            (&g.proposer, "submit", Some(&title)),
            (&g.approver, "approve", None),
            (&g.proposer, "apply", None),
        ] {
            let r = api.change_request_step(id, verb, body).await;
            let status = r.status();
            assert_eq!(
                status,
                StatusCode::OK,
                "{verb} #{id}: {}",
                r.text().await.unwrap()
            );
        }
    }

    pub async fn kill(&self, project: &str, key: &str, env: &str, body: &Value) -> Response {
        self.send(
            Method::POST,
            &format!("{}/environments/{env}/kill", flag_path(project, key)),
            Some(body),
        )
        .await
    }

    pub async fn change_request(&self, id: i64) -> Response {
        self.get(&format!("/api/admin/change-requests/{id}")).await
    }

    /// `POST /api/admin/change-requests/{id}/{verb}`.
    pub async fn change_request_step(&self, id: i64, verb: &str, body: Option<&Value>) -> Response {
        self.send(
            Method::POST,
            &format!("/api/admin/change-requests/{id}/{verb}"),
            body,
        )
        .await
    }

    pub async fn audit(&self, query: &str) -> Response {
        self.get(&format!("/api/admin/audit?{query}")).await
    }

    /// The actions of the audit entries `query` selects, as the API lists them.
    pub async fn audit_actions(&self, query: &str) -> Vec<String> {
        let r = self.audit(query).await;
        assert_eq!(r.status(), StatusCode::OK);
        let log: Value = r.json().await.unwrap();
        log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str().map(str::to_string))
            .collect()
    }

    /// The flag as JSON, panicking unless the read succeeds.
    pub async fn flag_json(&self, project: &str, key: &str) -> Value {
        let r = self.flag(project, key).await;
        assert_eq!(r.status(), StatusCode::OK, "GET flag {key}");
        r.json().await.unwrap()
    }

    /// Creates a flag with only a key, panicking unless it is created.
    pub async fn new_flag(&self, project: &str, key: &str) -> Value {
        let r = self.create_flag(project, &json!({ "key": key })).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "create flag {key}: {body}");
        body
    }
}

/// A browser: cookie jar, no automatic redirects, same-origin `Origin` on every POST. A clone
/// is the same browser (one cookie jar).
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub base: String,
}

impl Browser {
    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .unwrap()
    }

    /// The current value of the session cookie, if the jar has one.
    pub fn session_cookie(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.base).unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().unwrap().split("; ").find_map(|kv| {
            kv.strip_prefix(&format!("{SESSION_COOKIE}="))
                .map(str::to_string)
        })
    }

    /// The CSRF token from a page's `<meta name="csrf-token">`.
    pub async fn csrf_from(&self, path: &str) -> Option<String> {
        let r = self.get(path).await;
        if !r.status().is_success() {
            return None;
        }
        meta_csrf(&r.text().await.unwrap()).filter(|t| !t.is_empty())
    }

    /// The CSRF token of a signed-in session, from the first page that shows one.
    pub async fn csrf(&self) -> String {
        for page in ["/", "/projects", "/account"] {
            if let Some(t) = self.csrf_from(page).await {
                return t;
            }
        }
        panic!("no signed-in page (/, /projects, /account) carries <meta name=\"csrf-token\">");
    }

    /// POSTs a form with the given extra headers; `Origin` is same-origin unless overridden.
    pub async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response {
        let mut r = self
            .client
            .post(format!("{}{}", self.base, path))
            .form(fields);
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("origin"))
        {
            r = r.header(header::ORIGIN, &self.base);
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.unwrap()
    }

    /// GET /login for its token, then POST the form, same-origin.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        let token = self
            .csrf_from("/login")
            .await
            .expect("the login page carries a CSRF token");
        self.post_form(
            "/login",
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
            ],
            &[],
        )
        .await
    }

    /// True when the session is signed in: the login page then redirects away.
    pub async fn is_signed_in(&self) -> bool {
        self.get("/login").await.status() == StatusCode::SEE_OTHER
    }
}

/// A browser with an empty cookie jar for the server at `base`.
pub fn browser_at(base: &str) -> Browser {
    let jar = Arc::new(Jar::default());
    Browser {
        client: reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        jar,
        base: base.to_string(),
    }
}

pub fn meta_csrf(html: &str) -> Option<String> {
    let marker = "<meta name=\"csrf-token\" content=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// A client that presents exactly this session cookie and nothing else.
pub async fn signed_in_with_cookie(base: &str, cookie: &str) -> bool {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/login"))
        .header(header::COOKIE, format!("{SESSION_COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    r.status() == StatusCode::SEE_OTHER
}

/// Status and body of a JSON error, for snapshots.
pub async fn status_and_json(r: Response) -> String {
    let status = r.status();
    let ct = r
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    assert!(
        ct.starts_with("application/json"),
        "expected a JSON body, got {ct:?}: {body}"
    );
    format!("{status} {body}")
}

impl TestApp {
    /// Everything a mutating admin route could change, as one comparable string (token use
    /// times excluded: reads may record them).
    pub async fn fingerprint(&self) -> String {
        let mut c = self.sql().await;
        let queries = [
            "select count(*) || ':' || coalesce(group_concat(key || '|' || name || '|' || description \
             || '|' || flag_type || '|' || coalesce(archived_at, '-') || '|' || version, ','), '') \
             from (select * from flags order by id)",
            "select count(*) || ':' || coalesce(group_concat(enabled || '|' || version, ','), '') \
             from (select * from flag_environments order by flag_id, environment_id)",
            "select count(*) || ':' || coalesce(group_concat(key, ','), '') from (select * from projects order by id)",
            "select count(*) || ':' || coalesce(group_concat(key, ','), '') from (select * from environments order by id)",
            "select count(*) || ':' || coalesce(group_concat(user_id || '|' || role, ','), '') \
             from (select * from memberships order by project_id, user_id)",
            "select count(*) || ':' || coalesce(group_concat(coalesce(revoked_at, '-'), ','), '') \
             from (select * from api_tokens order by id)",
            "select count(*) || '' from flag_tags",
            "select count(*) || ':' || coalesce(group_concat(url, ','), '') from (select * from webhooks order by id)",
            // Rollout safety: plans and where they are, templates, the gradual-start setting,
            // rollback reviews, health samples.
            "select count(*) || ':' || coalesce(group_concat(state || '|' || milestone || '|' || version, ','), '') \
             from (select * from release_plans order by id)",
            "select count(*) || ':' || coalesce(group_concat(key || '|' || name || '|' || version, ','), '') \
             from (select * from release_templates order by id)",
            "select count(*) || ':' || coalesce(group_concat(cast(require_gradual as text), ','), '') \
             from (select * from release_settings order by project_id)",
            "select count(*) || ':' || coalesce(group_concat(coalesce(completed_at, '-'), ','), '') \
             from (select * from release_rollback_reviews order by id)",
            "select count(*) || ':' || coalesce(sum(count), 0) from signal_points",
            // Last: `audit_count` in tests/it/permissions.rs reads it there.
            "select count(*) || '' from audit_log",
        ];
        let mut out = Vec::new();
        for q in queries {
            let q = for_backend(q);
            let v: String = switchyard::db::query_scalar(&q)
                .fetch_one(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{q}: {e}"));
            out.push(v);
        }
        out.join("\n")
    }
}

/// A fingerprint query as PostgreSQL writes it: `string_agg` for `group_concat`, and a name
/// for each subquery in `from`.
fn for_backend(q: &str) -> String {
    if !on_postgres() {
        return q.to_string();
    }
    let q = q.replace("group_concat(", "string_agg(");
    match q.rfind(')') {
        Some(end) if q[..end].contains("from (select") => {
            format!("{}) as rows{}", &q[..end], &q[end + 1..])
        }
        _ => q,
    }
}

/// An RFC 3339 time, for tests on a test clock.
pub fn parse_time(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("an RFC 3339 time")
        .with_timezone(&chrono::Utc)
}
