//! A service's batch of samples (`POST /api/admin/projects/{p}/signals`): each sample read and
//! stored on its own, so one bad sample is refused with its reason and costs no other.

use super::raw::RawBatch;
use super::{record, sample, Sample, MAX_SAMPLES_PER_POST};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{store as projects_store, Project};
use chrono::{DateTime, Utc};
use serde::Serialize;

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

/// Reads `{"samples": [...]}` from the body's JSON text and stores what is good. Only a body
/// without a samples list, or with more than [`MAX_SAMPLES_PER_POST`], is refused whole.
pub async fn post_batch(
    conn: &mut Conn,
    project: &Project,
    body: &str,
    now: DateTime<Utc>,
) -> AppResult<BatchOutcome> {
    // The SDKs' lenient reader, so both ways in judge samples alike. It fails only on text that
    // is not JSON, which the API's extractor has already refused: what is wrong is refused
    // below, per sample.
    let batch = RawBatch::read(body).unwrap_or_default();
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
    // The good samples, and where each stood in the batch.
    let mut samples: Vec<Sample> = Vec::new();
    let mut indexes = Vec::new();
    for (index, s) in raw.iter().enumerate() {
        match sample::from_service(s, env_id, now) {
            Ok(s) => {
                samples.push(s);
                indexes.push(index);
            }
            Err(reason) => rejected.push(Rejection { index, reason }),
        }
    }
    let stored = record(conn, &samples, now).await?;
    let mut accepted = 0;
    for (index, outcome) in indexes.into_iter().zip(stored) {
        match outcome {
            Ok(()) => accepted += 1,
            Err(reason) => rejected.push(Rejection { index, reason }),
        }
    }
    rejected.sort_by_key(|r| r.index);
    Ok(BatchOutcome { accepted, rejected })
}
