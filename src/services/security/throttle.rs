//! Sign-in throttling: refuse before any password check when an account or an address failed too often lately.
//!
//! Every password and second-factor check is recorded in `login_attempts`. An account is locked while it has
//! [`MAX_ACCOUNT_FAILURES`] failures in the last [`WINDOW`], an address while it has [`MAX_IP_FAILURES`]; a success
//! clears nothing. The lock ends when the oldest counted failure leaves the window, which is what the message says.

use std::time::Duration;

use crate::domain::msg::Msg;
use crate::store::security::{self as store, AttemptKey};
use crate::store::{Conn, StoreError, now_millis};

/// How far back failures count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures of one account within [`WINDOW`] that lock it.
pub const MAX_ACCOUNT_FAILURES: i64 = 5;
/// Failures from one address within [`WINDOW`] that lock it.
pub const MAX_IP_FAILURES: i64 = 20;

/// A refused attempt: which limit was hit and for how many more minutes (rounded up, at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    Account { minutes: i64 },
    Ip { minutes: i64 },
}

impl Throttled {
    pub fn minutes(self) -> i64 {
        match self {
            Self::Account { minutes } | Self::Ip { minutes } => minutes,
        }
    }

    /// "Too many failed sign-ins for this account. Try again in 12 minutes."
    pub fn msg(self) -> Msg {
        let minutes = self.minutes();
        let key = match (self, minutes) {
            (Self::Account { .. }, 1) => "security.throttle.account_one",
            (Self::Account { .. }, _) => "security.throttle.account",
            (Self::Ip { .. }, 1) => "security.throttle.ip_one",
            (Self::Ip { .. }, _) => "security.throttle.ip",
        };
        Msg::with(key, &[("minutes", minutes.to_string())])
    }
}

fn window_ms() -> i64 {
    i64::try_from(WINDOW.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Whole minutes until `unlock_at`, rounded up, at least 1.
fn minutes_until(unlock_at: i64, now: i64) -> i64 {
    ((unlock_at - now).max(1) + 59_999) / 60_000
}

/// Whether the account (by lower-cased email) or the address is locked right now.
pub async fn check(conn: &mut Conn, email_lower: &str, ip: Option<&str>) -> Result<Option<Throttled>, StoreError> {
    let now = now_millis();
    let since = now - window_ms();
    let account = store::nth_recent_failure(conn, AttemptKey::Email(email_lower), since, MAX_ACCOUNT_FAILURES).await?;
    if let Some(at) = account {
        return Ok(Some(Throttled::Account { minutes: minutes_until(at + window_ms(), now) }));
    }
    if let Some(ip) = ip
        && let Some(at) = store::nth_recent_failure(conn, AttemptKey::Ip(ip), since, MAX_IP_FAILURES).await?
    {
        return Ok(Some(Throttled::Ip { minutes: minutes_until(at + window_ms(), now) }));
    }
    Ok(None)
}

/// Records one checked attempt.
pub async fn record(conn: &mut Conn, email_lower: &str, ip: Option<&str>, succeeded: bool) -> Result<(), StoreError> {
    store::record_attempt(conn, email_lower, ip, succeeded).await
}

/// The key attempts are counted under: the normalised email, or the trimmed, lower-cased input when it is not one
/// (so nonsense is counted too), bounded in length.
pub fn attempt_email(input: &str) -> String {
    let lookup = crate::domain::identity::Email::parse(input).map(|e| e.lookup).unwrap_or_default();
    let key = if lookup.is_empty() { input.trim().to_lowercase() } else { lookup };
    key.chars().take(320).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_round_up() {
        assert_eq!(minutes_until(1_000 + 15 * 60_000, 1_000), 15);
        assert_eq!(minutes_until(1_000 + 11 * 60_000 + 1, 1_000), 12);
        assert_eq!(minutes_until(1_000, 1_000), 1, "never zero");
        assert_eq!(minutes_until(500, 1_000), 1);
    }

    #[test]
    fn messages_name_the_minutes() {
        let msg = Throttled::Account { minutes: 12 }.msg();
        assert_eq!(msg.key, "security.throttle.account");
        assert_eq!(
            msg.render(crate::i18n::Lang::En),
            "Too many failed sign-ins for this account. Try again in 12 minutes."
        );
        assert_eq!(Throttled::Ip { minutes: 1 }.msg().key, "security.throttle.ip_one");
    }

    #[test]
    fn attempt_keys_are_normalised() {
        assert_eq!(attempt_email(" Owner@Acme.Example "), "owner@acme.example");
        assert_eq!(attempt_email(" Not An Email "), "not an email");
        assert_eq!(attempt_email(&"x".repeat(1000)).len(), 320);
    }
}
