//! `switchyard scan --url`: the admin API of a Switchyard server, as the token's user: the
//! project's flag keys from the paged flag list, and the scan uploaded gzipped.

use super::{Failure, Refusal};
use crate::coderefs::{Scan, ScanSummary};
use anyhow::{anyhow, Context};
use futures_util::StreamExt;
use std::io::Write;

/// The admin API of a Switchyard server, as the token's user.
pub(super) struct Server {
    client: reqwest::Client,
    base: String,
    token: String,
    project: String,
}

impl Server {
    pub(super) fn new(url: &str, token: &str, project: &str) -> Result<Server, Refusal> {
        let base = url.trim().trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&base)
            .map_err(|_| Refusal(format!("--url {url:?} is not a web address")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Refusal(format!(
                "--url {url:?} must start with https:// or http://"
            )));
        }
        if crate::projects::valid_key(project).is_err() {
            return Err(Refusal(format!("there is no project {project:?}")));
        }
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| Refusal(format!("could not prepare the HTTP client: {e}")))?;
        Ok(Server {
            client,
            base,
            token: token.trim().to_string(),
            project: project.to_string(),
        })
    }

    fn project_url(&self, rest: &str) -> String {
        format!("{}/api/admin/projects/{}{rest}", self.base, self.project)
    }

    /// Every flag key of the project, archived ones included: the first page says how many
    /// there are, the rest are fetched a few at a time.
    pub(super) async fn flag_keys(&self) -> Result<Vec<String>, Failure> {
        let first = self.flag_page(1).await?;
        let total = first["total"].as_u64().unwrap_or(0) as usize;
        let size = first["pageSize"].as_u64().unwrap_or(50).max(1) as usize;
        let mut keys = keys_of(&first);
        let pages = total.div_ceil(size);
        let rest: Vec<Result<serde_json::Value, Failure>> = futures_util::stream::iter(2..=pages)
            .map(|page| self.flag_page(page))
            .buffer_unordered(4)
            .collect()
            .await;
        for page in rest {
            keys.extend(keys_of(&page?));
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn flag_page(&self, page: usize) -> Result<serde_json::Value, Failure> {
        let url = self.project_url(&format!("/flags?archived=all&sort=key&page={page}"));
        let r = self
            .client
            .get(&url)
            .header(reqwest::header::AUTHORIZATION, &self.token)
            .send()
            .await
            .with_context(|| format!("could not reach {}", self.base))?;
        answer(r).await
    }

    /// Sends the scan gzipped: a large repository's references fit the server's body limit.
    pub(super) async fn upload(
        &self,
        repository: &str,
        scan: &Scan,
    ) -> Result<ScanSummary, Failure> {
        let json = serde_json::to_vec(&scan.to_json()).map_err(anyhow::Error::from)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&json).map_err(anyhow::Error::from)?;
        let body = gz.finish().map_err(anyhow::Error::from)?;
        let url = self.project_url(&format!("/code-references/{}", encode_segment(repository)));
        let r = self
            .client
            .put(&url)
            .header(reqwest::header::AUTHORIZATION, &self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(body)
            .send()
            .await
            .with_context(|| format!("could not reach {}", self.base))?;
        let body = answer(r).await?;
        let scan = body.get("scan").cloned().unwrap_or_default();
        Ok(ScanSummary {
            repository: repository.to_string(),
            commit: scan["commit"].as_str().map(str::to_string),
            branch: scan["branch"].as_str().map(str::to_string),
            scanned_at: scan["scannedAt"].as_str().unwrap_or_default().to_string(),
            recorded_at: scan["recordedAt"].as_str().unwrap_or_default().to_string(),
            recorded_by: scan["recordedBy"].as_str().unwrap_or_default().to_string(),
            references: scan["references"].as_i64().unwrap_or_default(),
            flags: scan["flags"].as_i64().unwrap_or_default(),
            files: scan["files"].as_i64().unwrap_or_default(),
        })
    }
}

/// A 2xx answer's JSON; the server's own sentence otherwise (exit 2 for what the caller must
/// fix: a bad token, a project it cannot see, a refused body).
async fn answer(r: reqwest::Response) -> Result<serde_json::Value, Failure> {
    let status = r.status();
    let text = r.text().await.map_err(anyhow::Error::from)?;
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if status.is_success() {
        return Ok(body);
    }
    let message = body["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("the server answered {status}"));
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(Refusal(
            "the server did not accept the token: pass an admin token of the project with \
             --token or SWITCHYARD_TOKEN"
                .into(),
        )
        .into());
    }
    if status.is_client_error() {
        let mut message = message;
        if let Some(fields) = body["fields"].as_array() {
            let named: Vec<&str> = fields.iter().filter_map(|f| f["field"].as_str()).collect();
            if !named.is_empty() && !message.contains(named[0]) {
                message = format!("{message} ({})", named.join(", "));
            }
        }
        return Err(Refusal(message).into());
    }
    Err(anyhow!("the server answered {status}: {message}").into())
}

fn keys_of(page: &serde_json::Value) -> Vec<String> {
    page["flags"]
        .as_array()
        .map(|flags| {
            flags
                .iter()
                .filter_map(|f| f["key"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
