//! API keys of a workspace: created by its admins (or the owner from the CLI), shown once, stored as a SHA-256
//! hash, revoked at once. [`ApiKeyService::authenticate`] turns a presented key into the [`Actor`] (and, for keys the
//! instance owner made with the admin scope, the [`Owner`]) the JSON API acts as.
//!
//! A key reads `cvk_<prefix>_<secret>`: 8 random lowercase letters and digits that lists show, then 32 random bytes
//! in base64url. It has 256 bits of entropy, so a plain SHA-256 is as strong as a slow hash here and keeps lookups to
//! one indexed read.

use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::domain::identity::display_name;
use crate::domain::msg::Msg;
use crate::domain::role::{Permission, Scope};
use crate::services::access::{AccessError, Actor, Principal};
use crate::services::workspaces::Owner;
use crate::store::api_keys::{self, ApiKey, NewApiKey};
use crate::store::{Conn, Db, StoreError, accounts, audit, now_millis};

/// What every key starts with.
pub const KEY_START: &str = "cvk_";
/// Characters of the public prefix.
const PREFIX_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const PREFIX_LEN: usize = 8;
/// Longer header values are refused without a database read (a real key is 56 characters).
const MAX_KEY_LEN: usize = 128;
/// `last_used_at` is written at most this often per key, to keep writes off the request path.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A key to create.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub name: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
}

/// A key just created, with its full text: the only time it is available.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key: ApiKey,
    /// `cvk_<prefix>_<secret>`; show once, never log.
    pub secret: String,
}

/// Who a presented key acts as.
#[derive(Debug, Clone)]
pub struct KeyCaller {
    /// The key inside its workspace.
    pub actor: Actor,
    /// Set for an admin-scope key created by the instance owner: it may also use the owner endpoints.
    pub owner: Option<Owner>,
}

/// What `GET /api/v1/me` shows: the key and its workspace.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub workspace: accounts::Workspace,
    pub key: ApiKey,
    pub owner: bool,
}

