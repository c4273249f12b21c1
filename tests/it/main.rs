//! Integration tests: the real `switchyard` binary on a temp SQLite file, driven over HTTP and the
//! command line (see shared/STYLE.md, "Testing").

mod admin_api;
mod audit;
mod auth_hardening;
mod browser;
mod change_request_pages;
mod change_requests;
mod cli;
mod csrf;
mod feed;
mod feed_conformance;
mod headers;
mod hostile_input;
mod login;
mod pages_at_scale;
mod permissions;
mod review_guarantee;
mod support;
mod targeting;
mod transfer;
mod usage;
mod web_permissions;
mod webhooks;
