//! Switchyard: a feature-flag governance server.
//!
//! Domain folders (`accounts`, `projects`, `catalog`, `audit`, `authz`) hold types, rules and SQL;
//! transport folders (`web` for HTML, `api` for admin JSON, `http` for middleware) call them.
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
pub mod lifecycle;
pub mod memory;
pub mod notify;
pub mod projects;
pub mod signals;
pub mod state;
pub mod targeting;
pub mod transfer;
pub mod usage;
pub mod web;
