//! The checkpoint file: the audit head (`SEQ HASH`, one a line) appended outside the database
//! as the log grows, so a copy kept on another disk or machine shows later whether entries were
//! removed from the end or rewritten (`switchyard audit verify --checkpoint PATH`).
//!
//! The server appends at most once a [`PERIOD`], only when the head moved, and syncs each line
//! to disk: a head that reached the file survives a crash. Entries written less than a period
//! before a crash may be missing from the file; they are still in the chain.

use super::chain::{Pin, Pins};
use super::store;
use crate::db::Db;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

pub const PERIOD: Duration = Duration::from_secs(1);

pub struct Checkpoint {
    db: Db,
    path: PathBuf,
    /// The head the file ends with.
    last: Mutex<Option<String>>,
}

impl Checkpoint {
    /// Opens (or creates) the file, so a path the server cannot write is refused at start.
    pub fn open(db: Db, path: PathBuf) -> anyhow::Result<Arc<Checkpoint>> {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
        };
        append_to(&path, "").with_context(|| format!("could not write {}", path.display()))?;
        let last = text.lines().last().map(str::to_string);
        Ok(Arc::new(Checkpoint {
            db,
            path,
            last: Mutex::new(last),
        }))
    }

    /// Appends the current head when it moved since the last line.
    pub async fn write_now(&self) -> anyhow::Result<()> {
        let head = {
            let mut conn = self.db.acquire().await?;
            store::head(&mut conn).await?
        };
        if head.seq == 0 {
            return Ok(());
        }
        let line = format!("{} {}", head.seq, head.hash);
        let mut last = self.last.lock().await;
        if last.as_deref() == Some(line.as_str()) {
            return Ok(());
        }
        let path = self.path.clone();
        let text = format!("{line}\n");
        tokio::task::spawn_blocking(move || append_to(&path, &text)).await??;
        *last = Some(line);
        Ok(())
    }

    /// Appends every [`PERIOD`] while the process runs.
    pub fn start(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PERIOD);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = me.write_now().await {
                    tracing::warn!(error = %e, path = %me.path.display(), "could not write the audit checkpoint");
                }
            }
        });
    }
}

fn append_to(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if !text.is_empty() {
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
    }
    Ok(())
}

/// Reads a checkpoint file into pins; a line that is not `SEQ HASH` is named.
pub fn read_pins(path: &Path, pins: &mut Pins) -> Result<usize, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("could not read the checkpoint file {}: {e}", path.display()))?;
    let mut count = 0;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let pin = Pin::parse(line)
            .ok()
            .filter(|p| p.seq.is_some())
            .ok_or_else(|| {
                format!(
                    "line {} of {} is not \"SEQ HASH\": {line:?}",
                    i + 1,
                    path.display()
                )
            })?;
        pins.add(pin)?;
        count += 1;
    }
    Ok(count)
}
