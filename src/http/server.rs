//! Accepting connections: our own loop around hyper's HTTP/1 connection, because `axum::serve`
//! hides the settings a server facing the network needs (issue 11, items 5 and 8; reliability
//! L4, L7, G8):
//!
//! - A request head must arrive within the header read timeout (slowloris). hyper starts that
//!   timer whenever it waits for a head, so a kept-alive connection idle for that long is closed
//!   too: the keep-alive idle limit is the same figure.
//! - At most `max_connections` at once and `max_connections_per_address` from one client address.
//!   A connection over a cap is answered `503` and closed at once: it holds no task or buffer.
//!   A trusted proxy (`--trusted-proxy`) is not one client but the door for many, and limits
//!   them itself: its connections count against `max_connections` only.
//! - On shutdown: stop accepting, let the caller end the event streams, let requests in flight
//!   finish and close idle connections, and drop whatever is left after the grace period.
//!
//! Every request carries `ConnectInfo<SocketAddr>` (login throttling reads it) and goes through
//! [`FastLane`] as before.

use super::FastLane;
use crate::auth::client_address::TrustedProxies;
use crate::config::Settings;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Descriptors kept free of connections: the database, its WAL, the listener, webhooks.
const RESERVED_DESCRIPTORS: usize = 256;

/// What an over-cap connection is told before it is closed.
const TOO_MANY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 52\r\n\r\n\
The server has too many open connections; try again.";

/// The connection limits, from the settings.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// Peers the per-address cap does not apply to.
    pub trusted_proxies: TrustedProxies,
    pub grace: Duration,
}

