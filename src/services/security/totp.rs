//! TOTP (RFC 6238) as a second factor: enrolment with a QR code, recovery codes, the second sign-in step, and the
//! workspace policy that makes it mandatory.

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Totp};

use super::{REQUIRE_TOTP_KEY, SecurityError, SecurityService, actor_of, sha256_hex, throttle};
use crate::crypto::DataKey;
use crate::domain::msg::Msg;
use crate::domain::role::Permission;
use crate::services::access::Actor;
use crate::services::auth::{self, CurrentUser, SESSION_TTL};
use crate::store::security::{self as store};
use crate::store::settings::{self, Scope};
use crate::store::{Conn, accounts, audit, now_millis};

/// What the sealed secret is bound to: it opens under no other purpose.
const SECRET_AAD: &[u8] = b"users.totp_secret";
/// 160 bits, as RFC 4226 recommends.
const SECRET_LEN: usize = 20;
/// How many recovery codes a user gets at a time.
pub const RECOVERY_CODES: usize = 10;
/// How long a session may wait for its second factor.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

/// What an enrolment shows: the secret for typing in, the `otpauth://` URI and its QR code as inline SVG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSetup {
    /// Base32, grouped by four for reading.
    pub secret: String,
    pub uri: String,
    /// `<svg …>` markup (attributes only, no style or script: it passes the CSP).
    pub qr_svg: String,
}

/// A user's two-step verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TotpStatus {
    Off,
    /// A secret was generated and waits for its first code.
    Pending(TotpSetup),
    On {
        since: i64,
        recovery_codes_left: i64,
    },
}

/// The security page's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityOverview {
    pub totp: TotpStatus,
    /// The current workspace requires TOTP.
    pub required: bool,
    /// Whether this user may change the workspace's requirement.
    pub can_require: bool,
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    pub csrf_token: String,
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Result<Totp, SecurityError> {
    // The otpauth label separates issuer and account with ':', so neither may contain one.
    let clean = |s: &str| s.replace(':', " ").trim().to_owned();
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(secret)
        .with_issuer(Some(clean(issuer)))
        .with_account_name(clean(account))
        .build()
        .map_err(|e| SecurityError::Internal(format!("TOTP parameters: {e}")))
}

fn qr_svg(uri: &str) -> Result<String, SecurityError> {
    let code = QrCode::new(uri.as_bytes()).map_err(|e| SecurityError::Internal(format!("QR code: {e}")))?;
    let svg = code.render::<svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build();
    // Inline in HTML, the XML declaration is noise.
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].replacen("<svg ", "<svg class=\"totp-qr\" role=\"img\" aria-hidden=\"true\" ", 1))
}

fn group_by_four(text: &str) -> String {
    text.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// A recovery code as typed: letters and digits only, upper case.
fn normalise_recovery_code(code: &str) -> String {
    code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// New recovery codes (80 random bits each, `ABCDE-12345-…`) and their hashes.
fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| crate::services::install::new_recovery_code()).collect();
    let hashes = codes.iter().map(|c| sha256_hex(&normalise_recovery_code(c))).collect();
    (codes, hashes)
}

