//! Switchyard: a feature-flag governance server. `ARCHITECTURE.md` draws the write and the read
//! path through these modules.
//!
//! Domain folders hold types, rules and SQL (in their `store.rs` or `store/`), and know nothing of HTTP:
//! `accounts` (users, teams), `projects` (projects, environments, members), `catalog` (flags),
//! `targeting` (strategies, segments, dependencies), `evaluation` (compiled evaluation for the
//! feed), `changes` (change requests, the kill switch), `lifecycle` (stages, stale reasons, retirement, reports),
//! `audit` (the hash-chained log and its typed actions), `authz` (the policy and what a caller
//! sees), `notify` (webhooks), `usage` (SDK usage counts), `transfer` (import and export),
//! `coderefs` (code references), `signals` (health signals for guards), `rollout` (release
//! templates, plans, guards, rollback), `search` (finding projects, flags and change requests by
//! name: the command palette). `auth` holds passwords, sessions, tokens and throttles.
//!
//! Transports call them: `web` (HTML), `api` (admin JSON), `feed` (SDK APIs, snapshots and the
//! watcher that keeps them in step), `http` (the envelope, the accept loop, extractors, and
//! the governed commands whose permission depends on what they load), `cli`.
//! `metrics` holds the counters `/metrics` reports (atomics the hot paths bump) and the text format.
//! Below them `state` (what handlers share), `config`, `db` (the pool and `Writes`, which commits
//! and then tells the feed), `error`, `clock`, `memory` and `json` (the pull reader SDK reports
//! are read with); `app` composes the router and
//! `serve`, `demo` seeds `serve --demo`.
//! `href` builds every link to the app's own pages, for the web app and webhook bodies alike.

pub mod accounts;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod catalog;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod coderefs;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod evaluation;
pub mod feed;
pub mod href;
pub mod http;
pub mod json;
pub mod lifecycle;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod projects;
pub mod rollout;
pub mod search;
pub mod signals;
pub mod state;
pub mod targeting;
pub mod transfer;
pub mod usage;
pub mod web;
