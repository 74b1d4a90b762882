//! Page and endpoint handlers, one module per area.

pub mod account;
pub mod admin;
pub mod auth;
pub mod cron;
pub mod domains;
pub mod health;
pub mod inbox;
pub(crate) mod install;
pub mod owner;
pub mod restart;
pub mod site;
