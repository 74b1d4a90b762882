//! Signing in and out: password hashing (argon2id), server-side sessions, and who the current user is.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

use crate::domain::identity::Email;
use crate::domain::msg::Msg;
use crate::services::security::throttle::{self, Throttled};
use crate::store::accounts::{self, Membership, User};
use crate::store::security as security_store;
use crate::store::{Db, StoreError, audit, now_millis, sessions};

/// How long a session lasts without signing in again.
pub const SESSION_TTL: Duration = Duration::from_secs(14 * 24 * 3600);

/// Hashes a password with argon2id (OWASP's parameters: 19 MiB, 2 passes); CPU-heavy, so off the async workers.
pub async fn hash_password(password: &str) -> Result<String, String> {
    let password = zeroize::Zeroizing::new(password.to_owned());
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Checks a password against a stored hash; a malformed hash never matches.
pub async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (zeroize::Zeroizing::new(password.to_owned()), hash.to_owned());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash of nothing anybody knows, checked when the email is unknown so both failures take the same time.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4hUHsBnGmiMaIbQIy0bL1kcOyqHcaSUv7L6KMjmt5xw";

/// Why signing in failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown email or wrong password: the same answer for both, so emails cannot be probed.
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("the account is deactivated")]
    Inactive,
    /// Too many failed sign-ins lately; refused before the password is checked.
    #[error("too many failed sign-ins")]
    Throttled(Throttled),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    pub fn msg(&self) -> Msg {
        match self {
            Self::InvalidCredentials => Msg::new("auth.invalid_credentials"),
            Self::Inactive => Msg::new("auth.inactive"),
            Self::Throttled(t) => t.msg(),
            Self::Store(_) => Msg::new("error.database_unavailable"),
        }
    }
}

/// A new session: the cookie token (shown once, stored hashed) and its CSRF token.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    /// The password was right but the user has TOTP on: the session counts only after `/login/totp`.
    pub mfa_pending: bool,
}

/// The signed-in user, as every page needs it.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    /// The workspace the session is in, with the user's role there.
    pub membership: Option<Membership>,
    pub csrf_token: String,
    /// The workspace requires TOTP and the user has none: every page but enrolment sends them to enrol.
    pub must_enroll_totp: bool,
}

/// Sign-in and sessions.
pub struct AuthService {
    db: Db,
}

/// What the database stores for a session (or link) token: its SHA-256, hex.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes, base64url: session and one-time link tokens.
pub(crate) fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

