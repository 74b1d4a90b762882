//! The backup policy: schedule (a cron expression), retention per kind, the stored passphrase, archive names, and
//! the failure email to the owners.

use std::str::FromStr;

use serde::Serialize;

use super::destination::StoredBackup;
use super::{BackupKind, BackupSummary, ops};
use crate::crypto::DataKey;
use crate::domain::msg::Msg;
use crate::mail;
use crate::store::settings::{self, Scope};
use crate::store::{Conn, Db, StoreError};

const SCHEDULE_KEY: &str = "backup.schedule";
const PASSPHRASE_KEY: &str = "backup.passphrase";
pub(super) const LAST_SCHEDULED_KEY: &str = "backup.last_scheduled_at";
const DEFAULT_SCHEDULE: &str = "0 3 * * *";
/// Authenticated data binding the sealed passphrase to its setting.
const PASSPHRASE_AAD: &[u8] = b"backup.passphrase";

/// The kinds scheduled pruning may remove; manual and pre-update backups stay until someone deletes them.
pub const PRUNED_KINDS: [BackupKind; 2] = [BackupKind::Scheduled, BackupKind::PreRestore];

/// How many archives of a kind to keep, and for how long.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Retention {
    pub kind: BackupKind,
    /// Keep at most this many (0: no limit by count).
    pub keep_count: u32,
    /// Remove those older than this many days (0: no limit by age).
    pub keep_days: u32,
}

/// The saved backup settings.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BackupSettings {
    /// A five-field cron expression in UTC; empty when scheduled backups are off.
    pub schedule: String,
    pub retention: Vec<Retention>,
    pub passphrase_set: bool,
    pub last_scheduled_at: Option<i64>,
}

fn retention_key(kind: BackupKind, what: &str) -> String {
    format!("backup.keep.{}.{what}", kind.as_str())
}

fn default_retention(kind: BackupKind) -> Retention {
    match kind {
        BackupKind::Scheduled => Retention { kind, keep_count: 7, keep_days: 30 },
        _ => Retention { kind, keep_count: 3, keep_days: 14 },
    }
}

impl BackupSettings {
    pub async fn load(conn: &mut Conn) -> Result<Self, StoreError> {
        let values = settings::load(conn, Scope::Instance, "backup.").await?;
        let number = |key: String, default: u32| values.get(&key).and_then(|v| v.parse().ok()).unwrap_or(default);
        let retention = PRUNED_KINDS
            .iter()
            .map(|&kind| {
                let default = default_retention(kind);
                Retention {
                    kind,
                    keep_count: number(retention_key(kind, "count"), default.keep_count),
                    keep_days: number(retention_key(kind, "days"), default.keep_days),
                }
            })
            .collect();
        Ok(Self {
            schedule: values.get(SCHEDULE_KEY).cloned().unwrap_or_else(|| DEFAULT_SCHEDULE.to_owned()),
            retention,
            passphrase_set: values.get(PASSPHRASE_KEY).is_some_and(|v| !v.is_empty()),
            last_scheduled_at: values.get(LAST_SCHEDULED_KEY).and_then(|v| v.parse().ok()),
        })
    }
}

/// The settings form or API body, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SettingsInput {
    /// Cron expression; empty turns scheduled backups off.
    #[serde(default)]
    pub schedule: String,
    #[serde(default)]
    pub scheduled_keep_count: Option<String>,
    #[serde(default)]
    pub scheduled_keep_days: Option<String>,
    #[serde(default)]
    pub pre_restore_keep_count: Option<String>,
    #[serde(default)]
    pub pre_restore_keep_days: Option<String>,
    /// A new passphrase for every backup from now on (kept when absent or empty).
    #[serde(default)]
    pub passphrase: Option<String>,
    /// Removes the stored passphrase (later backups are not encrypted).
    #[serde(default)]
    pub clear_passphrase: Option<String>,
}

/// Validated settings, ready to save.
pub struct ValidSettings {
    pub schedule: String,
    retention: Vec<Retention>,
    passphrase: PassphraseChange,
}

enum PassphraseChange {
    Keep,
    Set(String),
    Clear,
}

