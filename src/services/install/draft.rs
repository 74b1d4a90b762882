//! The wizard's answers so far, kept in `install-draft.json` (mode 0600) so a restart mid-setup resumes where it was.
//! Passwords are never kept in clear: the admin's as its argon2 hash, the SMTP one sealed with the new data key.

use serde::{Deserialize, Serialize};

use crate::config::DataDir;
use crate::config::write::write_atomically;
use crate::crypto::DataKey;

/// Where the draft lives.
pub fn path(data_dir: &DataDir) -> std::path::PathBuf {
    data_dir.root().join("install-draft.json")
}

/// Which database the instance will use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DatabaseChoice {
    /// The SQLite file in the data directory.
    Sqlite,
    /// A Postgres database (the URL may hold a password; the draft file is private to the service user).
    Postgres { url: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteDraft {
    pub name: String,
    pub public_url: String,
    pub timezone: String,
    pub language: String,
    /// Serve HTTPS for the public address's domain with an automatic certificate (written to `config.toml`).
    #[serde(default)]
    pub https: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminDraft {
    pub workspace_name: String,
    pub workspace_slug: String,
    pub name: String,
    pub email: String,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EmailDraft {
    Skipped,
    /// The `smtp.*` settings as they will be stored (password already sealed).
    Configured {
        settings: Vec<(String, String)>,
    },
}

/// Secrets generated once per setup; shown in the recovery kit before they are committed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    pub session_secret: String,
    pub encryption_key: String,
    pub recovery_code: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets([redacted])")
    }
}

impl Secrets {
    fn generate() -> Self {
        use base64::Engine;
        let session: [u8; 32] = rand::random();
        let code = hex::encode_upper(rand::random::<[u8; 10]>());
        // Groups of five for reading aloud or typing from paper.
        let recovery_code =
            code.as_bytes().chunks(5).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-");
        Self {
            session_secret: base64::engine::general_purpose::STANDARD.encode(session),
            encryption_key: DataKey::generate().to_base64().to_string(),
            recovery_code,
        }
    }

    /// The data key these secrets hold.
    pub fn data_key(&self) -> Result<DataKey, crate::crypto::CryptoError> {
        DataKey::from_base64(&self.encryption_key)
    }
}

/// A one-time admin recovery code: 80 random bits as four groups of five hex digits, for reading from paper.
pub fn new_recovery_code() -> String {
    let code = hex::encode_upper(rand::random::<[u8; 10]>());
    code.as_bytes().chunks(5).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

/// Everything answered so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub instance_id: String,
    pub requirements_ok: bool,
    pub database: Option<DatabaseChoice>,
    /// The license as stored (see `crate::license::License::to_stored`).
    pub license: Option<String>,
    pub site: Option<SiteDraft>,
    pub admin: Option<AdminDraft>,
    pub email: Option<EmailDraft>,
    pub kit_downloaded: bool,
    pub secrets: Secrets,
}

impl Draft {
    /// A new setup with fresh secrets.
    pub fn new() -> Self {
        Self {
            instance_id: uuid::Uuid::new_v4().to_string(),
            requirements_ok: false,
            database: None,
            license: None,
            site: None,
            admin: None,
            email: None,
            kit_downloaded: false,
            secrets: Secrets::generate(),
        }
    }

    /// The saved draft, or a new one when there is none (or it cannot be read: setup then starts over).
    pub fn load(data_dir: &DataDir) -> Self {
        std::fs::read(path(data_dir)).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
    }

    /// Saves atomically.
    pub fn save(&self, data_dir: &DataDir) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomically(&path(data_dir), &text)
    }

    /// Removes the file once the setup is committed.
    pub fn remove(data_dir: &DataDir) {
        let _ = std::fs::remove_file(path(data_dir));
    }
}

impl Default for Draft {
    fn default() -> Self {
        Self::new()
    }
}
