//! The load-balancer example (issue 10, point 4): nginx from Debian's packages, configured by
//! `examples/replicas/nginx.conf` itself (its placeholders filled with the test's ports), in
//! front of three replicas on one PostgreSQL database. Through nginx a browser signs in and works
//! whichever replica answers each request, a switch reaches the feed and an event stream within
//! a second, and with one replica killed the feed, writes and streams keep answering.
//! Returns at once on SQLite (one process's database) and when nginx is not installed.

use crate::replicas::{served_within, WITHIN};
use crate::support::stream::EventStream;
use crate::support::{
    on_postgres, signed_in_with_cookie, Api, TestApp, Twin, ADMIN_EMAIL, PASSWORD, PROJECT,
};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The example the README points to: what is tested is what users copy.
fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/replicas/nginx.conf")
}

fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// nginx in the foreground, everything it writes in a temp folder; stopped when dropped.
struct Nginx {
    child: Child,
    base: String,
    access_log: Arc<Mutex<String>>,
    errors: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

fn drain(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let sink = Arc::new(Mutex::new(String::new()));
    let out = sink.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    sink
}

fn host_port(base: &str) -> &str {
    base.strip_prefix("http://").unwrap_or(base)
}

impl Nginx {
    /// Starts nginx on a free loopback port in front of `replicas` (three base URLs), once it
    /// answers `/healthz` from one of them.
    async fn start(bin: &Path, replicas: [&str; 3]) -> Nginx {
        let template = std::fs::read_to_string(template()).expect("read the nginx example");
        for placeholder in ["@LISTEN@", "@REPLICA_A@", "@REPLICA_B@", "@REPLICA_C@"] {
            assert!(template.contains(placeholder), "{placeholder} is gone");
        }
        // The port is free when asked; another process may take it before nginx binds it, so a
        // start that fails on it is tried again on another.
        let mut last_errors = String::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let listen = format!("127.0.0.1:{port}");
            let conf = template
                .replace("@LISTEN@", &listen)
                .replace("@REPLICA_A@", host_port(replicas[0]))
                .replace("@REPLICA_B@", host_port(replicas[1]))
                .replace("@REPLICA_C@", host_port(replicas[2]));
            let dir = tempfile::tempdir().unwrap();
            // As root nginx runs its workers as nobody, who must reach the temp folders in here.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf).unwrap();
            let mut child = Command::new(bin)
                .arg("-e")
                .arg("stderr")
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf_path)
                .args(["-g", "daemon off;"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start nginx");
            let access_log = drain(child.stdout.take().unwrap());
            let errors = drain(child.stderr.take().unwrap());
            let nginx = Nginx {
                child,
                base: format!("http://{listen}"),
                access_log,
                errors,
                _dir: dir,
            };
            if nginx.answers().await {
                return nginx;
            }
            last_errors = nginx.errors();
        }
        panic!("nginx did not start:\n{last_errors}");
    }

