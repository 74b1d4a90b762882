//! Writing `config.toml` atomically: a crash or full disk leaves either the old file or the new one, never half.

use std::io::Write;
use std::path::Path;

use super::{DataDir, FileConfig};

/// What the file held before a write, so a failed install can put it back.
#[derive(Debug, Clone)]
pub struct PreviousConfig(Option<String>);

/// Merges `change` into the current `config.toml` and writes it atomically (mode 0600: it holds secrets).
/// Returns the previous content for [`restore`].
pub fn update(data_dir: &DataDir, change: impl FnOnce(&mut FileConfig)) -> std::io::Result<PreviousConfig> {
    let path = data_dir.config_file();
    let previous = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mut config = match &previous {
        Some(text) => {
            FileConfig::parse(text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?
        }
        None => FileConfig::default(),
    };
    change(&mut config);
    write_atomically(&path, &render(&config)?)?;
    Ok(PreviousConfig(previous))
}

/// Puts back what [`update`] replaced (or removes the file it created).
pub fn restore(data_dir: &DataDir, previous: &PreviousConfig) -> std::io::Result<()> {
    let path = data_dir.config_file();
    match &previous.0 {
        Some(text) => write_atomically(&path, text),
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// Writes beside the target, syncs, renames over it and syncs the directory.
pub fn write_atomically(path: &Path, content: &str) -> std::io::Result<()> {
    let staging = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&staging)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&staging, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Every key that is set, in the struct's order (a key missing here would be silently dropped from the file by
/// the next write, so the test below sets them all).
fn render(config: &FileConfig) -> std::io::Result<String> {
    let body = toml::to_string(config).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok(format!("# Conversure configuration. Environment variables and flags override these values.\n{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_round_trip_and_restore() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        std::fs::write(data_dir.config_file(), "listen = \"127.0.0.1:1\"\n").unwrap();
        let previous = update(&data_dir, |c| c.database_url = Some("postgres://u:p\"w\\@h/db\n".into())).unwrap();
        let parsed = FileConfig::parse(&std::fs::read_to_string(data_dir.config_file()).unwrap()).unwrap();
        assert_eq!(parsed.listen.as_deref(), Some("127.0.0.1:1"), "other keys are kept");
        assert_eq!(parsed.database_url.as_deref(), Some("postgres://u:p\"w\\@h/db\n"), "escaping round-trips");
        restore(&data_dir, &previous).unwrap();
        assert_eq!(std::fs::read_to_string(data_dir.config_file()).unwrap(), "listen = \"127.0.0.1:1\"\n");
    }

    #[test]
    fn every_key_survives_a_write() {
        let text = |v: &str| Some(v.to_owned());
        let full = FileConfig {
            listen: text("127.0.0.1:1"),
            database_url: text("postgres://u:p\"w\\@h/db"),
            log_format: text("json"),
            log_level: text("debug"),
            public_url: text("https://crm.example.com"),
            network_probe_url: text("https://probe.example/"),
            license_server_url: text("https://license.example/"),
            update_manifest_url: text("https://releases.example/manifest.json"),
            session_secret: text("s"),
            encryption_key: text("k"),
            job_lease_seconds: Some(90),
            trusted_proxies: text("10.0.0.0/8"),
            domain_probe_addr: text("127.0.0.1:80"),
            tls_mode: text("auto"),
            tls_domains: text("crm.example.com"),
            acme_directory_url: text("https://acme.example/dir"),
            acme_staging: Some(true),
            acme_email: text("ops@example.com"),
            acme_ca_file: text("/etc/ca.pem"),
            https_listen: text("0.0.0.0:443"),
            http_listen: text("off"),
            tls_cert_file: text("/etc/cert.pem"),
            tls_key_file: text("/etc/key.pem"),
        };
        let parsed = FileConfig::parse(&render(&full).unwrap()).unwrap();
        assert_eq!(parsed, full);
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        std::fs::write(data_dir.config_file(), render(&full).unwrap()).unwrap();
        update(&data_dir, |c| c.log_level = Some("info".into())).unwrap();
        let after = FileConfig::parse(&std::fs::read_to_string(data_dir.config_file()).unwrap()).unwrap();
        assert_eq!(after, FileConfig { log_level: Some("info".into()), ..full }, "an update keeps every other key");
    }

    #[test]
    fn restore_removes_a_file_that_did_not_exist() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        let previous = update(&data_dir, |c| c.public_url = Some("https://x.example".into())).unwrap();
        assert!(data_dir.config_file().exists());
        restore(&data_dir, &previous).unwrap();
        assert!(!data_dir.config_file().exists());
    }
}
