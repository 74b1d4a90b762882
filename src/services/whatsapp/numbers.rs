//! Connecting WhatsApp numbers: create, change, disconnect and test them. Credentials are checked against the
//! provider's own field names, sealed with the instance's data key, and never shown again.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;

use super::views::{CredentialView, capability_list};
use super::{NumberView, QuotaView, Shared, WhatsAppError, describe_failure, webhook_url_with_secret};
use crate::domain::identity::display_name;
use crate::domain::message::{DEFAULT_WARMUP, META_TIERS, parse_warmup};
use crate::domain::msg::Msg;
use crate::domain::phone::Phone;
use crate::domain::role::Permission;
use crate::providers::{Credentials, ProviderKind};
use crate::services::access::Actor;
use crate::services::limits::{self, Limit};
use crate::services::team::TeamError;
use crate::store::whatsapp_accounts::{self, AccountRow};
use crate::store::{Conn, StoreError, accounts, messages, now_millis};

/// Longest credential value accepted (tokens are long, but not this long).
const MAX_CREDENTIAL_LEN: usize = 4096;
/// How long "Test connection" waits for the provider.
const TEST_TIMEOUT: Duration = Duration::from_secs(15);
const DAY_MS: i64 = 86_400_000;

/// A number to connect, as the form or the API sends it.
#[derive(Debug, Clone, Default)]
pub struct NewNumber {
    pub name: String,
    pub provider: String,
    pub phone_number: String,
    pub credentials: BTreeMap<String, String>,
    pub api_base_url: Option<String>,
}

/// Changes to a number; `None` leaves a field as it is. Credentials merge: fields sent replace, a blank secret
/// keeps the stored one (write-only fields in the form come back empty).
#[derive(Debug, Clone, Default)]
pub struct NumberChanges {
    pub name: Option<String>,
    pub credentials: Option<BTreeMap<String, String>>,
    /// `Some("")` clears it (back to the provider's default).
    pub api_base_url: Option<String>,
    /// `active` or `disabled`.
    pub status: Option<String>,
    pub warmup_enabled: Option<bool>,
    /// `20, 50, 100, 1000`.
    pub warmup_schedule: Option<String>,
    /// `Some(None)`: unlimited.
    pub messaging_limit: Option<Option<i64>>,
    pub throughput_per_second: Option<i64>,
}

/// The outcome of "Test connection".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TestResult {
    pub ok: bool,
    /// What answered, or why it failed.
    pub detail: String,
    /// The failure kind (`unauthorized`, `transient`, …) when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'static str>,
}

fn random_token(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Checks credentials against the provider's fields: unknown names and over-long values are refused; required
/// ones must be present unless `existing` has them.
fn check_credentials(
    kind: ProviderKind,
    given: &BTreeMap<String, String>,
    existing: Option<&Credentials>,
    errors: &mut Vec<(&'static str, Msg)>,
) -> Credentials {
    let fields = kind.connector().credential_fields();
    let mut merged = existing.cloned().unwrap_or_default();
    for (name, value) in given {
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            errors.push(("credentials", Msg::with("whatsapp.credential_unknown", &[("field", name.clone())])));
            continue;
        };
        let value = value.trim();
        if value.len() > MAX_CREDENTIAL_LEN {
            errors.push(("credentials", Msg::with("whatsapp.credential_too_long", &[("field", name.clone())])));
        } else if !value.is_empty() {
            merged.0.insert(field.name.to_owned(), value.to_owned());
        } else if !field.secret {
            merged.0.remove(field.name);
        }
    }
    for field in fields.iter().filter(|f| f.required) {
        if merged.optional(field.name).is_none() {
            errors.push(("credentials", Msg::with("whatsapp.credential_missing", &[("field", field.name.to_owned())])));
        }
    }
    merged
}

/// An API base URL: http(s) with a host; required for providers without a default (Evolution is self-hosted).
fn check_base_url(kind: ProviderKind, value: Option<&str>, errors: &mut Vec<(&'static str, Msg)>) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    match value {
        None if kind.connector().default_base_url().is_none() => {
            errors.push(("api_base_url", Msg::new("whatsapp.base_url_required")));
            None
        }
        None => None,
        Some(text) => match url::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(text.trim_end_matches('/').to_owned())
            }
            _ => {
                errors.push(("api_base_url", Msg::new("whatsapp.base_url_invalid")));
                None
            }
        },
    }
}