/// The shortest passphrase accepted: the archive's key is derived from it, and it may travel off the server.
const MIN_PASSPHRASE: usize = 12;

impl SettingsInput {
    /// What happens to the passphrase, for the audit log (never the passphrase itself).
    pub fn passphrase_action(&self) -> &'static str {
        if self.clear_passphrase.as_deref().is_some_and(is_checked) {
            "cleared"
        } else if self.passphrase.as_deref().is_some_and(|p| !p.is_empty()) {
            "changed"
        } else {
            "kept"
        }
    }

    pub fn validate(&self) -> Result<ValidSettings, Vec<(&'static str, Msg)>> {
        let mut errors = Vec::new();
        let schedule = self.schedule.trim().to_owned();
        if !schedule.is_empty() && croner::Cron::from_str(&schedule).is_err() {
            errors.push(("schedule", Msg::new("backup.error.schedule")));
        }
        let mut count = |field: &'static str, value: &Option<String>, default: u32| -> u32 {
            match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => default,
                Some(text) => match text.parse::<u32>() {
                    Ok(n) if n <= 10_000 => n,
                    _ => {
                        errors.push((field, Msg::new("backup.error.number")));
                        default
                    }
                },
            }
        };
        let scheduled = default_retention(BackupKind::Scheduled);
        let pre_restore = default_retention(BackupKind::PreRestore);
        let retention = vec![
            Retention {
                kind: BackupKind::Scheduled,
                keep_count: count("scheduled_keep_count", &self.scheduled_keep_count, scheduled.keep_count),
                keep_days: count("scheduled_keep_days", &self.scheduled_keep_days, scheduled.keep_days),
            },
            Retention {
                kind: BackupKind::PreRestore,
                keep_count: count("pre_restore_keep_count", &self.pre_restore_keep_count, pre_restore.keep_count),
                keep_days: count("pre_restore_keep_days", &self.pre_restore_keep_days, pre_restore.keep_days),
            },
        ];
        let passphrase = match (self.clear_passphrase.as_deref().is_some_and(is_checked), self.passphrase.as_deref()) {
            (true, _) => PassphraseChange::Clear,
            (false, Some(p)) if !p.is_empty() => {
                if p.chars().count() < MIN_PASSPHRASE {
                    errors.push(("passphrase", Msg::new("backup.error.passphrase_short")));
                }
                PassphraseChange::Set(p.to_owned())
            }
            _ => PassphraseChange::Keep,
        };
        if errors.is_empty() { Ok(ValidSettings { schedule, retention, passphrase }) } else { Err(errors) }
    }
}

fn is_checked(value: &str) -> bool {
    matches!(value, "on" | "true" | "1" | "yes")
}

impl ValidSettings {
    pub async fn save(&self, conn: &mut Conn, key: Option<&DataKey>) -> Result<(), StoreError> {
        settings::put(conn, Scope::Instance, SCHEDULE_KEY, &self.schedule).await?;
        for r in &self.retention {
            settings::put(conn, Scope::Instance, &retention_key(r.kind, "count"), &r.keep_count.to_string()).await?;
            settings::put(conn, Scope::Instance, &retention_key(r.kind, "days"), &r.keep_days.to_string()).await?;
        }
        match (&self.passphrase, key) {
            (PassphraseChange::Keep, _) => {}
            (PassphraseChange::Clear, _) => {
                settings::delete(conn, Scope::Instance, PASSPHRASE_KEY).await?;
            }
            (PassphraseChange::Set(p), Some(key)) => {
                settings::put(conn, Scope::Instance, PASSPHRASE_KEY, &key.seal_str(p, PASSPHRASE_AAD)).await?;
            }
            (PassphraseChange::Set(_), None) => {
                return Err(StoreError::Backend("the instance has no encryption key to keep the passphrase".into()));
            }
        }
        Ok(())
    }
}

