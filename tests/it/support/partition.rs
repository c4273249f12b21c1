//! A network partition between a server and PostgreSQL, for tests of what a server does when the
//! database goes silent without closing anything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A TCP forwarder on loopback between the server and PostgreSQL that can be cut as a network
/// partition cuts: the sockets stay open on both sides, but no byte goes through either way
/// (what was sent meanwhile arrives after the cut heals, as TCP's retransmissions would bring it).
/// New connections made during the cut are accepted and get nothing either.
pub struct Partition {
    pub addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Partition {
    pub async fn between_us_and(upstream: std::net::SocketAddr) -> Partition {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_r, client_w) = client.into_split();
                let (server_r, server_w) = server.into_split();
                tokio::spawn(pump(client_r, server_w, flag.clone()));
                tokio::spawn(pump(server_r, client_w, flag.clone()));
            }
        });
        Partition { addr, cut, accept }
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

/// Copies `from` to `to` while the link is up; while it is cut, neither reads nor writes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cut: Arc<AtomicBool>,
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
        while cut.load(Ordering::SeqCst) {
            tokio::time::sleep(tick).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
