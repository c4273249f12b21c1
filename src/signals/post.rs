//! A service's batch of samples (`POST /api/admin/projects/{p}/signals`): each sample read and
//! stored on its own, so one bad sample is refused with its reason and costs no other.

use super::raw::RawBatch;
use super::{record, sample, Sample, MAX_SAMPLES_PER_POST};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{store as projects_store, Project};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize)]
pub struct BatchOutcome {
    pub accepted: usize,
    pub rejected: Vec<Rejection>,
}

#[derive(Debug, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub reason: String,
}

/// Reads `{"samples": [...]}` and stores what is good. Only a body without a samples list, or
/// with more than [`MAX_SAMPLES_PER_POST`], is refused whole.
pub async fn post_batch(
    conn: &mut Conn,
    project: &Project,
    body: &Value,
    now: DateTime<Utc>,
) -> AppResult<BatchOutcome> {
    // The SDKs' lenient reader, so both ways in judge samples alike. It fails only on text that
    // is not JSON, and this text was written from a JSON value: what is wrong is refused below,
    // per sample.
    let text = body.to_string();
    let batch = RawBatch::read(&text).unwrap_or_default();
    let Some(raw) = batch.samples else {
        return Err(AppError::invalid(
            "samples",
            "send {\"samples\": [...]}, a list of samples",
        ));
    };
    if raw.len() > MAX_SAMPLES_PER_POST {
        return Err(AppError::invalid(
            "samples",
            format!("at most {MAX_SAMPLES_PER_POST} samples per post; split the batch"),
        ));
    }
    let envs = projects_store::environments(&mut *conn, project.id).await?;
    let env_id = |key: &str| envs.iter().find(|e| e.key == key).map(|e| e.id);
    let mut rejected = Vec::new();
    let mut good: Vec<(usize, Sample)> = Vec::new();
    for (index, s) in raw.iter().enumerate() {
        match sample::from_service(s, env_id, now) {
            Ok(s) => good.push((index, s)),
            Err(reason) => rejected.push(Rejection { index, reason }),
        }
    }
    let samples: Vec<Sample> = good.iter().map(|(_, s)| s.clone()).collect();
    let stored = record(conn, &samples, now).await?;
    let mut accepted = 0;
    for ((index, _), outcome) in good.iter().zip(stored) {
        match outcome {
            Ok(()) => accepted += 1,
            Err(reason) => rejected.push(Rejection {
                index: *index,
                reason,
            }),
        }
    }
    rejected.sort_by_key(|r| r.index);
    Ok(BatchOutcome { accepted, rejected })
}
