//! Afterword: self-hosted comments and reactions for static blogs.

pub mod api;
pub mod auth;
pub mod cache;
pub mod compress;
pub mod config;
pub mod db;
pub mod doctor;
pub mod domain;
pub mod email;
pub mod error;
pub mod events;
pub mod federation;
pub mod fragment;
pub mod import;
pub mod markdown;
pub mod metrics;
pub mod outbound;
pub mod proxy;
pub mod ratelimit;
pub mod security;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod view;