/// The passphrase every backup is encrypted with, if one is set.
pub async fn stored_passphrase(conn: &mut Conn, key: Option<&DataKey>) -> Result<Option<String>, StoreError> {
    let Some(sealed) = settings::get(conn, Scope::Instance, PASSPHRASE_KEY).await?.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let key = key.ok_or_else(|| StoreError::Backend("the backup passphrase is stored but there is no key".into()))?;
    key.open_str(&sealed, PASSPHRASE_AAD)
        .map(Some)
        .map_err(|e| StoreError::Backend(format!("the stored backup passphrase does not open: {e}")))
}

/// Whether a scheduled backup is due: a fire time of the schedule has passed since the last scheduled backup (an
/// instance that never made one is due at once, so a new install is covered from its first day).
pub fn is_due(settings: &BackupSettings, now: i64) -> bool {
    if settings.schedule.is_empty() {
        return false;
    }
    let Ok(cron) = croner::Cron::from_str(&settings.schedule) else { return false };
    let Ok(now_zoned) = jiff::Timestamp::from_millisecond(now).map(|t| t.to_zoned(jiff::tz::TimeZone::UTC)) else {
        return false;
    };
    let Ok(latest) = cron.find_previous_occurrence(&now_zoned, true) else { return false };
    let latest = latest.timestamp().as_millisecond();
    settings.last_scheduled_at.is_none_or(|last| latest > last)
}

