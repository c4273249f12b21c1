//! `switchyard serve` on a database with no user yet and no admin from the environment: the
//! first-admin setup link it prints.

use super::{create_database, database_url_of, drop_database};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A database of the test's own with nothing in it (the suite's backend), dropped with it.
pub struct EmptyDatabase {
    dir: tempfile::TempDir,
    pub url: String,
}

impl EmptyDatabase {
    pub fn new() -> EmptyDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        create_database(dir.path());
        let url = database_url_of(dir.path());
        EmptyDatabase { dir, url }
    }
}

impl Drop for EmptyDatabase {
    fn drop(&mut self) {
        drop_database(self.dir.path());
    }
}

/// A server started on a database without users.
pub struct Fresh {
    child: Child,
    pub base: String,
    /// The setup link it printed, as a path (`/setup/…`).
    pub setup: String,
}

impl Drop for Fresh {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `switchyard serve` on `url` and reads its setup link and address.
pub fn serve_without_users(url: &str) -> Fresh {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["--database-url", url, "serve", "--bind", "127.0.0.1:0"])
        .env_remove("SWITCHYARD_ADMIN_EMAIL")
        .env_remove("SWITCHYARD_ADMIN_PASSWORD")
        .env_remove("SWITCHYARD_TEST_CLOCK_FILE")
        .env_remove("SWITCHYARD_DATABASE_URL")
        .env("SWITCHYARD_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut setup = None;
    let base = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if line.contains("/setup/") {
            setup = line
                .split_whitespace()
                .find(|w| w.contains("/setup/"))
                .map(str::to_string);
        }
        if let Some(rest) = line.strip_prefix("Switchyard is listening on ") {
            break rest.trim().to_string();
        }
    };
    // Keeps draining, so the server never blocks on stdout.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let setup = setup.expect("a setup link");
    let setup = setup.strip_prefix(&base).unwrap_or(&setup).to_string();
    Fresh { child, base, setup }
}
