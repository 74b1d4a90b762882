//! Unit tests for configuration precedence and validation.

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn dir_with_config(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), text).unwrap();
    dir
}

fn overrides(dir: &tempfile::TempDir) -> Overrides {
    Overrides { data_dir: Some(dir.path().to_owned()), ..Overrides::default() }
}

#[test]
fn defaults_apply_without_file_or_env() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load_from(&overrides(&dir), env(&[])).unwrap();
    assert_eq!(cfg.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(cfg.database, DatabaseUrl::Sqlite(dir.path().join("conversure.db")));
    assert_eq!(cfg.log_format, LogFormat::Human);
}

#[test]
fn flags_beat_env_beat_file() {
    let dir = dir_with_config("listen = \"127.0.0.1:1001\"\nlog_level = \"debug\"\nlog_format = \"json\"\n");
    let from_file = Config::load_from(&overrides(&dir), env(&[])).unwrap();
    assert_eq!(from_file.listen.port(), 1001);
    assert_eq!(from_file.log_level, "debug");

    let from_env = Config::load_from(&overrides(&dir), env(&[("CONVERSURE_LISTEN", "127.0.0.1:1002")])).unwrap();
    assert_eq!(from_env.listen.port(), 1002);
    assert_eq!(from_env.log_format, LogFormat::Json, "untouched keys still come from the file");

    let mut flags = overrides(&dir);
    flags.listen = Some("127.0.0.1:1003".into());
    let from_flag = Config::load_from(&flags, env(&[("CONVERSURE_LISTEN", "127.0.0.1:1002")])).unwrap();
    assert_eq!(from_flag.listen.port(), 1003);
}

#[test]
fn unknown_file_key_is_rejected_in_one_line() {
    let dir = dir_with_config("listen = \"127.0.0.1:1\"\ndatabse_url = \"x\"\n");
    let err = Config::load_from(&overrides(&dir), env(&[])).unwrap_err().to_string();
    assert!(err.contains("databse_url"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
}

#[test]
fn secrets_come_from_file_variants() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("db-url");
    std::fs::write(&secret, "postgres://u:pw@db.internal/cs\n").unwrap();
    let cfg = Config::load_from(&overrides(&dir), env(&[("CONVERSURE_DATABASE_URL_FILE", secret.to_str().unwrap())]))
        .unwrap();
    assert_eq!(cfg.database, DatabaseUrl::Postgres(Secret::new("postgres://u:pw@db.internal/cs")));

    let missing = Config::load_from(&overrides(&dir), env(&[("CONVERSURE_DATABASE_URL_FILE", "/nonexistent/x")]));
    assert!(matches!(missing, Err(ConfigError::SecretFile { .. })));
}

#[test]
fn only_secret_keys_have_file_variants_and_typos_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load_from(&overrides(&dir), env(&[("CONVERSURE_LISTEN_FILE", "/x"), ("CONVERSURE_LISTN", "1")]))
        .unwrap();
    assert_eq!(cfg.unknown_env, vec!["CONVERSURE_LISTEN_FILE".to_owned(), "CONVERSURE_LISTN".to_owned()]);
}

#[test]
fn bad_values_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, key) in [
        ("CONVERSURE_LISTEN", "localhost", "listen"),
        ("CONVERSURE_LOG_FORMAT", "xml", "log_format"),
        ("CONVERSURE_DATABASE_URL", "mysql://x/y", "database_url"),
        ("CONVERSURE_PUBLIC_URL", "ftp://x", "public_url"),
    ] {
        let err = Config::load_from(&overrides(&dir), env(&[(var, value)])).unwrap_err().to_string();
        assert!(err.contains(key), "{var}: {err}");
    }
}

#[test]
fn data_dir_from_env_when_no_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load_from(&Overrides::default(), env(&[("CONVERSURE_DATA_DIR", dir.path().to_str().unwrap())]))
        .unwrap();
    assert_eq!(cfg.data_dir.root(), dir.path());
}

#[test]
fn every_tls_key_is_set_as_it_is_read() {
    let mut file = FileConfig::default();
    for key in super::tls::KEYS {
        let value = if key == "acme_staging" { "true".to_owned() } else { format!("value of {key}") };
        file.set_tls_value(key, Some(value.clone()));
        assert_eq!(file.tls_value(key), Some(value), "{key}");
        file.set_tls_value(key, None);
        assert_eq!(file.tls_value(key), None, "{key}");
    }
    assert_eq!(file, FileConfig::default());
}
