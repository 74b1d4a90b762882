//! `LicenseError`: why a license file, a stored license or an activation was refused, in English for logs and the
//! command line, and as a catalog message ([`LicenseError::msg`]) for the web interface.

use crate::domain::msg::Msg;

/// Why a license was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    /// Not a license file of a format this build reads (bad JSON, bad base64, missing fields, wrong sizes).
    #[error("not a valid Conversure license file: {0}")]
    Malformed(String),
    /// Signed with a key this build does not trust.
    #[error("the license is signed with key \"{key_id}\", which this build of Conversure does not trust")]
    UnknownKey { key_id: String },
    /// This build carries no trusted key at all, so no license file can be accepted.
    #[error(
        "this build of Conversure carries no license key, so it cannot accept license files; use an official release, or evaluation mode"
    )]
    NoProductionKeys,
    /// The signature does not match the payload: the file was changed after signing.
    #[error("the license signature does not match its content; the file was changed after it was issued")]
    BadSignature,
    /// A genuine license, for another product.
    #[error("the license is for the product \"{product}\", not Conversure")]
    WrongProduct { product: String },
    /// A genuine license, bound to another installation.
    #[error("the license is bound to the installation {licensed}, not to this one")]
    OtherInstance { licensed: String },
    /// A genuine license whose end date has passed (only refused when installing one).
    #[error("the license expired on {}", super::format_date(*.expired_at))]
    Expired { expired_at: i64 },
    /// The purchase code does not have the shape of one; nothing was sent.
    #[error("a purchase code is 8 to 64 letters, digits and dashes")]
    InvalidPurchaseCode,
    /// The license server answered, and refused (`code` is the server's stable error code).
    #[error("the license server refused the activation ({code}): {message}")]
    ActivationRefused { code: String, message: String },
    /// No answer from the license server (DNS, connection, TLS, timeout); the text says which.
    #[error("the license server cannot be reached: {0}")]
    ServerUnreachable(String),
    /// The license server answered with an unexpected HTTP status.
    #[error("the license server answered with HTTP status {0}")]
    ServerError(u16),
}

impl LicenseError {
    /// The message to show a buyer: what happened and what to do about it.
    pub fn msg(&self) -> Msg {
        match self {
            Self::Malformed(_) => Msg::new("license.error.malformed"),
            Self::UnknownKey { key_id } => Msg::with("license.error.unknown_key", &[("key_id", key_id.clone())]),
            Self::NoProductionKeys => Msg::new("license.error.no_production_keys"),
            Self::BadSignature => Msg::new("license.error.bad_signature"),
            Self::WrongProduct { product } => Msg::with("license.error.wrong_product", &[("product", product.clone())]),
            Self::OtherInstance { .. } => Msg::new("license.error.other_instance"),
            Self::Expired { expired_at } => {
                Msg::with("license.error.expired", &[("date", super::format_date(*expired_at))])
            }
            Self::InvalidPurchaseCode => Msg::new("license.error.invalid_purchase_code"),
            Self::ActivationRefused { code, message } => match code.as_str() {
                "unknown_code" => Msg::new("license.error.code_unknown"),
                "already_activated" => Msg::new("license.error.code_in_use"),
                _ => Msg::with("license.error.activation_refused", &[("message", message.clone())]),
            },
            Self::ServerUnreachable(_) => Msg::new("license.error.unreachable"),
            Self::ServerError(status) => Msg::with("license.error.server_error", &[("status", status.to_string())]),
        }
    }
}
