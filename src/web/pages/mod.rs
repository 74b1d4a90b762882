//! Page and endpoint handlers, one module per area.

pub mod health;
pub mod install;
pub mod site;
