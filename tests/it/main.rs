//! Integration tests: the real `switchyard` binary on a temp SQLite file, driven over HTTP and the
//! command line (see shared/STYLE.md, "Testing").

// Tests build requests around the real time (a test clock is set through the server's file).
#![allow(clippy::disallowed_methods)]

mod admin_api;
mod architecture;
mod audit;
mod auth_hardening;
mod browser;
mod browser_layout;
mod catalog_bulk;
mod catalog_ux;
mod change_request_pages;
mod change_requests;
mod cleanup_journey;
mod cli;
mod code_references;
mod csrf;
mod database_outage;
mod described_changes;
mod edges_hardening;
mod explain;
mod feed;
mod feed_conformance;
mod governance_browser;
mod governance_state;
mod headers;
mod hostile_input;
mod lifecycle;
mod lifecycle_history;
mod load_balancer;
mod login;
mod metrics;
mod openapi;
mod pages_at_scale;
mod partition_lock;
mod permissions;
mod release_flag_page;
mod release_guards;
mod release_plans;
mod release_templates;
mod replicas;
mod reports;
mod retirement;
mod review_guarantee;
mod server_lifecycle;
mod signals;
mod support;
mod targeting;
mod transfer;
mod unavailable_page;
mod usage;
mod web_permissions;
mod webhooks;
