//! A network partition between a server and PostgreSQL, for tests of what a server does when the
//! database goes silent without closing anything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bytes that, once armed ([`Partition::cut_before`]), cut the link when the server's side is
/// about to send them on.
type Trigger = Arc<Mutex<Option<&'static [u8]>>>;

/// A TCP forwarder on loopback between the server and PostgreSQL that can be cut as a network
/// partition cuts: the sockets stay open on both sides, but no byte goes through either way
/// (what was sent meanwhile arrives after the cut heals, as TCP's retransmissions would bring it).
/// New connections made during the cut are accepted and get nothing either.
pub struct Partition {
    pub addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    trigger: Trigger,
    accept: tokio::task::JoinHandle<()>,
}

impl Partition {
    pub async fn between_us_and(upstream: std::net::SocketAddr) -> Partition {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        let trigger = Trigger::default();
        let armed = trigger.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_r, client_w) = client.into_split();
                let (server_r, server_w) = server.into_split();
                tokio::spawn(pump(client_r, server_w, flag.clone(), Some(armed.clone())));
                tokio::spawn(pump(server_r, client_w, flag.clone(), None));
            }
        });
        Partition {
            addr,
            cut,
            trigger,
            accept,
        }
    }

    /// A forwarder in front of the database at `url`, and the URL that reaches it through the
    /// forwarder.
    pub async fn in_front_of(url: &str) -> (Partition, String) {
        let mut url = url::Url::parse(url).unwrap();
        let upstream = tokio::net::lookup_host((
            url.host_str().unwrap().to_string(),
            url.port().unwrap_or(5432),
        ))
        .await
        .unwrap()
        .next()
        .unwrap();
        let link = Partition::between_us_and(upstream).await;
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(link.addr.port())).unwrap();
        (link, url.to_string())
    }

    /// Cuts the link at a chosen moment: when any connection's client next sends `bytes` (a
    /// statement's text, say), just before they pass, so the server never sees them.
    pub fn cut_before(&self, bytes: &'static [u8]) {
        *self.trigger.lock().unwrap() = Some(bytes);
    }

    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies `from` to `to` while the link is up; while it is cut, neither reads nor writes. What
/// was read when `trigger` fired is held until the cut heals.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cut: Arc<AtomicBool>,
    trigger: Option<Trigger>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    let tick = Duration::from_millis(20);
    loop {
        while cut.load(Ordering::SeqCst) {
            tokio::time::sleep(tick).await;
        }
        let n = match tokio::time::timeout(tick, from.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        if let Some(trigger) = &trigger {
            let mut armed = trigger.lock().unwrap();
            if armed.is_some_and(|b| buf[..n].windows(b.len()).any(|w| w == b)) {
                *armed = None;
                cut.store(true, Ordering::SeqCst);
            }
        }
        while cut.load(Ordering::SeqCst) {
            tokio::time::sleep(tick).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
