//! An SDK's `/api/client/streaming` connection, as the tests read it: opened past its hydration,
//! then read for one update or until it ends.

use std::time::Duration;

pub struct EventStream {
    res: reqwest::Response,
}

/// How a stream that was read to its end finished.
#[derive(Debug, PartialEq)]
pub enum StreamEnd {
    /// The server ended the response.
    Ended,
    /// The connection broke.
    Broken(String),
    /// Still open when we stopped reading.
    Open,
}

impl EventStream {
    /// Opens a stream on `base` with a client token and reads it past `unleash-connected`.
    pub async fn open(base: &str, token: &str) -> EventStream {
        let mut res = reqwest::Client::new()
            .get(format!("{base}/api/client/streaming"))
            .header("Authorization", token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "stream refused on {base}");
        let mut seen = String::new();
        while !seen.contains("unleash-connected") {
            let chunk = tokio::time::timeout(Duration::from_secs(10), res.chunk())
                .await
                .expect("no hydration within 10 s")
                .unwrap()
                .expect("the stream ended before its hydration");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        EventStream { res }
    }

    /// Reads until an update naming `key` arrives; what arrived. Panics when the stream ends
    /// or `limit` passes first.
    pub async fn update_naming(&mut self, key: &str, limit: Duration) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        let mut seen = String::new();
        let needle = format!("\"name\":\"{key}\"");
        while !(seen.contains("event: unleash-updated") && seen.contains(&needle)) {
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .unwrap_or_else(|_| panic!("no update naming {key} within {limit:?}: {seen}"))
                .unwrap_or_else(|e| panic!("the stream broke: {e}; received: {seen}"))
                .unwrap_or_else(|| panic!("the stream ended; received: {seen}"));
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        seen
    }

    /// Reads until an update with `key` as `on` arrives (`"updated"`) or the stream ends or
    /// breaks (`"ended"`); panics when `limit` passes first.
    pub async fn updated_or_ended(&mut self, key: &str, on: bool, limit: Duration) -> &'static str {
        let deadline = tokio::time::Instant::now() + limit;
        let (name, enabled) = (format!("\"name\":\"{key}\""), format!("\"enabled\":{on}"));
        let mut seen = String::new();
        loop {
            match tokio::time::timeout_at(deadline, self.res.chunk()).await {
                Err(_) => panic!("neither an update nor the end within {limit:?}: {seen}"),
                Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) | Ok(Err(_)) => return "ended",
            }
            if seen.contains("event: unleash-updated")
                && seen.contains(&name)
                && seen.contains(&enabled)
            {
                return "updated";
            }
        }
    }

    /// Reads until the stream ends or `limit` passes: what arrived, and how it finished.
    pub async fn rest(mut self, limit: Duration) -> (String, StreamEnd) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut seen = String::new();
        loop {
            match tokio::time::timeout_at(deadline, self.res.chunk()).await {
                Err(_) => return (seen, StreamEnd::Open),
                Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) => return (seen, StreamEnd::Ended),
                Ok(Err(e)) => return (seen, StreamEnd::Broken(e.to_string())),
            }
        }
    }
}
