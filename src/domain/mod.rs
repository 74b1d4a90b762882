//! Pure types and rules shared by every layer; no I/O here.

pub mod check;
pub mod identity;
pub mod message;
pub mod msg;
pub mod password;
pub mod phone;
pub mod role;
