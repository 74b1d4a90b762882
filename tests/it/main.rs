//! The one integration-test binary: the real app on port 0 in a temporary data directory, on SQLite and on a real
//! Postgres (`TEST_DATABASE_URL`, started by `scripts/test.sh`).

// Test code: a failed unwrap is a failed test, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod license_server;
mod mock_providers;
mod pg;
mod smtp;
mod web_user;

mod admin;
mod api;
mod backup;
mod backup_transfer;
mod cli;
mod cli_install;
mod domains;
mod e2e;
mod e2e_inbox;
mod e2e_numbers;
mod e2e_totp;
mod inbox_compose;
mod inbox_live;
mod inbox_organize;
mod inbox_templates;
mod inbox_ui;
mod install_gate;
mod installer;
mod jobs;
mod jobs_admin;
mod license;
mod mail;
mod numbers_ui;
mod proxy;
mod security;
mod send_crash;
mod store_accounts;
mod store_contract;
mod tls;
mod update;
mod web;
mod whatsapp;
mod whatsapp_providers;
mod wizard;
