//! A PostgreSQL server of the test's own, for tests that stop the database under a running
//! server: the suite's shared server on 5432 must stay up for every other test. Made with the
//! PostgreSQL 15 binaries (`initdb`, `pg_ctl`) in a temp dir, listening on a free loopback port,
//! trusting local connections; stopped and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct PrivatePostgres {
    /// Holds the data directory, the socket and the log.
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// A running server, or `None` when PostgreSQL 15's binaries are not installed.
    pub fn start() -> Option<PrivatePostgres> {
        if !Path::new(BIN).join("initdb").exists() {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        // PostgreSQL refuses to run as root: as root (the suite in CI), its files belong to the
        // `postgres` user and the binaries run as that user.
        if running_as_root() {
            let status = Command::new("chown")
                .args(["postgres:", &dir.path().display().to_string()])
                .status()
                .expect("chown");
            assert!(status.success(), "chown the PostgreSQL dir to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = PrivatePostgres { dir, port };
        let data = pg.data();
        pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "root", "--no-sync"],
        );
        pg.start_again();
        let out = Command::new("psql")
            .arg(pg.url("postgres"))
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                "create database switchyard",
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(pg)
    }

    /// The URL of the database `name` on this server (`switchyard` is made at start).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://root@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server as a crash or a pulled cable would: connections end without goodbye.
    pub fn stop(&self) {
        let data = self.data();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// Starts the (stopped) server again, waiting until it takes connections.
    pub fn start_again(&self) {
        let data = self.data();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = self
            .command(program)
            .args(args)
            .output()
            .expect("run a PostgreSQL binary");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
        out
    }

    /// One of PostgreSQL's binaries, run as `postgres` when the suite runs as root.
    fn command(&self, program: &str) -> Command {
        let program: PathBuf = Path::new(BIN).join(program);
        let mut cmd = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        // Started in the test's dir, which the postgres user may not enter.
        cmd.current_dir(self.dir.path());
        cmd
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Stopped already when the test stopped it last; either way nothing is left running.
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
