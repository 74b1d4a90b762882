//! Pure types and rules shared by every layer; no I/O here.

pub mod check;
pub mod identity;
pub mod msg;
pub mod password;
pub mod role;
