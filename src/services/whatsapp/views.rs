//! What the numbers pages and the API show about a connected number: never a secret credential, only whether it
//! is set.

use serde::{Serialize, Serializer};

use crate::providers::{Capabilities, ProviderKind};

/// Times serialize as RFC 3339 in UTC, like every time of the API.
fn rfc3339<S: Serializer>(millis: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&jiff::Timestamp::from_millisecond(*millis).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
}

fn opt_rfc3339<S: Serializer>(millis: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match millis {
        Some(m) => rfc3339(m, s),
        None => s.serialize_none(),
    }
}

/// One credential field as shown: secret ones only say whether they are set.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CredentialView {
    pub name: &'static str,
    pub secret: bool,
    pub required: bool,
    /// The value of a non-secret field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub set: bool,
}

/// A capability and whether the number's provider has it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Capability {
    pub name: &'static str,
    pub supported: bool,
}

/// Names and values of a provider's capabilities, in a stable order.
pub fn capability_list(c: Capabilities) -> Vec<Capability> {
    [
        ("text", true),
        ("templates", c.templates),
        ("media", c.media),
        ("media_upload", c.media_upload),
        ("interactive", c.interactive),
        ("mark_read", c.mark_read),
        ("customer_window", c.customer_window),
    ]
    .into_iter()
    .map(|(name, supported)| Capability { name, supported })
    .collect()
}

/// Today's sending allowance of a number.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuotaView {
    pub warmup_enabled: bool,
    /// Messages per day by week, e.g. `[20, 50, 100, 1000]`.
    pub warmup_schedule: Vec<i64>,
    /// Weeks since the warm-up started (0 = the first week).
    pub warmup_week: i64,
    /// Today's cap under the warm-up; `None` without warm-up.
    pub daily_quota: Option<i64>,
    pub sent_today: i64,
    /// Meta's messaging limit (unique users per 24 h for business-initiated messages); `None` = unlimited or not
    /// tracked (gateways).
    pub messaging_limit: Option<i64>,
    /// Unique users reached with business-initiated messages in the last 24 hours.
    pub business_initiated_24h: i64,
    pub throughput_per_second: i64,
}

/// A connected number.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NumberView {
    pub id: i64,
    pub name: String,
    pub provider: &'static str,
    pub provider_label: &'static str,
    pub phone_number: String,
    /// `active` or `disabled`.
    pub status: String,
    pub api_base_url: Option<String>,
    /// The URL to paste into the provider's console (with `?secret=` where the provider has no signatures).
    pub webhook_url: String,
    /// Meta: the verify token of the GET handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<String>,
    /// 360dialog, Chatwoot, Evolution: the secret webhooks carry (already in `webhook_url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    pub credentials: Vec<CredentialView>,
    pub capabilities: Vec<Capability>,
    pub quota: QuotaView,
    pub connection_state: Option<String>,
    #[serde(serialize_with = "opt_rfc3339")]
    pub last_test_at: Option<i64>,
    pub last_test_ok: Option<bool>,
    pub last_test_detail: Option<String>,
    #[serde(serialize_with = "opt_rfc3339")]
    pub last_webhook_at: Option<i64>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: i64,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: i64,
}

impl NumberView {
    pub fn kind(&self) -> Option<ProviderKind> {
        ProviderKind::parse(self.provider)
    }

    pub fn supports(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c.name == capability && c.supported)
    }
}