/// Six digits (spaces ignored) are an authenticator code; anything else is tried as a recovery code.
fn as_totp_code(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// Seals the secret together with the last accepted time step (RFC 6238 §5.2: a code is accepted once). Keeping the
/// step inside the sealed value puts it in the user's row, and lets a sign-in claim it with a compare-and-swap on the
/// whole value, so two concurrent uses of one code cannot both succeed.
fn seal_secret(key: &DataKey, secret: &[u8], last_step: Option<u64>) -> Vec<u8> {
    let mut plain = zeroize::Zeroizing::new(secret.to_vec());
    if let Some(step) = last_step {
        plain.extend_from_slice(&step.to_be_bytes());
    }
    key.seal(&plain, SECRET_AAD)
}

/// The secret and the last accepted step (none before the first sign-in).
fn open_secret(key: &DataKey, sealed: &[u8]) -> Result<(Vec<u8>, Option<u64>), SecurityError> {
    let plain = zeroize::Zeroizing::new(
        key.open(sealed, SECRET_AAD)
            .map_err(|e| SecurityError::Internal(format!("the TOTP secret does not open: {e}")))?,
    );
    match plain.len() {
        SECRET_LEN => Ok((plain.to_vec(), None)),
        len if len == SECRET_LEN + 8 => {
            let (secret, step) = plain.split_at(SECRET_LEN);
            let step: [u8; 8] = step.try_into().map_err(|_| SecurityError::Internal("TOTP step".into()))?;
            Ok((secret.to_vec(), Some(u64::from_be_bytes(step))))
        }
        len => Err(SecurityError::Internal(format!("the TOTP secret has an unexpected length ({len} bytes)"))),
    }
}

fn now_secs() -> u64 {
    u64::try_from(now_millis() / 1000).unwrap_or(0)
}

impl SecurityService {
    fn seal_secret(&self, secret: &[u8], last_step: Option<u64>) -> Result<Vec<u8>, SecurityError> {
        Ok(seal_secret(self.key()?, secret, last_step))
    }

    fn open_secret(&self, sealed: &[u8]) -> Result<(Vec<u8>, Option<u64>), SecurityError> {
        open_secret(self.key()?, sealed)
    }

    /// The user's TOTP state, the workspace's requirement and whether the user may change it.
    pub async fn overview(&self, user: &CurrentUser) -> Result<SecurityOverview, SecurityError> {
        let mut conn = self.db.read().await?;
        let state = store::totp_state(&mut conn, user.user.id).await?.ok_or(SecurityError::UnknownUser)?;
        let totp = match (state.enabled_at, state.sealed_secret) {
            (Some(since), _) => TotpStatus::On {
                since,
                recovery_codes_left: store::recovery_codes_left(&mut conn, user.user.id).await?,
            },
            (None, Some(sealed)) => {
                let issuer = self.brand().await?.name;
                let (secret, _) = self.open_secret(&sealed)?;
                let totp = totp(secret, &issuer, &user.user.email)?;
                let uri = totp.to_url().map_err(|e| SecurityError::Internal(format!("otpauth URI: {e}")))?;
                TotpStatus::Pending(TotpSetup {
                    secret: group_by_four(&totp.secret().to_base32()),
                    qr_svg: qr_svg(&uri)?,
                    uri,
                })
            }
            (None, None) => TotpStatus::Off,
        };
        let required = self.workspace_requires_totp(&mut conn, user).await?;
        let can_require = actor_of(user).is_some_and(|a| a.require(Permission::ManageSettings).is_ok());
        Ok(SecurityOverview { totp, required, can_require })
    }

    /// Starts (or restarts) an enrolment: a new secret, stored sealed, waiting for its first code.
    pub async fn start_totp(&self, user: &CurrentUser) -> Result<(), SecurityError> {
        let secret: [u8; SECRET_LEN] = rand::random();
        let sealed = self.seal_secret(&secret, None)?;
        let mut tx = self.db.write().await?;
        if !store::set_pending_totp_secret(&mut tx, user.user.id, sealed).await? {
            return Err(SecurityError::TotpState);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Finishes an enrolment with a code from the app: TOTP is on, and the new recovery codes are returned (to show
    /// once; only their hashes are kept).
    pub async fn confirm_totp(
        &self,
        user: &CurrentUser,
        code: &str,
        ip: Option<&str>,
    ) -> Result<Vec<String>, SecurityError> {
        let mut conn = self.db.read().await?;
        let state = store::totp_state(&mut conn, user.user.id).await?.ok_or(SecurityError::UnknownUser)?;
        drop(conn);
        let (None, Some(sealed)) = (state.enabled_at, state.sealed_secret) else {
            return Err(SecurityError::TotpState);
        };
        let totp = totp(self.open_secret(&sealed)?.0, "", "")?;
        let valid = as_totp_code(code).is_some_and(|c| totp.check(&c, now_secs()).is_some());
        if !valid {
            return Err(SecurityError::field("code", Msg::new("security.totp.invalid_code")));
        }
        let (codes, hashes) = new_recovery_codes();
        let mut tx = self.db.write().await?;
        if !store::enable_totp(&mut tx, user.user.id).await? {
            return Err(SecurityError::TotpState);
        }
        store::replace_recovery_codes(&mut tx, user.user.id, &hashes).await?;
        self.audit(&mut tx, user, "auth.totp_enabled", ip).await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// New recovery codes in place of the old ones (the current password is asked again).
    pub async fn regenerate_recovery_codes(
        &self,
        user: &CurrentUser,
        password: &str,
        ip: Option<&str>,
    ) -> Result<Vec<String>, SecurityError> {
        self.check_password(user, password, ip).await?;
        let mut tx = self.db.write().await?;
        let state = store::totp_state(&mut tx, user.user.id).await?.ok_or(SecurityError::UnknownUser)?;
        if state.enabled_at.is_none() {
            return Err(SecurityError::TotpState);
        }
        let (codes, hashes) = new_recovery_codes();
        store::replace_recovery_codes(&mut tx, user.user.id, &hashes).await?;
        self.audit(&mut tx, user, "auth.totp_recovery_codes_regenerated", ip).await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Turns TOTP off (the current password is asked again). Also cancels an unfinished enrolment.
    pub async fn disable_totp(
        &self,
        user: &CurrentUser,
        password: &str,
        ip: Option<&str>,
    ) -> Result<(), SecurityError> {
        self.check_password(user, password, ip).await?;
        let mut tx = self.db.write().await?;
        store::disable_totp(&mut tx, user.user.id).await?;
        self.audit(&mut tx, user, "auth.totp_disabled", ip).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes TOTP mandatory (or optional again) for every member of the actor's workspace. Needs
    /// [`Permission::ManageSettings`].
    pub async fn set_require_totp(&self, actor: &Actor, on: bool) -> Result<(), SecurityError> {
        actor.require(Permission::ManageSettings)?;
        actor.require_write()?;
        let mut tx = self.db.write().await?;
        settings::put(&mut tx, Scope::Workspace(actor.workspace_id), REQUIRE_TOTP_KEY, if on { "1" } else { "0" })
            .await?;
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id: Some(actor.workspace_id),
                actor_user_id: actor.user_id(),
                actor_label: &actor.label(),
                action: "security.require_totp_changed",
                target: None,
                detail: serde_json::json!({ "required": on }),
                ip: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The sign-in behind a session cookie that still owes its second factor.
    pub async fn pending_sign_in(&self, session_token: &str) -> Result<Option<PendingSignIn>, SecurityError> {
        let mut conn = self.db.read().await?;
        let session = store::session_info(&mut conn, &auth::token_hash(session_token)).await?;
        Ok(session.filter(|s| s.mfa_pending).map(|s| PendingSignIn { csrf_token: s.csrf_token }))
    }

    /// The second sign-in step: a code from the authenticator app (each accepted once) or an unused recovery code
    /// (burnt). Throttled like passwords, and failures count against the account.
    pub async fn complete_sign_in(
        &self,
        session_token: &str,
        code: &str,
        ip: Option<&str>,
    ) -> Result<(), SecurityError> {
        let hash = auth::token_hash(session_token);
        let mut conn = self.db.read().await?;
        let session = store::session_info(&mut conn, &hash).await?.filter(|s| s.mfa_pending);
        let Some(session) = session else { return Err(SecurityError::NotPending) };
        let user = accounts::user_by_id(&mut conn, session.user_id).await?.ok_or(SecurityError::NotPending)?;
        let email_lower = user.email.to_lowercase();
        if let Some(throttled) = throttle::check(&mut conn, &email_lower, ip).await? {
            return Err(SecurityError::Throttled(throttled));
        }
        let state = store::totp_state(&mut conn, user.id).await?.ok_or(SecurityError::NotPending)?;
        drop(conn);
        let (Some(_), Some(sealed)) = (state.enabled_at, state.sealed_secret) else {
            return Err(SecurityError::TotpState);
        };

        let mut tx = self.db.write().await?;
        let (verified, method) = match as_totp_code(code) {
            Some(digits) => {
                let (secret, last_step) = self.open_secret(&sealed)?;
                let accepted = match totp(secret.clone(), "", "")?.check(&digits, now_secs()) {
                    // RFC 6238 §5.2: a code is accepted once, so only a step after the last accepted one counts, and
                    // only if no concurrent sign-in claimed a step meanwhile (the sealed value changed).
                    Some(step) if last_step.is_none_or(|last| step > last) => {
                        let next = self.seal_secret(&secret, Some(step))?;
                        store::replace_totp_secret(&mut tx, user.id, &sealed, next).await?
                    }
                    _ => false,
                };
                (accepted, "totp")
            }
            None => {
                let normalised = normalise_recovery_code(code);
                let used = !normalised.is_empty()
                    && store::use_recovery_code(&mut tx, user.id, &sha256_hex(&normalised)).await?;
                (used, "recovery_code")
            }
        };
        throttle::record(&mut tx, &email_lower, ip, verified).await?;
        if verified {
            let expires_at = now_millis() + i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX / 2);
            store::set_mfa_pending(&mut tx, &hash, false, expires_at).await?;
        }
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id: session.workspace_id,
                actor_user_id: Some(user.id),
                actor_label: &user.email,
                action: if verified { "auth.totp_verified" } else { "auth.totp_failed" },
                target: None,
                detail: serde_json::json!({ "method": method }),
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        if verified { Ok(()) } else { Err(SecurityError::field("code", Msg::new("security.totp.invalid_code"))) }
    }

    /// Checks the signed-in user's password again, throttled and counted like a sign-in.
    async fn check_password(&self, user: &CurrentUser, password: &str, ip: Option<&str>) -> Result<(), SecurityError> {
        let email_lower = user.user.email.to_lowercase();
        let mut conn = self.db.read().await?;
        if let Some(throttled) = throttle::check(&mut conn, &email_lower, ip).await? {
            return Err(SecurityError::Throttled(throttled));
        }
        // The hash as stored now, not as the request started.
        let hash = accounts::user_by_id(&mut conn, user.user.id).await?.and_then(|u| u.password_hash);
        drop(conn);
        let matches = match hash {
            Some(hash) => auth::verify_password(password, &hash).await,
            None => false,
        };
        let mut tx = self.db.write().await?;
        throttle::record(&mut tx, &email_lower, ip, matches).await?;
        tx.commit().await?;
        if matches { Ok(()) } else { Err(SecurityError::field("password", Msg::new("security.password.wrong"))) }
    }

    async fn audit(
        &self,
        conn: &mut Conn,
        user: &CurrentUser,
        action: &str,
        ip: Option<&str>,
    ) -> Result<(), SecurityError> {
        audit::record(
            conn,
            &audit::Entry {
                workspace_id: user.membership.as_ref().map(|m| m.workspace.id),
                actor_user_id: Some(user.user.id),
                actor_label: &user.user.email,
                action,
                target: None,
                detail: serde_json::json!({}),
                ip,
            },
        )
        .await
        .map_err(SecurityError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_rfc_6238() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", truncated to 6 digits.
        let totp = totp(b"12345678901234567890".to_vec(), "Acme: Chat", "a@b.example").unwrap();
        assert_eq!(totp.generate(59).to_string(), "287082");
        assert_eq!(totp.generate(1_111_111_109).to_string(), "081804");
        assert!(totp.check("081804", 1_111_111_109 + 30).is_some(), "one step of clock skew is allowed");
        assert!(totp.check("081804", 1_111_111_109 + 90).is_none());
        let uri = totp.to_url().unwrap();
        assert!(uri.starts_with("otpauth://totp/Acme%20%20Chat:a%40b.example?secret="), "{uri}");
        assert!(!uri.contains("algorithm=") && !uri.contains("digits=") && !uri.contains("period="), "defaults: {uri}");
    }

    #[test]
    fn the_qr_code_is_inline_svg_without_style() {
        let svg =
            qr_svg("otpauth://totp/Acme:a%40b.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme").unwrap();
        assert!(svg.starts_with("<svg class=\"totp-qr\""), "{}", &svg[..60]);
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("style") && !svg.contains("<script") && !svg.contains("<?xml"));
    }

    #[test]
    fn recovery_codes_are_random_and_hashed_normalised() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(hashes.len(), RECOVERY_CODES);
        assert_eq!(codes[0].len(), 23, "{}", codes[0]);
        let typed = codes[0].to_lowercase().replace('-', " ");
        assert_eq!(sha256_hex(&normalise_recovery_code(&typed)), hashes[0]);
        let unique: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
    }

    #[test]
    fn the_last_step_travels_sealed_with_the_secret() {
        let key = DataKey::generate();
        let secret = [7u8; SECRET_LEN];
        let fresh = seal_secret(&key, &secret, None);
        assert_eq!(open_secret(&key, &fresh).unwrap(), (secret.to_vec(), None));
        let used = seal_secret(&key, &secret, Some(58_000_123));
        assert_eq!(open_secret(&key, &used).unwrap(), (secret.to_vec(), Some(58_000_123)));
        assert!(!used.windows(SECRET_LEN).any(|w| w == secret), "sealed, not in clear");
        assert!(open_secret(&DataKey::generate(), &used).is_err(), "another instance's key does not open it");
    }

    #[test]
    fn six_digits_are_a_totp_code() {
        assert_eq!(as_totp_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(as_totp_code("12345"), None);
        assert_eq!(as_totp_code("ABCDE-12345"), None);
        assert_eq!(group_by_four("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