/// Why an API key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error(transparent)]
    Access(#[from] AccessError),
    /// No such key (or workspace) here: 404, whether or not it exists elsewhere.
    #[error("not found")]
    NotFound,
    /// Field name → what is wrong.
    #[error("invalid input")]
    Fields(Vec<(&'static str, Msg)>),
    /// No key, an unknown key or a revoked key (401).
    #[error("unauthenticated")]
    Unauthenticated,
    /// The key's workspace is suspended (403).
    #[error("workspace suspended")]
    Suspended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The SHA-256 of a whole key, in hex: what the database keeps.
fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A fresh key: its public prefix and its full text.
fn generate() -> (String, String) {
    let mut rng = rand::rng();
    let prefix: String =
        (0..PREFIX_LEN).map(|_| char::from(PREFIX_CHARS[rng.random_range(0..PREFIX_CHARS.len())])).collect();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let full = format!("{KEY_START}{prefix}_{secret}");
    (prefix, full)
}

fn validate(new: &NewKey) -> Result<(String, Scope), ApiKeyError> {
    let mut errors = Vec::new();
    let name = display_name(&new.name).map_err(|m| errors.push(("name", m))).ok();
    let scope = Scope::parse(&new.scope);
    if scope.is_none() {
        errors.push(("scope", Msg::new("api.scope_invalid")));
    }
    match (name, scope) {
        (Some(name), Some(scope)) => Ok((name, scope)),
        _ => Err(ApiKeyError::Fields(errors)),
    }
}

pub struct ApiKeyService {
    db: Db,
}

impl ApiKeyService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Authenticates a request's key. `method` and `path` are written to the audit log for admin-scope keys (every
    /// request made with one is audited). Unknown and revoked keys are alike: [`ApiKeyError::Unauthenticated`].
    pub async fn authenticate(&self, presented: &str, method: &str, path: &str) -> Result<KeyCaller, ApiKeyError> {
        let presented = presented.trim();
        if !presented.starts_with(KEY_START) || presented.len() > MAX_KEY_LEN {
            return Err(ApiKeyError::Unauthenticated);
        }
        let mut conn = self.db.read().await?;
        let found = api_keys::by_hash(&mut conn, &hash_key(presented)).await?;
        drop(conn);
        let Some(found) = found.filter(|f| f.key.revoked_at.is_none()) else {
            return Err(ApiKeyError::Unauthenticated);
        };
        let Some(scope) = Scope::parse(&found.key.scope) else { return Err(ApiKeyError::Unauthenticated) };
        if found.workspace_status != "active" {
            return Err(ApiKeyError::Suspended);
        }
        let actor = Actor::api_key(found.key.id, &found.key.name, scope, found.key.workspace_id);
        let owner = match (&found.creator, found.key.created_by_user_id) {
            (Some((email, true)), Some(user_id)) if scope == Scope::Admin => Some(Owner::user(user_id, email)),
            _ => None,
        };

        let now = now_millis();
        let stale = found.key.last_used_at.is_none_or(|at| at < now - TOUCH_EVERY_MS);
        if stale || actor.is_admin_key() {
            let mut tx = self.db.write().await?;
            if stale {
                api_keys::touch(&mut tx, found.key.id, now, now - TOUCH_EVERY_MS).await?;
            }
            if actor.is_admin_key() {
                let detail = serde_json::json!({ "method": method, "path": path });
                actor.audit(&mut tx, "api.admin_request", path, detail).await?;
            }
            tx.commit().await?;
        }
        Ok(KeyCaller { actor, owner })
    }

    /// Whether a key still opens its workspace (not revoked, the workspace active): long-lived streams ask this
    /// now and then. Nothing is recorded; a database error answers yes, so a blip does not end a stream.
    pub async fn still_valid(&self, presented: &str) -> bool {
        let found = async {
            let mut conn = self.db.read().await?;
            api_keys::by_hash(&mut conn, &hash_key(presented.trim())).await
        };
        match found.await {
            Ok(Some(found)) => found.key.revoked_at.is_none() && found.workspace_status == "active",
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// The calling key and its workspace.
    pub async fn me(&self, actor: &Actor) -> Result<KeyInfo, ApiKeyError> {
        let Principal::ApiKey { key_id, .. } = actor.principal else { return Err(ApiKeyError::NotFound) };
        let mut conn = self.db.read().await?;
        let key = api_keys::get(&mut conn, actor.workspace_id, key_id).await?.ok_or(ApiKeyError::NotFound)?;
        let workspace = accounts::workspace_by_id(&mut conn, actor.workspace_id).await?.ok_or(ApiKeyError::NotFound)?;
        let owner = match key.created_by_user_id {
            Some(user_id) if key.scope == Scope::Admin.as_str() => {
                accounts::user_by_id(&mut conn, user_id).await?.is_some_and(|u| u.is_owner)
            }
            _ => false,
        };
        Ok(KeyInfo { workspace, key, owner })
    }

    /// The workspace's keys, newest first, revoked ones included.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<ApiKey>, ApiKeyError> {
        actor.require(Permission::ManageApiKeys)?;
        let mut conn = self.db.read().await?;
        Ok(api_keys::list(&mut conn, actor.workspace_id).await?)
    }

    /// Creates a key in the actor's workspace. A signed-in user is recorded as its creator (an admin-scope key made
    /// by the instance owner is an owner key); keys made through the API have no creator.
    pub async fn create(&self, actor: &Actor, new: &NewKey) -> Result<CreatedKey, ApiKeyError> {
        actor.require(Permission::ManageApiKeys)?;
        actor.require_write()?;
        let (name, scope) = validate(new)?;
        let mut tx = self.db.write().await?;
        let created = insert(&mut tx, actor.workspace_id, &name, scope, actor.user_id()).await?;
        let detail = serde_json::json!({ "id": created.key.id, "prefix": created.key.prefix, "scope": scope.as_str() });
        actor.audit(&mut tx, "api_key.created", &name, detail).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Revokes a key of the actor's workspace at once; revoking a revoked key changes nothing.
    pub async fn revoke(&self, actor: &Actor, key_id: i64) -> Result<(), ApiKeyError> {
        actor.require(Permission::ManageApiKeys)?;
        actor.require_write()?;
        let mut tx = self.db.write().await?;
        let key = api_keys::get(&mut tx, actor.workspace_id, key_id).await?.ok_or(ApiKeyError::NotFound)?;
        if api_keys::revoke(&mut tx, actor.workspace_id, key_id, now_millis()).await? {
            let detail = serde_json::json!({ "id": key.id, "prefix": key.prefix, "scope": key.scope });
            actor.audit(&mut tx, "api_key.revoked", &key.name, detail).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The owner creates a key for a workspace named by its slug (the CLI). Such keys have no creator user, so they
    /// are never owner keys, whoever runs the command.
    pub async fn create_for_workspace(
        &self,
        owner: &Owner,
        slug: &str,
        new: &NewKey,
    ) -> Result<CreatedKey, ApiKeyError> {
        let (name, scope) = validate(new)?;
        let mut tx = self.db.write().await?;
        let workspace = accounts::workspace_by_slug(&mut tx, slug.trim()).await?.ok_or(ApiKeyError::NotFound)?;
        let created = insert(&mut tx, workspace.id, &name, scope, None).await?;
        let entry = audit::Entry {
            workspace_id: Some(workspace.id),
            actor_user_id: owner.user_id,
            actor_label: &owner.label,
            action: "api_key.created",
            target: Some(&name),
            detail: serde_json::json!({ "id": created.key.id, "prefix": created.key.prefix, "scope": scope.as_str() }),
            ip: None,
        };
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(created)
    }
}

async fn insert(
    conn: &mut Conn,
    workspace_id: i64,
    name: &str,
    scope: Scope,
    created_by_user_id: Option<i64>,
) -> Result<CreatedKey, ApiKeyError> {
    let (prefix, secret) = generate();
    let new = NewApiKey {
        workspace_id,
        name,
        prefix: &prefix,
        key_hash: &hash_key(&secret),
        scope: scope.as_str(),
        created_by_user_id,
        created_at: now_millis(),
    };
    let id = api_keys::create(conn, &new).await?;
    let key = api_keys::get(conn, workspace_id, id).await?.ok_or(ApiKeyError::NotFound)?;
    Ok(CreatedKey { key, secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape() {
        let (prefix, key) = generate();
        assert_eq!(prefix.len(), 8);
        assert!(prefix.bytes().all(|b| PREFIX_CHARS.contains(&b)));
        let secret = key.strip_prefix(&format!("cvk_{prefix}_")).unwrap_or_default();
        assert_eq!(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(secret).map(|b| b.len()).ok(), Some(32));
        assert_eq!(hash_key(&key).len(), 64);
        assert_ne!(generate().1, key);
    }

    #[test]
    fn names_and_scopes_are_checked() {
        let bad = validate(&NewKey { name: " ".into(), scope: "root".into() });
        let Err(ApiKeyError::Fields(fields)) = bad else { panic!("expected field errors") };
        assert_eq!(fields.iter().map(|(f, _)| *f).collect::<Vec<_>>(), ["name", "scope"]);
        assert!(validate(&NewKey { name: "Zapier".into(), scope: "write".into() }).is_ok());
    }
}
