//! Licensing: signed license files checked offline, the 14-day evaluation, activation by purchase code, and what a
//! license allows as time passes.
//!
//! Three ways in, all ending in a [`License`] the install wizard stores with [`License::to_stored`]:
//!
//! - a license file the buyer uploads, checked by [`verify`] against the public keys compiled into this build
//!   ([`keys`]; format in [`file`](mod@file) and `docs/LICENSING.md`);
//! - a purchase code, traded once for such a file by [`activate`] (the only step that needs the network);
//! - [`License::evaluation`]: no file, 14 days, small limits, every feature.
//!
//! At start-up the stored text goes back through [`License::from_stored`], which re-checks the signature but not the
//! date, so an expired license stays visible. [`License::state`] then says where it stands: active, in grace (paid
//! licenses get [`GRACE_DAYS`] after their end date; an evaluation gets none) or lapsed.
//!
//! **Expiry never locks anyone out of their data.** Reading conversations and contacts, exporting, backup, restore,
//! the admin area and installing a new license always work, whatever the state. Only the paid features (sending,
//! campaigns, automations, and those added later) stop, and only once the grace period is over:
//! [`License::paid_features_enabled`] is the one switch for them.

mod activation;
mod error;
pub mod file;
pub mod keys;

use serde::{Deserialize, Serialize};

use crate::domain::msg::Msg;

pub use activation::{ACTIVATION_PATH, activate, check_purchase_code};
pub use error::LicenseError;
pub use file::{FORMAT, Unverified, read_unverified, sign, verify, verify_signature, verify_stored};

/// The `product` every Conversure license names.
pub const PRODUCT: &str = "conversure";

/// How long an evaluation lasts.
pub const EVALUATION_DAYS: u32 = 14;

/// How long the paid features keep working after a paid license's end date.
pub const GRACE_DAYS: u32 = 14;

/// The `features` entry that grants every feature, including those added in later versions.
pub const ALL_FEATURES: &str = "*";

/// The paid features this version knows by name (a license lists these, or [`ALL_FEATURES`]).
pub const FEATURES: &[&str] = &["sending", "campaigns", "automations"];

/// What an evaluation allows: enough for a real trial with a small team on one number.
pub const EVALUATION_LIMITS: Limits = Limits {
    workspaces: Some(1),
    agents: Some(3),
    numbers: Some(1),
    contacts: Some(1000),
    messages_per_month: Some(2000),
};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What a license file says, exactly as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The vendor's id of this license (shown in support conversations).
    pub license_id: String,
    /// Always [`PRODUCT`].
    pub product: String,
    /// Who bought it (a person or a company).
    pub licensee: String,
    #[serde(default)]
    pub email: Option<String>,
    /// The plan's name, as the vendor sells it.
    pub plan: String,
    /// Unix milliseconds.
    pub issued_at: i64,
    /// Unix milliseconds; `None` for a perpetual license.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// When set, the license is valid only on the installation with this id.
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub limits: Limits,
    /// Feature names from [`FEATURES`], or [`ALL_FEATURES`].
    #[serde(default)]
    pub features: Vec<String>,
}

/// Upper bounds; `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default)]
    pub workspaces: Option<u32>,
    #[serde(default)]
    pub agents: Option<u32>,
    /// WhatsApp numbers.
    #[serde(default)]
    pub numbers: Option<u32>,
    #[serde(default)]
    pub contacts: Option<u32>,
    #[serde(default)]
    pub messages_per_month: Option<u32>,
}

/// Where a license came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseKind {
    /// A license file signed by the vendor (uploaded, or obtained by activation).
    Signed,
    /// The built-in evaluation.
    Evaluation,
}

/// Where a license stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseState {
    /// Everything works; `days_left` is `None` for a perpetual license (whole days, rounded up).
    Active { days_left: Option<u32> },
    /// A paid license past its end date: everything still works for `days_left` more days (rounded up).
    Grace { days_left: u32 },
    /// Ended: data, backup, restore and the admin area work; the paid features do not.
    Lapsed,
}

/// A license this installation accepted: a verified file, or the evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    payload: Payload,
    source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// The verified file text (trimmed), kept so it can be stored and verified again.
    File {
        text: String,
        key_id: String,
    },
    Evaluation,
}

/// How an evaluation is kept in the settings.
#[derive(Debug, Serialize, Deserialize)]
struct StoredEvaluation {
    kind: String,
    instance_id: String,
    started_at: i64,
}

const EVALUATION_KIND: &str = "evaluation";

impl License {
    /// An evaluation of this installation starting at `now_ms`: [`EVALUATION_DAYS`] long, [`EVALUATION_LIMITS`],
    /// every feature. Its licensee is empty and its plan is `evaluation`.
    pub fn evaluation(instance_id: &str, now_ms: i64) -> Self {
        let payload = Payload {
            license_id: format!("evaluation-{instance_id}"),
            product: PRODUCT.to_owned(),
            licensee: String::new(),
            email: None,
            plan: EVALUATION_KIND.to_owned(),
            issued_at: now_ms,
            expires_at: Some(now_ms.saturating_add(i64::from(EVALUATION_DAYS) * DAY_MS)),
            instance_id: Some(instance_id.to_owned()),
            limits: EVALUATION_LIMITS,
            features: vec![ALL_FEATURES.to_owned()],
        };
        Self { payload, source: Source::Evaluation }
    }