impl AuthService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Checks email and password and opens a session in the user's first workspace.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<NewSession, AuthError> {
        let lookup = Email::parse(email).map(|e| e.lookup).unwrap_or_default();
        let attempt_key = throttle::attempt_email(email);
        let mut conn = self.db.read().await?;
        // Refused before the password is checked, so a locked account cannot be guessed at.
        if let Some(throttled) = throttle::check(&mut conn, &attempt_key, ip).await? {
            drop(conn);
            self.audit_throttled(&attempt_key, throttled, ip).await?;
            return Err(AuthError::Throttled(throttled));
        }
        let user = accounts::user_by_email(&mut conn, &lookup).await?;
        let (memberships, totp_on) = match &user {
            Some(user) => (
                accounts::memberships_of(&mut conn, user.id).await?,
                security_store::totp_state(&mut conn, user.id).await?.is_some_and(|t| t.enabled_at.is_some()),
            ),
            None => (Vec::new(), false),
        };
        drop(conn);
        let hash = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.to_owned());
        let matches = verify_password(password, &hash).await;
        let mut tx = self.db.write().await?;
        let active = user.as_ref().is_some_and(|u| u.status == "active");
        throttle::record(&mut tx, &attempt_key, ip, matches && active).await?;
        let (Some(user), true) = (user, matches) else {
            audit::record(
                &mut tx,
                &audit::Entry {
                    workspace_id: None,
                    actor_user_id: None,
                    actor_label: &lookup,
                    action: "auth.sign_in_failed",
                    target: None,
                    detail: serde_json::json!({}),
                    ip,
                },
            )
            .await?;
            tx.commit().await?;
            return Err(AuthError::InvalidCredentials);
        };
        if !active {
            tx.commit().await?;
            return Err(AuthError::Inactive);
        }
        let session = NewSession { token: random_token(), csrf_token: random_token(), mfa_pending: totp_on };
        let workspace_id = memberships.first().map(|m| m.workspace.id);
        let expires_at = if totp_on {
            now_millis() + crate::services::security::PENDING_TTL_MS
        } else {
            now_millis() + i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX / 2)
        };
        sessions::create(
            &mut tx,
            &sessions::NewSession {
                token_hash: &token_hash(&session.token),
                user_id: user.id,
                workspace_id,
                csrf_token: &session.csrf_token,
                ip,
                user_agent,
                expires_at,
            },
        )
        .await?;
        if totp_on {
            security_store::set_mfa_pending(&mut tx, &token_hash(&session.token), true, expires_at).await?;
        }
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id,
                actor_user_id: Some(user.id),
                actor_label: &user.email,
                action: "auth.sign_in",
                target: None,
                detail: if totp_on { serde_json::json!({ "second_factor": "pending" }) } else { serde_json::json!({}) },
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(session)
    }

    async fn audit_throttled(
        &self,
        attempt_key: &str,
        throttled: Throttled,
        ip: Option<&str>,
    ) -> Result<(), StoreError> {
        let per_ip = matches!(throttled, Throttled::Ip { .. });
        let mut tx = self.db.write().await?;
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id: None,
                actor_user_id: None,
                actor_label: attempt_key,
                action: "auth.sign_in_throttled",
                target: None,
                detail: serde_json::json!({ "minutes": throttled.minutes(), "per_ip": per_ip }),
                ip,
            },
        )
        .await?;
        tx.commit().await
    }

    /// The user behind a session cookie, if the session is live and fully signed in (a session still owing its TOTP
    /// code is not). Records activity at most once a minute.
    pub async fn current(&self, token: &str) -> Result<Option<CurrentUser>, StoreError> {
        let hash = token_hash(token);
        let mut conn = self.db.read().await?;
        let Some(session) = security_store::session_info(&mut conn, &hash).await? else { return Ok(None) };
        if session.mfa_pending {
            return Ok(None);
        }
        let Some(user) = accounts::user_by_id(&mut conn, session.user_id).await? else { return Ok(None) };
        if user.status != "active" {
            return Ok(None);
        }
        // Only a workspace the user still belongs to: a removed membership ends access at once.
        // The session's workspace, or (when it was deleted, or the user left it) the user's first one.
        let memberships = accounts::memberships_of(&mut conn, user.id).await?;
        let membership = memberships
            .iter()
            .find(|m| Some(m.workspace.id) == session.workspace_id)
            .or_else(|| memberships.first())
            .cloned();
        drop(conn);
        let minute_ago = now_millis() - 60_000;
        if session.last_seen_at <= minute_ago {
            // Best effort: a busy database must not turn page views into errors.
            let touched = async {
                let mut tx = self.db.write().await?;
                security_store::touch_session(&mut tx, &hash, minute_ago).await?;
                tx.commit().await
            };
            if let Err(e) = touched.await {
                tracing::warn!(error = %e, "could not record session activity");
            }
        }
        let must_enroll_totp = session.totp_required && !session.totp_enabled;
        Ok(Some(CurrentUser { user, membership, csrf_token: session.csrf_token, must_enroll_totp }))
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &str) -> Result<(), StoreError> {
        let mut tx = self.db.write().await?;
        sessions::delete(&mut tx, &token_hash(token)).await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let a = hash_password("correct horse battery staple").await.unwrap();
        let b = hash_password("correct horse battery staple").await.unwrap();
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &a).await);
        assert!(!verify_password("wrong", &a).await);
        assert!(!verify_password("x", "not a hash").await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok(), "the dummy hash parses, so unknown emails cost a real verify");
    }
}

/// Why an admin recovery failed.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("the recovery code or email is wrong")]
    Refused,
    #[error("{0}")]
    WeakPassword(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl AuthService {
    /// Resets the instance owner's password with the one-time recovery code from the recovery kit. The code is used
    /// up; a new one is returned (and must be written into the kit in its place).
    pub async fn recover_owner(&self, email: &str, code: &str, new_password: &str) -> Result<String, RecoveryError> {
        use crate::store::settings::{self, Scope};
        const KEY: &str = "admin.recovery_code_hash";
        let lookup = Email::parse(email).map(|e| e.lookup).unwrap_or_default();
        let mut conn = self.db.read().await?;
        let hash = settings::get(&mut conn, Scope::Instance, KEY).await?.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let user = accounts::user_by_email(&mut conn, &lookup).await?;
        drop(conn);
        let code_ok = verify_password(&code.trim().to_ascii_uppercase(), &hash).await;
        let Some(user) = user.filter(|u| u.is_owner && code_ok) else { return Err(RecoveryError::Refused) };
        crate::domain::password::check(new_password, &[&user.email, &user.name])
            .map_err(|m| RecoveryError::WeakPassword(m.render(crate::i18n::Lang::En)))?;
        let password_hash = hash_password(new_password).await.map_err(RecoveryError::Internal)?;
        let next_code = crate::services::install::new_recovery_code();
        let next_hash = hash_password(&next_code).await.map_err(RecoveryError::Internal)?;
        let mut tx = self.db.write().await?;
        accounts::set_password_hash(&mut tx, user.id, &password_hash).await?;
        settings::put(&mut tx, Scope::Instance, KEY, &next_hash).await?;
        sessions::delete_for_user(&mut tx, user.id).await?;
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id: None,
                actor_user_id: Some(user.id),
                actor_label: "cli",
                action: "auth.owner_recovered",
                target: Some(&user.email),
                detail: serde_json::json!({}),
                ip: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(next_code)
    }
}