impl Limits {
    pub fn from_settings(s: &Settings) -> Self {
        Limits {
            header_read_timeout: s.header_read_timeout,
            max_connections: s.max_connections.max(1),
            max_connections_per_address: s.max_connections_per_address.max(1),
            trusted_proxies: s.trusted_proxies.clone(),
            grace: s.shutdown_grace,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, calls `stopping`
/// (which ends the event streams) and drains.
pub async fn serve(
    listener: TcpListener,
    app: FastLane,
    mut limits: Limits,
    shutdown: impl Future<Output = ()>,
    stopping: impl FnOnce(),
) {
    limits.max_connections = limits.max_connections.min(descriptor_budget());
    let admission = Admission::new(&limits);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let (closing, closing_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let slot = match admission.admit(remote.ip()) {
            Ok(slot) => slot,
            Err(cap) => {
                tracing::debug!(client = %remote.ip(), cap, "connection refused: over the cap");
                crate::metrics::traffic::connection_refused();
                refuse(stream);
                continue;
            }
        };
        let conn = http.serve_connection(
            TokioIo::new(stream),
            PerConnection {
                app: app.clone(),
                remote: ConnectInfo(remote),
            },
        );
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                // Errors here are clients going away or timing out: nothing to report.
                _ = conn.as_mut() => return drop(slot),
                _ = closing.wait_for(|c| *c) => {}
            }
            // Answers the request in flight, if any, then closes (idle: at once).
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    stopping();
    closing.send_replace(true);
    let open = limits.max_connections - admission.open.available_permits();
    tracing::info!(open, "stopped accepting; finishing requests in flight");
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(limits.grace, admission.open.acquire_many(all)).await;
    if drained.is_err() {
        let left = limits.max_connections - admission.open.available_permits();
        tracing::warn!(
            left,
            grace_ms = limits.grace.as_millis() as u64,
            "connections still open after the grace period are dropped"
        );
    }
}

/// Accept errors: a client that went away before we accepted is no news; anything else (out
/// of descriptors) gets a pause, so the loop does not spin.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "could not accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Tells an over-cap client why, without waiting for it: a full socket buffer just loses the
/// message. The client may then see a reset rather than the answer.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(TOO_MANY);
}

/// The service of one connection: the app, with the client's address on every request.
#[derive(Clone)]
struct PerConnection {
    app: FastLane,
    remote: ConnectInfo<SocketAddr>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for PerConnection {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = tower::util::Oneshot<FastLane, axum::extract::Request>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(self.remote);
        tower::ServiceExt::oneshot(self.app.clone(), req)
    }
}

/// Counts open connections, overall and per client address.
struct Admission {
    open: Arc<Semaphore>,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    per_address_max: usize,
    trusted: TrustedProxies,
}

/// One admitted connection; dropping it frees its place.
struct Slot {
    _permit: OwnedSemaphorePermit,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// The address counted, unless it is a trusted proxy's.
    ip: Option<IpAddr>,
}

impl Admission {
    fn new(limits: &Limits) -> Self {
        Admission {
            open: Arc::new(Semaphore::new(limits.max_connections)),
            per_address: Arc::default(),
            per_address_max: limits.max_connections_per_address,
            trusted: limits.trusted_proxies.clone(),
        }
    }

    /// A place for a connection from `ip`, or the name of the cap it would exceed.
    fn admit(&self, ip: IpAddr) -> Result<Slot, &'static str> {
        let permit = self
            .open
            .clone()
            .try_acquire_owned()
            .map_err(|_| "overall")?;
        let counted = (!self.trusted.trusts(ip)).then_some(ip);
        if let Some(ip) = counted {
            let mut counts = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
            let count = counts.entry(ip).or_default();
            if *count >= self.per_address_max {
                return Err("per address");
            }
            *count += 1;
        }
        crate::metrics::traffic::connection_opened();
        Ok(Slot {
            _permit: permit,
            per_address: self.per_address.clone(),
            ip: counted,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        crate::metrics::traffic::connection_closed();
        let Some(ip) = self.ip else {
            return;
        };
        let mut counts = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }
}

/// How many connections the process can hold: the descriptor limit, raised to its hard limit
/// first (systemd's default soft limit is 1,024), less what the rest of the server needs.
fn descriptor_budget() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return usize::MAX;
            }
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim = raised;
                }
            }
        }
        let budget = (lim.rlim_cur as usize).saturating_sub(RESERVED_DESCRIPTORS);
        budget.max(1)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = RESERVED_DESCRIPTORS;
        usize::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(overall: usize, per_address: usize) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: overall,
            max_connections_per_address: per_address,
            trusted_proxies: TrustedProxies::default(),
            grace: Duration::from_secs(3),
        }
    }

    #[test]
    fn caps_hold_overall_and_per_address_and_free_on_drop() {
        let admission = Admission::new(&limits(3, 2));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = admission.admit(a).unwrap();
        let _second = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).err(), Some("per address"));
        let _third = admission.admit(b).unwrap();
        assert_eq!(admission.admit(b).err(), Some("overall"));
        drop(first);
        assert!(admission.admit(a).is_ok());
    }

    #[test]
    fn a_trusted_proxy_counts_against_the_overall_cap_only() {
        let proxy: IpAddr = [10, 0, 0, 9].into();
        let mut l = limits(4, 1);
        l.trusted_proxies = TrustedProxies::new(vec!["10.0.0.9".parse().unwrap()]);
        let admission = Admission::new(&l);
        let held: Vec<Slot> = (0..3).map(|_| admission.admit(proxy).unwrap()).collect();
        assert!(admission.per_address.lock().unwrap().is_empty());
        let other: IpAddr = [10, 0, 0, 1].into();
        let _one = admission.admit(other).unwrap();
        assert_eq!(admission.admit(proxy).err(), Some("overall"));
        drop(held);
        assert_eq!(admission.admit(other).err(), Some("per address"));
    }

    #[test]
    fn an_address_refused_for_the_overall_cap_keeps_its_count() {
        let admission = Admission::new(&limits(1, 5));
        let a: IpAddr = [10, 0, 0, 1].into();
        let held = admission.admit(a).unwrap();
        assert!(admission.admit(a).is_err());
        drop(held);
        assert!(admission.per_address.lock().unwrap().is_empty());
    }
}