/// `conversure-20261122-031500-scheduled.tar.zst`: sortable, and the kind readable without opening the archive.
pub fn file_name(created_at: i64, kind: BackupKind, attempt: u32) -> String {
    let stamp = jiff::Timestamp::from_millisecond(created_at)
        .map(|t| t.strftime("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_else(|_| created_at.to_string());
    let suffix = if attempt == 0 { String::new() } else { format!("-{attempt}") };
    format!("conversure-{stamp}-{}{suffix}.tar.zst", kind.as_str())
}

/// Reads the time and kind back from an archive's name; archives named otherwise (uploaded by hand) count as manual.
pub fn summary_of(stored: &StoredBackup) -> Option<BackupSummary> {
    let stem = stored.file_name.strip_suffix(".tar.zst")?;
    let rest = stem.strip_prefix("conversure-");
    let parsed = rest.and_then(|rest| {
        let stamp = rest.get(..15)?;
        let kind_part = rest.get(16..)?;
        let time = jiff::civil::DateTime::strptime("%Y%m%d-%H%M%S", stamp).ok()?;
        let created = time.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_millisecond();
        let kind = [BackupKind::Manual, BackupKind::Scheduled, BackupKind::PreUpdate, BackupKind::PreRestore]
            .into_iter()
            .find(|k| {
                kind_part == k.as_str() || kind_part.strip_prefix(k.as_str()).is_some_and(|s| s.starts_with('-'))
            })?;
        Some((created, kind))
    });
    let (created_at, kind) = parsed.unwrap_or((stored.modified_at, BackupKind::Manual));
    Some(BackupSummary { file_name: stored.file_name.clone(), size: stored.size, created_at, kind })
}

/// The archives retention removes: per pruned kind, beyond the count (newest kept) or older than the age.
pub fn to_prune(backups: &[BackupSummary], retention: &[Retention], now: i64) -> Vec<String> {
    let mut doomed = Vec::new();
    for rule in retention.iter().filter(|r| PRUNED_KINDS.contains(&r.kind)) {
        let mut of_kind: Vec<&BackupSummary> = backups.iter().filter(|b| b.kind == rule.kind).collect();
        of_kind.sort_by_key(|b| std::cmp::Reverse(b.created_at));
        for (index, backup) in of_kind.iter().enumerate() {
            let too_many = rule.keep_count > 0 && index >= rule.keep_count as usize;
            let too_old = rule.keep_days > 0 && now - backup.created_at > i64::from(rule.keep_days) * 86_400_000;
            if too_many || too_old {
                doomed.push(backup.file_name.clone());
            }
        }
    }
    doomed
}

/// Emails every instance owner that an operation failed (when email is set up); a failure to email is logged only.
pub async fn email_owners(db: &Db, key: Option<&DataKey>, record: &ops::Record, error: &str) {
    let sent = async {
        let mut conn = db.read().await?;
        let values = settings::load(&mut conn, Scope::Instance, mail::keys::PREFIX).await?;
        let Some(key) = key else { return Ok::<_, StoreError>(0) };
        let Ok(Some(smtp)) = mail::SmtpSettings::from_settings(&values, key) else { return Ok(0) };
        let owners = crate::store::accounts::owner_emails(&mut conn).await?;
        drop(conn);
        let lang = crate::i18n::Lang::En;
        let subject = lang.format("backup.mail.subject", &[("operation", &record.operation)]);
        let steps: Vec<String> = record
            .steps
            .iter()
            .map(|s| format!("- {}: {} {}", s.step, if s.ok { "ok" } else { "FAILED" }, s.detail))
            .collect();
        let text = lang.format(
            "backup.mail.body",
            &[("operation", &record.operation), ("error", error), ("steps", &steps.join("\n"))],
        );
        let mut count = 0;
        for to in owners {
            let email = mail::Email { to, subject: subject.clone(), text: text.clone(), html: None };
            match mail::send(&smtp, &email).await {
                Ok(()) => count += 1,
                Err(e) => tracing::warn!(error = %e, "could not email the backup failure"),
            }
        }
        Ok(count)
    };
    match sent.await {
        Ok(count) => tracing::info!(count, "backup failure emailed to the owners"),
        Err(e) => tracing::warn!(error = %e, "could not email the backup failure"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(name: &str, created_at: i64) -> BackupSummary {
        summary_of(&StoredBackup { file_name: name.into(), size: 1, modified_at: created_at }).unwrap()
    }

    #[test]
    fn names_round_trip_kind_and_time() {
        let at = 1_795_000_000_000;
        for kind in [BackupKind::Manual, BackupKind::Scheduled, BackupKind::PreUpdate, BackupKind::PreRestore] {
            let s = summary(&file_name(at, kind, 0), 0);
            assert_eq!((s.kind, s.created_at), (kind, at));
            assert_eq!(summary(&file_name(at, kind, 2), 0).kind, kind);
        }
        let uploaded = summary("my-copy.tar.zst", 42);
        assert_eq!((uploaded.kind, uploaded.created_at), (BackupKind::Manual, 42));
    }

    #[test]
    fn pruning_never_touches_manual_or_pre_update() {
        let day = 86_400_000;
        let now = 100 * day;
        let mut backups: Vec<_> =
            (0..10).map(|i| summary(&file_name(now - i * day, BackupKind::Scheduled, 0), 0)).collect();
        backups.push(summary(&file_name(now - 90 * day, BackupKind::Manual, 0), 0));
        backups.push(summary(&file_name(now - 90 * day, BackupKind::PreUpdate, 0), 0));
        let rules = [Retention { kind: BackupKind::Scheduled, keep_count: 7, keep_days: 5 }];
        let doomed = to_prune(&backups, &rules, now);
        // Days 6..9 are older than 5 days; count 7 keeps days 0..6: the union is days 6..9 plus nothing else.
        assert_eq!(doomed.len(), 4, "{doomed:?}");
        assert!(doomed.iter().all(|n| n.ends_with("-scheduled.tar.zst")));
    }

    #[test]
    fn schedule_is_due_once_per_fire_time() {
        let mut s = BackupSettings {
            schedule: "0 3 * * *".into(),
            retention: vec![],
            passphrase_set: false,
            last_scheduled_at: None,
        };
        let at_0310 = 1_795_000_000_000 - 1_795_000_000_000 % 86_400_000 + 3 * 3_600_000 + 600_000;
        assert!(is_due(&s, at_0310));
        s.last_scheduled_at = Some(at_0310);
        assert!(!is_due(&s, at_0310 + 3_600_000));
        assert!(is_due(&s, at_0310 + 86_400_000));
        s.schedule.clear();
        assert!(!is_due(&s, at_0310 + 86_400_000));
    }

    #[test]
    fn settings_input_rejects_bad_values_and_changes_nothing() {
        let input = SettingsInput {
            schedule: "every day".into(),
            scheduled_keep_count: Some("-1".into()),
            passphrase: Some("short".into()),
            ..Default::default()
        };
        let fields: Vec<_> = input.validate().err().unwrap().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["schedule", "scheduled_keep_count", "passphrase"]);
    }
}
