//! Server-sent events off `/api/client/streaming`, as the benchmark examples read them (each
//! includes this file with `#[path]`; examples share no library of their own).

use std::time::{Duration, Instant};

/// An SDK's stream, read one `(event, data)` at a time.
pub struct Events {
    res: reqwest::Response,
    buf: Vec<u8>,
}

impl Events {
    /// Opens a stream with a client token and reads its hydration (`unleash-connected`): the
    /// stream and the hydration's data.
    pub async fn open(base: &str, token: &str) -> anyhow::Result<(Events, String)> {
        let res = reqwest::Client::new()
            .get(format!("{base}/api/client/streaming"))
            .header("Authorization", token)
            .header("Unleash-Client-Spec", "5.2.0")
            .send()
            .await?
            .error_for_status()?;
        let mut events = Events {
            res,
            buf: Vec::new(),
        };
        let (kind, data) = events
            .next(Instant::now() + Duration::from_secs(30))
            .await?;
        anyhow::ensure!(
            kind == "unleash-connected",
            "expected the hydration, got {kind}"
        );
        Ok((events, data))
    }

    /// The next event with its data, skipping keep-alive comments.
    pub async fn next(&mut self, deadline: Instant) -> anyhow::Result<(String, String)> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&raw);
                let (mut event, mut data) = (String::new(), String::new());
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if event.is_empty() && data.is_empty() {
                    continue;
                }
                return Ok((event, data));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.res.chunk())
                .await
                .map_err(|_| anyhow::anyhow!("no event before the deadline"))??;
            match chunk {
                Some(c) => self.buf.extend_from_slice(&c),
                None => anyhow::bail!("the stream ended"),
            }
        }
    }
}