    /// Whether `/healthz` answers through nginx within 10 s; false once nginx has exited.
    async fn answers(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/healthz", self.base)).send().await {
                if r.status() == StatusCode::OK {
                    return true;
                }
            }
            if Command::new("kill")
                .args(["-0", &self.child.id().to_string()])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| !s.success())
            {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn errors(&self) -> String {
        self.errors.lock().unwrap().clone()
    }

    /// The replicas (`host:port`) that answered requests whose line in the access log contains
    /// `needle`.
    fn upstreams_of(&self, needle: &str) -> BTreeSet<String> {
        self.access_log
            .lock()
            .unwrap()
            .lines()
            .filter(|l| l.contains(needle))
            .filter_map(|l| l.split(" upstream=").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .flat_map(|hops| hops.split(", "))
            .map(str::to_string)
            .collect()
    }

    /// `api`'s caller, talking through nginx.
    fn api(&self, api: &Api) -> Api {
        Api {
            base: self.base.clone(),
            ..api.clone()
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops its workers, which would otherwise keep
        // the port.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three replicas (the app and two more) and nginx in front, or `None` where this cannot run.
async fn balanced(envs: &[(&str, &str)]) -> Option<(TestApp, Twin, Twin, Nginx)> {
    if !on_postgres() {
        return None;
    }
    let Some(bin) = nginx_binary() else {
        eprintln!("nginx is not installed: the load-balancer example is not checked");
        return None;
    };
    let a = TestApp::spawn_with_env(envs).await;
    let (b, c) = tokio::join!(a.replica(), a.replica());
    let lb = Nginx::start(&bin, [&a.base, &b.base, &c.base]).await;
    Some((a, b, c, lb))
}

#[tokio::test]
async fn through_nginx_a_browser_signs_in_and_works_whichever_replica_answers() {
    // nginx connects from loopback: the replicas take the client's address from it.
    let Some((a, b, c, lb)) = balanced(&[("SWITCHYARD_TRUSTED_PROXIES", "127.0.0.1")]).await else {
        return;
    };
    let mut browser = a.browser();
    browser.base = lb.base.clone();
    // The sign-in form comes from one replica and is posted to the next (round robin).
    let r = browser.login(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "sign-in through nginx: {}",
        r.text().await.unwrap()
    );
    for _ in 0..3 {
        assert!(browser.is_signed_in().await, "signed out on some replica");
    }
    let csrf = browser.csrf().await;
    let form = [
        ("key", "balanced"),
        ("name", "Balanced"),
        ("csrf_token", &csrf),
    ];
    let r = browser.post_form("/projects", &form, &[]).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    for _ in 0..3 {
        let r = browser.get("/projects/balanced").await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "the new project, on every replica"
        );
    }
    // Each replica answered some of those pages, so the session really crossed between them.
    let replicas: BTreeSet<String> = [&a.base, &b.base, &c.base]
        .map(|b| host_port(b).to_string())
        .into();
    let deadline = Instant::now() + Duration::from_secs(5);
    while lb.upstreams_of("/projects/balanced") != replicas {
        assert!(
            Instant::now() < deadline,
            "answered by {:?} of {replicas:?}",
            lb.upstreams_of("/projects/balanced")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The client's address reaches the replicas through X-Forwarded-For: a failed sign-in is
    // logged with the address the outer hop saw, not nginx's.
    let stranger = {
        let mut s = a.browser();
        s.base = lb.base.clone();
        s
    };
    let token = stranger.csrf_from("/login").await.unwrap();
    let r = stranger
        .post_form(
            "/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", "not-the-password-at-all"),
                ("csrf_token", &token),
            ],
            &[("X-Forwarded-For", "203.0.113.7")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let deadline = Instant::now() + Duration::from_secs(5);
    while ![a.stderr(), b.stderr(), c.stderr()]
        .iter()
        .any(|log| log.contains("sign-in failed") && log.contains("203.0.113.7"))
    {
        assert!(
            Instant::now() < deadline,
            "no replica logged the client's address"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The metrics are scraped from each replica, not through the public entrance.
    let r = reqwest::get(format!("{}/metrics", lb.base)).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "/metrics through nginx");
    let r = reqwest::get(a.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "/metrics on a replica");

    // Signing out through nginx ends the session on every replica.
    let cookie = browser.session_cookie().expect("a session cookie");
    let r = browser
        .post_form("/logout", &[("csrf_token", &csrf)], &[])
        .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    for base in [&a.base, &b.base, &c.base] {
        assert!(!signed_in_with_cookie(base, &cookie).await, "{base}");
    }
}

/// Reads the client API through nginx until `reads` answers in a row (round robin: one from
/// each replica) serve `key` as `on`; how long that took.
async fn balanced_feed_serves(
    lb: &str,
    token: &str,
    key: &str,
    on: bool,
    reads: usize,
) -> Duration {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut in_a_row = 0;
    while in_a_row < reads {
        let r = client
            .get(format!("{lb}/api/client/features"))
            .header("Authorization", token)
            .send()
            .await
            .expect("nginx answers");
        assert_eq!(r.status(), StatusCode::OK, "the feed through nginx");
        let body: Value = r.json().await.unwrap();
        let served = body["features"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["name"] == key))
            .and_then(|f| f["enabled"].as_bool());
        in_a_row = if served == Some(on) { in_a_row + 1 } else { 0 };
        assert!(
            start.elapsed() < WITHIN,
            "nginx did not serve {key} enabled={on} {reads} times in a row within {WITHIN:?}"
        );
        if in_a_row == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    start.elapsed()
}

/// Three replicas behind nginx with a flag `checkout`, off, that every replica's feed already
/// serves: where the SDK-facing tests start from.
struct Checkout {
    /// The replica the tests stop; the other two serve until the test ends.
    b: Twin,
    _a: TestApp,
    _c: Twin,
    lb: Nginx,
    /// The admin's API, through nginx.
    admin: Api,
    /// A client token for development.
    token: String,
}

impl Checkout {
    /// `None` where [`balanced`] cannot run.
    async fn start() -> Option<Checkout> {
        let (a, b, c, lb) = balanced(&[]).await?;
        let admin = lb.api(&a.admin().api);
        admin.new_flag(PROJECT, "checkout").await;
        let token = a.feed_token("client", PROJECT, "development");
        for base in [&a.base, &b.base, &c.base] {
            served_within(base, &token, "checkout", false, Duration::from_secs(5)).await;
        }
        Some(Checkout {
            b,
            _a: a,
            _c: c,
            lb,
            admin,
            token,
        })
    }
}

#[tokio::test]
async fn through_nginx_a_switch_reaches_feed_and_stream_within_a_second_even_with_a_replica_down() {
    let Some(mut t) = Checkout::start().await else {
        return;
    };
    let mut stream = EventStream::open(&t.lb.base, &t.token).await;

    for on in [true, false, true] {
        let start = Instant::now();
        let r = t.admin.toggle(PROJECT, "checkout", "development", on).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        let fed = balanced_feed_serves(&t.lb.base, &t.token, "checkout", on, 3).await;
        let update = stream.update_naming("checkout", WITHIN).await;
        assert!(update.contains(&format!("\"enabled\":{on}")), "{update}");
        let streamed = start.elapsed();
        eprintln!("switch through nginx: on every replica's feed {fed:?} after the answer, on the stream {streamed:?} after the write began");
        assert!(streamed < WITHIN, "{streamed:?}");
    }

    // One replica dies: every poll through nginx is still answered, by the other two.
    let dead = host_port(&t.b.base).to_string();
    t.b.kill();
    for _ in 0..30 {
        balanced_feed_serves(&t.lb.base, &t.token, "checkout", true, 1).await;
    }
    // Writes too, and a stream opened now gets the next change.
    let mut stream = EventStream::open(&t.lb.base, &t.token).await;
    let start = Instant::now();
    let r = t
        .admin
        .toggle(PROJECT, "checkout", "development", false)
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    balanced_feed_serves(&t.lb.base, &t.token, "checkout", false, 2).await;
    let update = stream.update_naming("checkout", WITHIN).await;
    assert!(update.contains("\"enabled\":false"), "{update}");
    assert!(start.elapsed() < WITHIN, "{:?}", start.elapsed());
    // nginx did try the dead one, and took it out of the rotation.
    assert!(
        t.lb.errors().contains(&dead),
        "nginx never noticed {dead} was down: {}",
        t.lb.errors()
    );
}

#[tokio::test]
async fn through_nginx_a_replica_stopped_with_sigterm_hands_its_sdks_to_the_others() {
    let Some(mut t) = Checkout::start().await else {
        return;
    };
    // Round robin: one stream on each replica.
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(EventStream::open(&t.lb.base, &t.token).await);
    }
    let stopped = host_port(&t.b.base).to_string();

    t.b.terminate();
    // SDK polls meanwhile are answered, by whichever replicas still take them.
    for _ in 0..20 {
        balanced_feed_serves(&t.lb.base, &t.token, "checkout", false, 1).await;
    }
    assert!(
        t.b.wait_exit(Duration::from_secs(5)).is_some(),
        "the replica did not exit within 5 s of SIGTERM"
    );

    // The stream on the stopped replica has ended (its SDK reconnects); the other two carry
    // the next switch, and so does a stream opened now, on one of the remaining replicas.
    streams.push(EventStream::open(&t.lb.base, &t.token).await);
    let r = t
        .admin
        .toggle(PROJECT, "checkout", "development", true)
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let outcomes = futures_util::future::join_all(
        streams
            .iter_mut()
            .map(|s| s.updated_or_ended("checkout", true, WITHIN)),
    )
    .await;
    let ended = outcomes[..3].iter().filter(|o| **o == "ended").count();
    assert_eq!(
        ended, 1,
        "one stream per replica, one replica stopped: {outcomes:?}"
    );
    assert_eq!(outcomes[3], "updated", "the stream opened after the stop");
    // nginx's log names the replica of the stream that ended: the stopped one.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !t
        .lb
        .upstreams_of("/api/client/streaming")
        .contains(&stopped)
    {
        assert!(
            Instant::now() < deadline,
            "the ended stream was not on {stopped}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
