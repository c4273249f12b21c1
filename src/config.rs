//! Settings of a running server, with defaults in code.

use crate::auth::client_address::TrustedProxies;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Send cookies only over https, with the `__Host-` prefix, and HSTS. On when serving behind TLS.
    pub secure_cookies: bool,
    /// A session ends after this long without a request (OWASP: 15–30 minutes for low-risk apps).
    pub session_idle: Duration,
    /// And in any case this long after signing in.
    pub session_absolute: Duration,
    /// Failed sign-ins allowed per account within `login_window`.
    pub login_burst: usize,
    /// Failed sign-ins allowed per client address within `login_window`: much higher, since
    /// one address (an office NAT, a TLS proxy) is often many people.
    pub login_address_burst: usize,
    pub login_window: Duration,
    /// Peers whose `X-Forwarded-For` / `Forwarded` headers name the client; from anyone else
    /// those headers are ignored.
    pub trusted_proxies: TrustedProxies,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// A request (headers and body) must arrive within this time.
    pub request_timeout: Duration,
    /// Internal hosts webhooks may reach all the same (`--webhook-allow-hosts`).
    pub webhook_allow: crate::notify::AllowList,
    /// Metric and registration posts each SDK token may make per minute.
    pub metrics_posts_per_minute: u32,
    /// How often every flag's lifecycle is assessed again (time alone makes flags stale).
    pub lifecycle_interval: Duration,
    /// A successful write is answered once the feed serves it, or after this long at most.
    pub feed_sync_timeout: Duration,
    /// A request head (request line and headers) must arrive within this time; a kept-alive
    /// connection waiting this long for its next request is closed too (slowloris, L7).
    pub header_read_timeout: Duration,
    /// Open connections at once, overall and from one client address.
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// After SIGTERM, requests in flight get this long before the process exits anyway.
    pub shutdown_grace: Duration,
    /// When the weekly cleanup report is kept (`--report-schedule`).
    pub report_schedule: crate::lifecycle::report::schedule::Schedule,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secure_cookies: false,
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 60 * 60),
            login_burst: 10,
            login_address_burst: 100,
            login_window: Duration::from_secs(60),
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            trusted_proxies: TrustedProxies::default(),
            webhook_allow: crate::notify::AllowList::default(),
            metrics_posts_per_minute: crate::feed::usage::DEFAULT_POSTS_PER_MINUTE,
            lifecycle_interval: Duration::from_secs(300),
            feed_sync_timeout: Duration::from_secs(2),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_connections_per_address: 512,
            shutdown_grace: Duration::from_secs(3),
            report_schedule: Default::default(),
        }
    }
}
