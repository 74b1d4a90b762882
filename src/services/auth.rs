//! Signing in and out: password hashing (argon2id), server-side sessions, and who the current user is.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

use crate::domain::identity::Email;
use crate::domain::msg::Msg;
use crate::store::accounts::{self, Membership, User};
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    pub fn msg(&self) -> Msg {
        match self {
            Self::InvalidCredentials => Msg::new("auth.invalid_credentials"),
            Self::Inactive => Msg::new("auth.inactive"),
            Self::Store(_) => Msg::new("error.database_unavailable"),
        }
    }
}

/// A new session: the cookie token (shown once, stored hashed) and its CSRF token.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

/// The signed-in user, as every page needs it.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    /// The workspace the session is in, with the user's role there.
    pub membership: Option<Membership>,
    pub csrf_token: String,
}

/// Sign-in and sessions.
pub struct AuthService {
    db: Db,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
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
        let mut conn = self.db.read().await?;
        let user = accounts::user_by_email(&mut conn, &lookup).await?;
        let memberships = match &user {
            Some(user) => accounts::memberships_of(&mut conn, user.id).await?,
            None => Vec::new(),
        };
        drop(conn);
        let hash = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.to_owned());
        let matches = verify_password(password, &hash).await;
        let mut tx = self.db.write().await?;
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
        if user.status != "active" {
            return Err(AuthError::Inactive);
        }
        let session = NewSession { token: random_token(), csrf_token: random_token() };
        let workspace_id = memberships.first().map(|m| m.workspace.id);
        let expires_at = now_millis() + i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX / 2);
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
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id,
                actor_user_id: Some(user.id),
                actor_label: &user.email,
                action: "auth.sign_in",
                target: None,
                detail: serde_json::json!({}),
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The user behind a session cookie, if the session is live.
    pub async fn current(&self, token: &str) -> Result<Option<CurrentUser>, StoreError> {
        let mut conn = self.db.read().await?;
        let Some(session) = sessions::find(&mut conn, &token_hash(token)).await? else { return Ok(None) };
        let Some(user) = accounts::user_by_id(&mut conn, session.user_id).await? else { return Ok(None) };
        if user.status != "active" {
            return Ok(None);
        }
        // Only a workspace the user still belongs to: a removed membership ends access at once.
        let membership = accounts::memberships_of(&mut conn, user.id)
            .await?
            .into_iter()
            .find(|m| Some(m.workspace.id) == session.workspace_id);
        Ok(Some(CurrentUser { user, membership, csrf_token: session.csrf_token }))
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
