//! HTTP traffic as an operator graphs it: answers by route family and status class, and the
//! connections held. Bumped on every request (the feed answers tens of thousands a second), so
//! each count is one relaxed atomic add in a fixed table: no lock, no map, no allocation, and
//! a label set bounded by the table's shape (no paths, keys or tokens).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Which part of the server a path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `/api/client/features`, `/register`, `/metrics`: server-side SDKs.
    Client,
    /// `/api/client/streaming`: the event streams.
    Streaming,
    /// `/api/frontend...`: browser SDKs.
    Frontend,
    /// `/ofrep/...`: OpenFeature remote evaluation.
    Ofrep,
    /// `/api/admin/...` and the rest of `/api/`: automation.
    AdminApi,
    /// `/healthz`, `/readyz`, `/metrics`.
    Probes,
    /// `/static/...`: stylesheets and scripts.
    Static,
    /// Everything else: the web app's pages.
    Web,
}

impl Family {
    pub const ALL: [Family; 8] = [
        Family::Client,
        Family::Streaming,
        Family::Frontend,
        Family::Ofrep,
        Family::AdminApi,
        Family::Probes,
        Family::Static,
        Family::Web,
    ];

    pub fn of(path: &str) -> Family {
        if let Some(api) = path.strip_prefix("/api/") {
            if let Some(client) = api.strip_prefix("client/") {
                return if client == "streaming" {
                    Family::Streaming
                } else {
                    Family::Client
                };
            }
            if api == "frontend" || api.starts_with("frontend/") {
                return Family::Frontend;
            }
            return Family::AdminApi;
        }
        if path.starts_with("/ofrep/") {
            return Family::Ofrep;
        }
        if path.starts_with("/static/") {
            return Family::Static;
        }
        match path {
            "/healthz" | "/readyz" | "/metrics" => Family::Probes,
            "/api" => Family::AdminApi,
            _ => Family::Web,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Family::Client => "client",
            Family::Streaming => "streaming",
            Family::Frontend => "frontend",
            Family::Ofrep => "ofrep",
            Family::AdminApi => "admin_api",
            Family::Probes => "probes",
            Family::Static => "static",
            Family::Web => "web",
        }
    }
}

pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

static RESPONSES: [[AtomicU64; CLASSES.len()]; Family::ALL.len()] =
    [const { [const { AtomicU64::new(0) }; CLASSES.len()] }; Family::ALL.len()];
static CONNECTIONS_OPEN: AtomicI64 = AtomicI64::new(0);
static CONNECTIONS_REFUSED: AtomicU64 = AtomicU64::new(0);

/// Counts one answer with this status code.
pub fn answered(family: Family, status: u16) {
    let class = usize::from((status / 100).clamp(1, 5)) - 1;
    RESPONSES[family as usize][class].fetch_add(1, Ordering::Relaxed);
}

/// Answers so far of one family and class (index into [`CLASSES`]).
pub fn responses(family: Family, class: usize) -> u64 {
    RESPONSES[family as usize][class].load(Ordering::Relaxed)
}

pub fn connection_opened() {
    CONNECTIONS_OPEN.fetch_add(1, Ordering::Relaxed);
}

pub fn connection_closed() {
    CONNECTIONS_OPEN.fetch_sub(1, Ordering::Relaxed);
}

pub fn connection_refused() {
    CONNECTIONS_REFUSED.fetch_add(1, Ordering::Relaxed);
}

pub fn connections_open() -> i64 {
    CONNECTIONS_OPEN.load(Ordering::Relaxed).max(0)
}

pub fn connections_refused() -> u64 {
    CONNECTIONS_REFUSED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_their_families() {
        let cases = [
            ("/api/client/features", Family::Client),
            ("/api/client/metrics", Family::Client),
            ("/api/client/streaming", Family::Streaming),
            ("/api/frontend", Family::Frontend),
            ("/api/frontend/client/metrics", Family::Frontend),
            ("/api/frontendx", Family::AdminApi),
            ("/ofrep/v1/evaluate/flags", Family::Ofrep),
            ("/api/admin/projects/web/flags", Family::AdminApi),
            ("/api/openapi.json", Family::AdminApi),
            ("/api", Family::AdminApi),
            ("/healthz", Family::Probes),
            ("/metrics", Family::Probes),
            ("/static/app.css", Family::Static),
            ("/projects/web/flags", Family::Web),
            ("/", Family::Web),
        ];
        for (path, family) in cases {
            assert_eq!(Family::of(path), family, "{path}");
        }
    }

    #[test]
    fn each_family_has_its_own_row() {
        for (i, f) in Family::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
        }
        let before = responses(Family::Ofrep, 3);
        answered(Family::Ofrep, 404);
        answered(Family::Ofrep, 999);
        assert_eq!(responses(Family::Ofrep, 3), before + 1);
    }
}
