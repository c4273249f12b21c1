//! `Chrome`: a real headless Chromium driven over WebDriver (`chromedriver` as a child process,
//! `fantoccini` as the client), for the journeys in `tests/it/browser.rs`.
//!
//! Chromium and chromedriver are required, not optional: a missing binary fails the test with
//! an install hint (Debian `chromium` and `chromium-driver`; `.ci/run` installs them).

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Map, Value};
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "chromedriver";

/// How long one page, one htmx swap or chromedriver's start may take on a busy 2-core runner.
pub const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

/// A WebDriver session in a fresh profile. Dropping it kills chromedriver's whole process
/// group, so no Chromium outlives a failing test; `quit` ends the session politely first.
pub struct Chrome {
    pub client: Client,
    base: String,
    driver: Child,
    dir: tempfile::TempDir,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // chromedriver was started as the leader of its own process group; Chromium and its
        // helpers inherit that group, so one signal to the group ends them all.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port for chromedriver")
        .port()
}

fn require_binaries() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: the browser tests need Debian's `chromium` and `chromium-driver` \
         packages (`apt-get install chromium chromium-driver`; .ci/run installs them)"
    );
}

impl Chrome {
    /// Starts chromedriver on a free port and opens a headless Chromium session; relative paths
    /// given to `goto` resolve against `base` (the app under test).
    pub async fn start(base: &str) -> Chrome {
        require_binaries();
        let dir = tempfile::tempdir().expect("temp dir for the browser profile");
        let log_path = dir.path().join("chromedriver.log");
        let log = File::create(&log_path).expect("chromedriver log file");
        let port = free_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start `{CHROMEDRIVER}` ({e}): the browser tests need Debian's \
                     `chromium` and `chromium-driver` packages (.ci/run installs them)"
                )
            });

        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = driver.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!(
                    "chromedriver did not accept connections on port {port} within {WAIT:?} \
                     (exit status: {exited:?})\nlog:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            tokio::time::sleep(POLL).await;
        }

        let profile = dir.path().join("profile");
        let args = [
            "--headless".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--no-first-run".to_string(),
            "--window-size=1280,900".to_string(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut caps = Map::new();
        caps.insert(
            "goog:chromeOptions".to_string(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        let connected =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
        let client = match connected {
            Ok(c) => c,
            Err(e) => {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", driver.id())])
                    .status();
                let _ = driver.wait();
                panic!(
                    "chromedriver could not start a Chromium session ({e})\nlog:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        Chrome {
            client,
            base: base.trim_end_matches('/').to_string(),
            driver,
            dir,
        }
    }

    /// Ends the WebDriver session (Chromium exits); `Drop` then stops chromedriver.
    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Navigates and waits for the load to finish.
    pub async fn goto(&self, path: &str) {
        let url = self.url(path);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("GET {url} in the browser: {e}"));
    }

    pub async fn path(&self) -> String {
        match self.client.current_url().await {
            Ok(u) => match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            },
            Err(e) => format!("<unknown: {e}>"),
        }
    }

    /// The first element matching `css`, waiting up to `WAIT` for it to appear (page loads after
    /// a click, htmx swaps). On timeout: a screenshot `<name>-timeout`, then a panic that says
    /// what was awaited and where the browser was.
    pub async fn wait_for(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(el) => el,
            Err(e) => {
                let at = self.path().await;
                self.screenshot(&format!("timeout-{}", sanitize(css))).await;
                let text = self.body_text().await;
                panic!("waited {WAIT:?} for `{css}` on {at}: {e}\npage text:\n{text}");
            }
        }
    }

    /// Waits until the JavaScript expression is true (for example, htmx has loaded).
    pub async fn wait_until(&self, js_expr: &str) {
        let deadline = Instant::now() + WAIT;
        let script = format!("return !!({js_expr});");
        loop {
            if let Ok(Value::Bool(true)) = self.client.execute(&script, vec![]).await {
                return;
            }
            if Instant::now() > deadline {
                panic!("waited {WAIT:?} for `{js_expr}` on {}", self.path().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Types into the field matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.wait_for(css).await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("clear `{css}`: {e}"));
        el.send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
    }

    pub async fn click(&self, css: &str) {
        let el = self.wait_for(css).await;
        if let Err(e) = el.click().await {
            panic!("click `{css}` on {}: {e}", self.path().await);
        }
    }

    /// The rendered text of the page (what a reader sees, entities decoded).
    pub async fn body_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The text of an open `alert`/`confirm` dialog, if any (WebDriver answers "no such alert"
    /// otherwise).
    pub async fn open_alert(&self) -> Option<String> {
        self.client.get_alert_text().await.ok()
    }

    /// Saves a PNG of the viewport to `target/screenshots/<name>.png` for people to look at after
    /// a run; failures are ignored (a screenshot is never what a test checks).
    pub async fn screenshot(&self, name: &str) {
        let Ok(png) = self.client.screenshot().await else {
            return;
        };
        let dir = screenshot_dir();
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join(format!("{}.png", sanitize(name))), png);
        }
    }

    /// chromedriver's log so far, for failure messages.
    pub fn driver_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
