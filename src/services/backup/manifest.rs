//! What a backup archive says about itself: the header written first, the manifest written last, and the sealed
//! configuration secrets it carries.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::crypt::{self, CryptError, SealingKey};
use crate::crypto::DataKey;
use crate::store::transfer::ExportSummary;

/// The archive layout version this build writes and the only one it reads.
pub const FORMAT: u32 = 1;

/// Why a backup was taken; retention treats the kinds differently (scheduled pruning never touches manual backups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupKind {
    Manual,
    Scheduled,
    PreUpdate,
    PreRestore,
}

impl BackupKind {
    pub const ALL: [BackupKind; 4] = [Self::Manual, Self::Scheduled, Self::PreUpdate, Self::PreRestore];

    /// The stable name used in manifests, file names, the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Scheduled => "scheduled",
            Self::PreUpdate => "pre-update",
            Self::PreRestore => "pre-restore",
        }
    }

    /// The kind named by [`BackupKind::as_str`], if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Everything known about a backup before its data is written; stored as the archive's first entry so a listing or
/// a restore can show it without reading the whole archive, and repeated in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub app_version: String,
    pub schema_version: i64,
    /// `sqlite` or `postgres`: the backend the backup was taken from.
    pub backend: String,
    pub instance_id: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub kind: BackupKind,
    /// Format, schema version and row counts per table of the logical export.
    pub logical: ExportSummary,
    /// Whether `database/sqlite.db` (a physical SQLite snapshot) is in the archive.
    pub physical_database: bool,
    pub media_files: u64,
    pub secrets: SealedSecrets,
}

/// One data entry of the archive, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// The archive's last entry: the header again and the size and checksum of every other entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub header: Header,
    pub entries: Vec<Entry>,
}

/// The configuration secrets a backup carries, never in the clear.
///
/// The session secret is sealed with the instance's encryption key, so it opens wherever that key is known. The
/// encryption key itself travels only when the archive has a passphrase, sealed with it: without a passphrase the
/// archive restores only where the same key is configured (checked through the fingerprint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedSecrets {
    /// sha256 hex of the instance encryption key's bytes (never the key).
    pub key_fingerprint: String,
    /// Sealed with the instance encryption key (base64).
    pub session_secret: Option<String>,
    /// Sealed with the archive passphrase (base64); `None` without a passphrase.
    pub encryption_key: Option<String>,
}

/// The secrets recovered from a backup, wiped from memory on drop.
pub struct OpenedSecrets {
    /// The instance encryption key (base64), as configured when the backup was taken.
    pub encryption_key: Zeroizing<String>,
    pub session_secret: Option<Zeroizing<String>>,
}

/// Associated-data labels: a sealed value only opens for the purpose it was sealed for.
const SESSION_SECRET_PURPOSE: &[u8] = b"backup.session_secret";
const ENCRYPTION_KEY_PURPOSE: &[u8] = b"backup.encryption_key";

/// Why the secrets of a backup could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "this backup was made with a different encryption key: restore it with the archive's passphrase, or set the \
         original encryption_key first"
    )]
    ForeignKey,
    #[error("the instance encryption key is not configured")]
    NoKey,
    #[error("the backup's secrets do not open: {0}")]
    Crypt(#[from] CryptError),
}

/// sha256 hex of a data key's bytes, to recognise the key without storing it.
pub fn key_fingerprint(key: &DataKey) -> String {
    use base64::Engine as _;
    let encoded = key.to_base64();
    // A DataKey's base64 always decodes; hashing the text instead would only be reached if that ever changed.
    let bytes =
        Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()).unwrap_or_default());
    let digest = if bytes.is_empty() { Sha256::digest(encoded.as_bytes()) } else { Sha256::digest(bytes.as_slice()) };
    hex::encode(digest)
}

impl SealedSecrets {
    /// Seals the instance's secrets for a backup: the session secret with the instance key, and the key itself with
    /// the passphrase when there is one.
    pub fn seal(key: &DataKey, session_secret: Option<&str>, passphrase: Option<&str>) -> Result<Self, SecretsError> {
        let session_secret = session_secret
            .map(|secret| crypt::seal_secret(SealingKey::DataKey(key), SESSION_SECRET_PURPOSE, secret))
            .transpose()?;
        let encryption_key = passphrase
            .map(|phrase| crypt::seal_secret(SealingKey::Passphrase(phrase), ENCRYPTION_KEY_PURPOSE, &key.to_base64()))
            .transpose()?;
        Ok(Self { key_fingerprint: key_fingerprint(key), session_secret, encryption_key })
    }

    /// Recovers the secrets on restore: from the passphrase when the archive carries the key, otherwise from the
    /// currently configured key if it is the one the backup was made with.
    pub fn open(&self, passphrase: Option<&str>, current_key: Option<&DataKey>) -> Result<OpenedSecrets, SecretsError> {
        let encryption_key = match (&self.encryption_key, passphrase, current_key) {
            (Some(sealed), Some(phrase), _) => {
                crypt::open_secret(SealingKey::Passphrase(phrase), ENCRYPTION_KEY_PURPOSE, sealed)?
            }
            (_, _, Some(key)) if key_fingerprint(key) == self.key_fingerprint => key.to_base64(),
            (_, _, Some(_)) => return Err(SecretsError::ForeignKey),
            (_, _, None) => return Err(SecretsError::NoKey),
        };
        let key = DataKey::from_base64(&encryption_key).map_err(|_| CryptError::SecretMismatch)?;
        if key_fingerprint(&key) != self.key_fingerprint {
            return Err(SecretsError::ForeignKey);
        }
        let session_secret = self
            .session_secret
            .as_deref()
            .map(|sealed| crypt::open_secret(SealingKey::DataKey(&key), SESSION_SECRET_PURPOSE, sealed))
            .transpose()?;
        Ok(OpenedSecrets { encryption_key, session_secret })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in BackupKind::ALL {
            assert_eq!(BackupKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(BackupKind::parse("weekly"), None);
    }

    #[test]
    fn secrets_open_with_the_passphrase_on_another_instance() {
        let key = DataKey::generate();
        let sealed = SealedSecrets::seal(&key, Some("session-xyz"), Some("correct horse")).unwrap();
        assert!(!serde_json::to_string(&sealed).unwrap().contains("session-xyz"));
        assert!(!serde_json::to_string(&sealed).unwrap().contains(key.to_base64().as_str()));

        let other = DataKey::generate();
        let opened = sealed.open(Some("correct horse"), Some(&other)).unwrap();
        assert_eq!(opened.encryption_key.as_str(), key.to_base64().as_str());
        assert_eq!(opened.session_secret.as_deref().map(String::as_str), Some("session-xyz"));

        assert!(matches!(sealed.open(Some("wrong"), Some(&other)), Err(SecretsError::Crypt(_))));
    }

    #[test]
    fn secrets_without_passphrase_need_the_same_key() {
        let key = DataKey::generate();
        let sealed = SealedSecrets::seal(&key, Some("s"), None).unwrap();
        assert_eq!(sealed.encryption_key, None);
        let opened = sealed.open(None, Some(&key)).unwrap();
        assert_eq!(opened.session_secret.as_deref().map(String::as_str), Some("s"));
        assert!(matches!(sealed.open(None, Some(&DataKey::generate())), Err(SecretsError::ForeignKey)));
        assert!(matches!(sealed.open(None, None), Err(SecretsError::NoKey)));
    }
}
