//! Conversure: a self-hosted WhatsApp CRM in one binary.
//!
//! Layers, and the direction of dependencies (nothing imports `web`):
//!
//! - [`web`]: axum routers, middleware, askama views. Handlers extract, call one service, render.
//! - [`services`]: use cases; own transactions, tenant scope and permissions. No HTTP types, no SQL text.
//! - [`store`], [`system`]: infrastructure (the database over SQLite or Postgres; facts about the machine).
//! - [`domain`]: pure types and rules, no I/O.
//! - [`config`], [`i18n`], [`telemetry`], [`lifecycle`], [`startup`], [`cli`]: the process around them.

pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod i18n;
pub mod jobs;
pub mod license;
pub mod lifecycle;
pub mod mail;
pub mod providers;
pub mod services;
pub mod startup;
pub mod store;
pub mod system;
pub mod telemetry;
pub mod tls;
pub mod web;

/// Installs the process-wide rustls crypto provider (ring) once; every TLS client and server needs it first.
pub fn init_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only when another provider is already installed, which then serves just as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
