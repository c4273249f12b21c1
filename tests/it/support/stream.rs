//! An SDK's `/api/client/streaming` connection as tests read it: opened and read past its
//! hydration, then read for an update or to its end.

use std::time::Duration;

/// An open event stream whose hydration (`unleash-connected`) has arrived; the connection
/// stays open while this is held.
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
    /// Opens a stream on `base` with the SDK token `token`; fails the test when it is refused
    /// or its hydration does not come within 10 s.
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

    /// Reads until an update naming flag `key` arrives; what arrived. Fails the test when none
    /// comes within `limit`.
    pub async fn update_naming(&mut self, key: &str, limit: Duration) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        let mut seen = String::new();
        let needle = format!("\"name\":\"{key}\"");
        while !(seen.contains("event: unleash-updated") && seen.contains(&needle)) {
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .unwrap_or_else(|_| panic!("no update naming {key} within {limit:?}: {seen}"))
                .unwrap()
                .expect("the stream ended");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        seen
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
