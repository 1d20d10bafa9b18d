//! The integration tests, in one binary: each module is one area of the product. One binary
//! links the dependency tree once (fifteen binaries linked it fifteen times), and its tests
//! all run in parallel; none needs a server alone (the PostgreSQL restart restarts a
//! cluster of its own).

#[macro_use]
mod common;

mod admin;
mod bigthread;
mod browser;
mod cli;
mod comments;
mod email;
mod embed;
mod faults;
mod federation;
mod feeds;
mod hooks;
mod http;
mod import;
mod mail_events;
mod moderation_rules;
mod nojs;
mod ops;
mod outages;
mod pg_restart;
mod privacy;
mod reaction_migration;
mod reactions;
mod shutdown;
mod spam;
mod upgrade;