/// The local date in a time zone (`UTC` when the zone does not load), and it as days since the epoch.
pub(crate) fn local_day(timezone: &str, at: i64) -> (String, i64) {
    let tz = jiff::tz::TimeZone::get(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let date = jiff::Timestamp::from_millisecond(at).unwrap_or(jiff::Timestamp::UNIX_EPOCH).to_zoned(tz).date();
    let epoch = jiff::civil::date(1970, 1, 1);
    let days = (date - epoch).get_days() as i64;
    (date.to_string(), days)
}

/// Days since the epoch of a stored `YYYY-MM-DD`.
pub(crate) fn day_number(date: &str) -> Option<i64> {
    let date: jiff::civil::Date = date.parse().ok()?;
    Some(i64::from((date - jiff::civil::date(1970, 1, 1)).get_days()))
}

pub struct NumberService {
    shared: Shared,
}

impl NumberService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// The workspace's numbers. Every member may see them (the composer needs them); only admins change them.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<NumberView>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let base = self.shared.base_url(&mut conn).await?;
        let rows = whatsapp_accounts::list(&mut conn, actor.workspace_id).await?;
        let timezone = workspace_timezone(&mut conn, actor.workspace_id).await?;
        let mut views = Vec::with_capacity(rows.len());
        for row in rows {
            views.push(redact(actor, self.view(&mut conn, &row, &base, &timezone).await?));
        }
        Ok(views)
    }

    pub async fn get(&self, actor: &Actor, id: i64) -> Result<NumberView, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let row = whatsapp_accounts::get(&mut conn, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        let base = self.shared.base_url(&mut conn).await?;
        let timezone = workspace_timezone(&mut conn, row.workspace_id).await?;
        Ok(redact(actor, self.view(&mut conn, &row, &base, &timezone).await?))
    }

    /// Connects a number. Needs [`Permission::ManageSettings`]; counts against the workspace's numbers limit.
    pub async fn create(&self, actor: &Actor, new: &NewNumber) -> Result<NumberView, WhatsAppError> {
        actor.require(Permission::ManageSettings)?;
        actor.require_write()?;
        let mut errors = Vec::new();
        let name = display_name(&new.name).map_err(|m| errors.push(("name", m))).ok();
        let kind = ProviderKind::parse(new.provider.trim());
        if kind.is_none() {
            errors.push(("provider", Msg::new("whatsapp.provider_invalid")));
        }
        let phone = Phone::parse(&new.phone_number).map_err(|m| errors.push(("phone_number", m))).ok();
        let (credentials, base_url) = match kind {
            Some(kind) => (
                check_credentials(kind, &new.credentials, None, &mut errors),
                check_base_url(kind, new.api_base_url.as_deref(), &mut errors),
            ),
            None => (Credentials::default(), None),
        };
        let (Some(name), Some(kind), Some(phone), true) = (name, kind, phone, errors.is_empty()) else {
            return Err(WhatsAppError::Fields(errors));
        };

        let now = now_millis();
        let account_key = random_token(18);
        let secret = random_token(24);
        let mut tx = self.shared.db().write().await?;
        limits::check(&mut tx, actor.workspace_id, Limit::Numbers, 1).await.map_err(from_team)?;
        let timezone = workspace_timezone(&mut tx, actor.workspace_id).await?;
        let row = AccountRow {
            id: 0,
            workspace_id: actor.workspace_id,
            name,
            provider: kind.as_str().to_owned(),
            phone: phone.as_str().to_owned(),
            credentials: self.shared.seal_credentials(&account_key, &credentials)?,
            webhook_secret: self.shared.seal(&account_key, &secret)?,
            account_key,
            api_base_url: base_url,
            status: "active".into(),
            // Unofficial gateways risk bans when a fresh number sends a lot: warm-up is on for them by default.
            warmup_enabled: !kind.is_official(),
            warmup_schedule: DEFAULT_WARMUP.map(|n| n.to_string()).join(","),
            warmup_started_on: local_day(&timezone, now).0,
            warmup_week: 0,
            quota_day: None,
            sent_today: 0,
            messaging_limit: if kind.is_official() { META_TIERS[0] } else { None },
            throughput_per_second: if kind.is_official() { 80 } else { 10 },
            connection_state: None,
            last_test_at: None,
            last_test_ok: None,
            last_test_detail: None,
            last_webhook_at: None,
            created_at: now,
            updated_at: now,
        };
        let id = match whatsapp_accounts::create(&mut tx, &row).await {
            Err(StoreError::Conflict { .. }) => {
                return Err(WhatsAppError::Fields(vec![("phone_number", Msg::new("whatsapp.phone_taken"))]));
            }
            other => other?,
        };
        actor
            .audit(
                &mut tx,
                "whatsapp.number_connect",
                &format!("whatsapp_account:{id}"),
                serde_json::json!({
                    "provider": kind.as_str(), "phone": phone.as_str()
                }),
            )
            .await?;
        tx.commit().await?;
        self.get(actor, id).await
    }

    /// Changes a number. Needs [`Permission::ManageSettings`].
    pub async fn update(&self, actor: &Actor, id: i64, changes: &NumberChanges) -> Result<NumberView, WhatsAppError> {
        actor.require(Permission::ManageSettings)?;
        actor.require_write()?;
        let mut tx = self.shared.db().write().await?;
        let mut row = whatsapp_accounts::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        let kind = ProviderKind::parse(&row.provider).ok_or(WhatsAppError::NotFound)?;
        let mut errors = Vec::new();
        if let Some(name) = &changes.name {
            match display_name(name) {
                Ok(name) => row.name = name,
                Err(m) => errors.push(("name", m)),
            }
        }
        if let Some(given) = &changes.credentials {
            let existing = self.shared.open_credentials(&row)?;
            let merged = check_credentials(kind, given, Some(&existing), &mut errors);
            row.credentials = self.shared.seal_credentials(&row.account_key, &merged)?;
        }
        if let Some(url) = &changes.api_base_url {
            row.api_base_url = check_base_url(kind, Some(url), &mut errors);
        }
        if let Some(status) = &changes.status {
            match status.as_str() {
                "active" | "disabled" => row.status = status.clone(),
                _ => errors.push(("status", Msg::new("whatsapp.status_invalid"))),
            }
        }
        if let Some(enabled) = changes.warmup_enabled {
            row.warmup_enabled = enabled;
        }
        if let Some(schedule) = &changes.warmup_schedule {
            match parse_warmup(schedule) {
                Some(steps) => row.warmup_schedule = steps.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
                None => errors.push(("warmup_schedule", Msg::new("whatsapp.warmup_invalid"))),
            }
        }
        if let Some(limit) = changes.messaging_limit {
            match limit {
                Some(n) if n <= 0 => errors.push(("messaging_limit", Msg::new("whatsapp.limit_invalid"))),
                _ => row.messaging_limit = limit,
            }
        }
        if let Some(rate) = changes.throughput_per_second {
            if (1..=1000).contains(&rate) {
                row.throughput_per_second = rate;
            } else {
                errors.push(("throughput_per_second", Msg::new("whatsapp.throughput_invalid")));
            }
        }
        if !errors.is_empty() {
            return Err(WhatsAppError::Fields(errors));
        }
        whatsapp_accounts::update(&mut tx, &row, now_millis()).await?;
        let changed: Vec<&str> = [
            changes.name.as_ref().map(|_| "name"),
            changes.credentials.as_ref().map(|_| "credentials"),
            changes.api_base_url.as_ref().map(|_| "api_base_url"),
            changes.status.as_ref().map(|_| "status"),
            changes.warmup_enabled.map(|_| "warmup_enabled"),
            changes.warmup_schedule.as_ref().map(|_| "warmup_schedule"),
            changes.messaging_limit.map(|_| "messaging_limit"),
            changes.throughput_per_second.map(|_| "throughput_per_second"),
        ]
        .into_iter()
        .flatten()
        .collect();
        actor
            .audit(
                &mut tx,
                "whatsapp.number_update",
                &format!("whatsapp_account:{id}"),
                serde_json::json!({
                    "fields": changed
                }),
            )
            .await?;
        tx.commit().await?;
        self.get(actor, id).await
    }

    /// Disconnects a number and deletes its conversations and messages. Needs [`Permission::ManageSettings`].
    pub async fn delete(&self, actor: &Actor, id: i64) -> Result<(), WhatsAppError> {
        actor.require(Permission::ManageSettings)?;
        actor.require_write()?;
        let mut tx = self.shared.db().write().await?;
        let row = whatsapp_accounts::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        whatsapp_accounts::delete(&mut tx, actor.workspace_id, id).await?;
        actor
            .audit(
                &mut tx,
                "whatsapp.number_delete",
                &format!("whatsapp_account:{id}"),
                serde_json::json!({
                    "provider": row.provider, "phone": row.phone
                }),
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks the stored credentials with the provider and records the result. Needs [`Permission::ManageSettings`].
    pub async fn test(&self, actor: &Actor, id: i64) -> Result<TestResult, WhatsAppError> {
        actor.require(Permission::ManageSettings)?;
        let mut conn = self.shared.db().read().await?;
        let row = whatsapp_accounts::get(&mut conn, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        let base = self.shared.base_url(&mut conn).await?;
        drop(conn);
        let account = self.shared.account_config(&row, &base)?;
        let connector = account.kind.connector();
        let outcome = tokio::time::timeout(TEST_TIMEOUT, connector.test_connection(&self.shared.http, &account)).await;
        let result = match outcome {
            Ok(Ok(detail)) => TestResult { ok: true, detail, failure: None },
            Ok(Err(e)) => TestResult { ok: false, detail: describe_failure(&e), failure: Some(e.kind.as_str()) },
            Err(_) => TestResult {
                ok: false,
                detail: "the provider did not answer within 15 seconds".into(),
                failure: Some("transient"),
            },
        };
        let mut tx = self.shared.db().write().await?;
        whatsapp_accounts::set_test_result(&mut tx, actor.workspace_id, id, result.ok, &result.detail, now_millis())
            .await?;
        tx.commit().await?;
        Ok(result)
    }

    async fn view(
        &self,
        conn: &mut Conn,
        row: &AccountRow,
        base: &str,
        timezone: &str,
    ) -> Result<NumberView, WhatsAppError> {
        let kind = ProviderKind::parse(&row.provider)
            .ok_or_else(|| WhatsAppError::Internal(format!("unknown provider {}", row.provider)))?;
        let connector = kind.connector();
        let credentials = self.shared.open_credentials(row)?;
        let secret = self.shared.open(&row.account_key, &row.webhook_secret)?;
        let now = now_millis();
        let (today, _) = local_day(timezone, now);
        let business_initiated_24h =
            messages::business_initiated_contacts_since(conn, row.workspace_id, row.id, now - DAY_MS).await?;
        Ok(NumberView {
            id: row.id,
            name: row.name.clone(),
            provider: kind.as_str(),
            provider_label: kind.label(),
            phone_number: row.phone.clone(),
            status: row.status.clone(),
            api_base_url: row.api_base_url.clone(),
            webhook_url: webhook_url_with_secret(base, kind, &row.account_key, &secret),
            verify_token: (kind == ProviderKind::Meta).then(|| secret.clone()),
            webhook_secret: matches!(kind, ProviderKind::Dialog360 | ProviderKind::Chatwoot | ProviderKind::Evolution)
                .then(|| secret.clone()),
            credentials: connector
                .credential_fields()
                .iter()
                .map(|f| CredentialView {
                    name: f.name,
                    secret: f.secret,
                    required: f.required,
                    value: if f.secret { None } else { credentials.optional(f.name).map(str::to_owned) },
                    set: credentials.optional(f.name).is_some(),
                })
                .collect(),
            capabilities: capability_list(connector.capabilities()),
            quota: QuotaView {
                warmup_enabled: row.warmup_enabled,
                daily_quota: super::quota::daily_cap(row, timezone, now),
                warmup_schedule: super::quota::warmup_schedule(row),
                warmup_week: super::quota::warmup_week(row, timezone, now),
                sent_today: if row.quota_day.as_deref() == Some(today.as_str()) { row.sent_today } else { 0 },
                messaging_limit: row.messaging_limit,
                business_initiated_24h,
                throughput_per_second: row.throughput_per_second,
            },
            connection_state: row.connection_state.clone(),
            last_test_at: row.last_test_at,
            last_test_ok: row.last_test_ok,
            last_test_detail: row.last_test_detail.clone(),
            last_webhook_at: row.last_webhook_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Only those who manage the numbers see the webhook secrets: with one, anybody could post webhooks that look
/// like the provider's.
fn redact(actor: &Actor, mut view: NumberView) -> NumberView {
    if actor.require(Permission::ManageSettings).is_err() {
        if let Some(secret) = view.webhook_secret.take() {
            view.webhook_url = view.webhook_url.replace(&format!("?secret={secret}"), "");
        }
        view.verify_token = None;
    }
    view
}

/// A workspace's time zone (`UTC` when it is gone).
pub(crate) async fn workspace_timezone(conn: &mut Conn, workspace_id: i64) -> Result<String, StoreError> {
    Ok(accounts::workspace_by_id(conn, workspace_id).await?.map_or_else(|| "UTC".to_owned(), |w| w.timezone))
}

fn from_team(e: TeamError) -> WhatsAppError {
    match e {
        TeamError::Access(e) => WhatsAppError::Access(e),
        TeamError::NotFound => WhatsAppError::NotFound,
        TeamError::Fields(f) => WhatsAppError::Fields(f),
        TeamError::Refused(msg) => WhatsAppError::Refused { code: "limit_reached", msg },
        TeamError::Store(e) => WhatsAppError::Store(e),
    }
}
