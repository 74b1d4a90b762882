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
    write_atomically(&path, &render(&config))?;
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

fn render(config: &FileConfig) -> String {
    let mut out = String::from("# Conversure configuration. Environment variables and flags override these values.\n");
    let fields: [(&str, &Option<String>); 9] = [
        ("listen", &config.listen),
        ("database_url", &config.database_url),
        ("public_url", &config.public_url),
        ("log_format", &config.log_format),
        ("log_level", &config.log_level),
        ("network_probe_url", &config.network_probe_url),
        ("license_server_url", &config.license_server_url),
        ("session_secret", &config.session_secret),
        ("encryption_key", &config.encryption_key),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            out.push_str(&format!("{key} = {}\n", toml_string(value)));
        }
    }
    out
}

/// A TOML basic string.
fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
    fn restore_removes_a_file_that_did_not_exist() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        let previous = update(&data_dir, |c| c.public_url = Some("https://x.example".into())).unwrap();
        assert!(data_dir.config_file().exists());
        restore(&data_dir, &previous).unwrap();
        assert!(!data_dir.config_file().exists());
    }
}