    /// Signed file or evaluation.
    pub fn kind(&self) -> LicenseKind {
        match self.source {
            Source::File { .. } => LicenseKind::Signed,
            Source::Evaluation => LicenseKind::Evaluation,
        }
    }

    /// What the license says (for an evaluation, what the evaluation grants).
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The limits, `None` meaning unlimited.
    pub fn limits(&self) -> &Limits {
        &self.payload.limits
    }

    /// The id of the key that signed the file; `None` for an evaluation.
    pub fn key_id(&self) -> Option<&str> {
        match &self.source {
            Source::File { key_id, .. } => Some(key_id),
            Source::Evaluation => None,
        }
    }

    /// Where the license stands at `now_ms`.
    pub fn state(&self, now_ms: i64) -> LicenseState {
        let Some(expires_at) = self.payload.expires_at else { return LicenseState::Active { days_left: None } };
        if now_ms < expires_at {
            return LicenseState::Active { days_left: Some(days_between(now_ms, expires_at)) };
        }
        let grace_days = match self.kind() {
            LicenseKind::Signed => GRACE_DAYS,
            LicenseKind::Evaluation => 0,
        };
        let grace_ends = expires_at.saturating_add(i64::from(grace_days) * DAY_MS);
        if now_ms < grace_ends {
            LicenseState::Grace { days_left: days_between(now_ms, grace_ends) }
        } else {
            LicenseState::Lapsed
        }
    }

    /// Whether the paid features work at `now_ms` (active or in grace). Nothing else ever depends on the license.
    pub fn paid_features_enabled(&self, now_ms: i64) -> bool {
        !matches!(self.state(now_ms), LicenseState::Lapsed)
    }

    /// Whether the license grants `feature` (one of [`FEATURES`]) and the paid features work at `now_ms`.
    pub fn has_feature(&self, feature: &str, now_ms: i64) -> bool {
        self.paid_features_enabled(now_ms) && self.payload.features.iter().any(|f| f == ALL_FEATURES || f == feature)
    }

    /// The text to keep in the settings: the original file for a signed license, a small JSON for an evaluation.
    pub fn to_stored(&self) -> String {
        match &self.source {
            Source::File { text, .. } => text.clone(),
            Source::Evaluation => serde_json::json!({
                "kind": EVALUATION_KIND,
                "instance_id": self.payload.instance_id,
                "started_at": self.payload.issued_at,
            })
            .to_string(),
        }
    }

    /// The license kept by [`to_stored`](Self::to_stored), checked again: a file's signature, product and instance
    /// (not its date: an expired license comes back, and shows as lapsed); an evaluation's instance.
    pub fn from_stored(text: &str, instance_id: &str) -> Result<Self, LicenseError> {
        let Ok(stored) = serde_json::from_str::<StoredEvaluation>(text) else {
            return verify_stored(text, instance_id);
        };
        if stored.kind != EVALUATION_KIND {
            return Err(LicenseError::Malformed(format!("unknown kind of stored license {:?}", stored.kind)));
        }
        if stored.instance_id != instance_id {
            return Err(LicenseError::OtherInstance { licensed: stored.instance_id });
        }
        Ok(Self::evaluation(instance_id, stored.started_at))
    }

    /// One line for the status bar or the admin area: the evaluation banner, or the state of a paid license.
    pub fn status_msg(&self, now_ms: i64) -> Msg {
        match (self.kind(), self.state(now_ms)) {
            (LicenseKind::Evaluation, LicenseState::Active { days_left }) => {
                Msg::with("license.evaluation_banner", &[("days", days_left.unwrap_or(0).to_string())])
            }
            (LicenseKind::Evaluation, _) => Msg::new("license.state.evaluation_ended"),
            (LicenseKind::Signed, LicenseState::Active { days_left: None }) => Msg::new("license.state.active"),
            (LicenseKind::Signed, LicenseState::Active { days_left: Some(_) }) => Msg::with(
                "license.state.active_until",
                &[("date", format_date(self.payload.expires_at.unwrap_or_default()))],
            ),
            (LicenseKind::Signed, LicenseState::Grace { days_left }) => {
                Msg::with("license.state.grace", &[("days", days_left.to_string())])
            }
            (LicenseKind::Signed, LicenseState::Lapsed) => Msg::new("license.state.lapsed"),
        }
    }

    /// "Licensed to {licensee}, {plan} plan" (meaningful for signed licenses).
    pub fn summary_msg(&self) -> Msg {
        Msg::with(
            "license.summary",
            &[("licensee", self.payload.licensee.clone()), ("plan", self.payload.plan.clone())],
        )
    }
}

/// Whole days from `from` to `to`, rounded up (`to` after `from`).
fn days_between(from: i64, to: i64) -> u32 {
    let ms = u64::try_from(to.saturating_sub(from)).unwrap_or(0);
    u32::try_from(ms.div_ceil(DAY_MS.unsigned_abs())).unwrap_or(u32::MAX)
}

/// A unix-millisecond time as a UTC date, `2026-05-01`.
pub fn format_date(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.strftime("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests;
