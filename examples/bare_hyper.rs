//! The machine's ceiling for the feed benchmark (`bench/run.sh`): a bare hyper 1 server that
//! answers every request with the same bytes from memory, and nothing else — no routing, no
//! authentication, no middleware.
//!
//! `cargo run --release --example bare_hyper -- --bind 127.0.0.1:9090 --file body.json [--etag '"tag"']`
//!
//! With `--etag`, every answer carries that ETag and a request whose `If-None-Match` names it is
//! answered 304 without a body, as the feed does.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

struct Served {
    body: Bytes,
    etag: Option<HeaderValue>,
}

fn usage() -> ! {
    eprintln!("usage: bare_hyper --bind ADDR --file PATH [--etag TAG]");
    std::process::exit(2)
}

fn answer(served: &Served, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(etag) = &served.etag {
        let matches = req
            .headers()
            .get(IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == etag.as_bytes());
        if matches {
            let mut res = Response::new(Full::new(Bytes::new()));
            *res.status_mut() = StatusCode::NOT_MODIFIED;
            res.headers_mut().insert(ETAG, etag.clone());
            return res;
        }
    }
    let mut res = Response::new(Full::new(served.body.clone()));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(etag) = &served.etag {
        res.headers_mut().insert(ETAG, etag.clone());
    }
    res
}

#[tokio::main]
async fn main() {
    let mut bind = "127.0.0.1:9090".to_string();
    let mut file = None;
    let mut etag = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().unwrap_or_else(|| usage()),
            "--file" => file = Some(args.next().unwrap_or_else(|| usage())),
            "--etag" => etag = Some(args.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    let file = file.unwrap_or_else(|| usage());
    let body = std::fs::read(&file).unwrap_or_else(|e| {
        eprintln!("could not read {file}: {e}");
        std::process::exit(1)
    });
    let etag = etag.map(|t| {
        HeaderValue::from_str(&t).unwrap_or_else(|_| {
            eprintln!("--etag is not a valid header value");
            std::process::exit(2)
        })
    });
    let served = Arc::new(Served {
        body: Bytes::from(body),
        etag,
    });
    let listener = TcpListener::bind(&bind).await.unwrap_or_else(|e| {
        eprintln!("could not listen on {bind}: {e}");
        std::process::exit(1)
    });
    println!(
        "bare_hyper is listening on http://{}",
        listener.local_addr().expect("bound")
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let served = served.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let res = answer(&served, &req);
                async move { Ok::<_, Infallible>(res) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
