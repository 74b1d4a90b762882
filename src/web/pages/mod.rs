//! Page and endpoint handlers, one module per area.

pub mod auth;
pub mod health;
pub(crate) mod install;
pub mod site;
