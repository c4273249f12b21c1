//! Pages take turns: a few render at once, the others wait in line. A page over 10,000 flags
//! holds a few MiB of rows and HTML while it renders; on a two-core machine ten renders at once
//! finish no sooner than four, they only hold more memory at the same moment (issue 11: ten
//! concurrent pages lifted the server 20 MiB over its working size). Only reads wait: a write may
//! sit on the database's write lock, and a page must not queue behind it. The feed and the APIs
//! are not in this line; they answer from memory.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The line pages wait in: two renders per core.
#[derive(Clone)]
pub struct Turns(Arc<Semaphore>);

impl Turns {
    pub fn per_core() -> Turns {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Turns(Arc::new(Semaphore::new(cores * 2)))
    }
}

pub async fn take_turns(State(turns): State<Turns>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    // The semaphore is never closed, so a permit always comes.
    let _turn = turns.0.acquire().await;
    next.run(req).await
}
