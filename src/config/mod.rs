//! Resolved configuration: defaults < `config.toml` in the data directory < `CONVERSURE_*` environment < flags.
//!
//! Secrets may also come from files: `CONVERSURE_DATABASE_URL_FILE=/run/secrets/db` reads the value from that file
//! (the way Docker and systemd credentials hand secrets over).

mod database;
mod file;
pub mod network;
mod paths;
mod secret;
pub mod tls;
pub mod write;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use database::{DatabaseUrl, redact_url};
pub use file::FileConfig;
pub use paths::DataDir;
pub use secret::Secret;
pub use tls::{TlsConfig, TlsMode};

/// The address served when nothing else is configured.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
/// Fetched by the requirement checks: a well-known HTTPS endpoint every WhatsApp install must reach anyway.
pub const DEFAULT_NETWORK_PROBE_URL: &str = "https://graph.facebook.com/";
/// The vendor's license server, where purchase codes are activated.
pub const DEFAULT_LICENSE_SERVER_URL: &str = "https://licenses.conversure.app/";
/// The vendor's signed release manifest, read by the update check.
pub const DEFAULT_UPDATE_MANIFEST_URL: &str = "https://updates.conversure.app/stable/manifest.json";
/// Prefix of every environment variable Conversure reads.
pub const ENV_PREFIX: &str = "CONVERSURE_";

/// Environment variables that configure a key; `*_FILE` variants are accepted for the secret ones.
const ENV_KEYS: &[(&str, bool)] = &[
    ("DATA_DIR", false),
    ("LISTEN", false),
    ("DATABASE_URL", true),
    ("LOG_FORMAT", false),
    ("LOG_LEVEL", false),
    ("PUBLIC_URL", false),
    ("NETWORK_PROBE_URL", false),
    ("LICENSE_SERVER_URL", false),
    ("UPDATE_MANIFEST_URL", false),
    ("SESSION_SECRET", true),
    ("ENCRYPTION_KEY", true),
    ("JOB_LEASE_SECONDS", false),
    ("TLS_MODE", false),
    ("TLS_DOMAINS", false),
    ("ACME_DIRECTORY_URL", false),
    ("ACME_STAGING", false),
    ("ACME_EMAIL", false),
    ("ACME_CA_FILE", false),
    ("HTTPS_LISTEN", false),
    ("HTTP_LISTEN", false),
    ("TLS_CERT_FILE", false),
    ("TLS_KEY_FILE", false),
    ("TRUSTED_PROXIES", false),
    ("DOMAIN_PROBE_ADDR", false),
];

/// What went wrong while reading the configuration; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No data directory was given and the platform has no default one.
    #[error("no data directory: pass --data-dir DIR or set CONVERSURE_DATA_DIR")]
    NoDataDir,
    /// `config.toml` could not be read.
    #[error("cannot read {path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    /// `config.toml` is not valid TOML or holds an unknown key.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A `*_FILE` variable points at a file that cannot be read.
    #[error("{var} points at {path}, which cannot be read: {source}")]
    SecretFile { var: String, path: PathBuf, source: std::io::Error },
    /// A value has the wrong form.
    #[error("invalid {key} {value:?}: {reason}")]
    Invalid { key: &'static str, value: String, reason: String },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
}

/// The validated configuration the application runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: DataDir,
    pub listen: SocketAddr,
    pub database: DatabaseUrl,
    pub log_format: LogFormat,
    pub log_level: String,
    pub public_url: Option<url::Url>,
    pub network_probe_url: url::Url,
    pub license_server_url: url::Url,
    /// The release manifest the update check reads.
    pub update_manifest_url: url::Url,
    /// Set once the instance is installed (written by the wizard into `config.toml`).
    pub session_secret: Option<Secret>,
    /// Set once the instance is installed (written by the wizard into `config.toml`).
    pub encryption_key: Option<Secret>,
    /// How long a claimed job stays leased without a heartbeat before another worker takes it up (after a crash).
    pub job_lease: std::time::Duration,
    /// How HTTPS is served (off, ACME or files); see [`tls`].
    pub tls: TlsConfig,
    /// Reverse proxies whose `X-Forwarded-For/-Proto/-Host` are believed; nobody's by default.
    pub trusted_proxies: network::TrustedProxies,
    /// Probe this address instead of resolving the name when checking a custom domain, for setups where the server
    /// cannot reach its own public address (and for tests).
    pub domain_probe_addr: Option<SocketAddr>,
    /// Keys whose value came from the command line or the environment, which `config.toml` cannot override; the
    /// install wizard shows them as fixed.
    pub fixed_by_operator: Vec<&'static str>,
    /// The TLS keys the environment sets, with their values: they win over `config.toml`, so the owner's HTTPS
    /// settings show them as fixed.
    pub tls_from_environment: Vec<(&'static str, String)>,
    /// `CONVERSURE_*` variables that mean nothing to this version (probably typos); reported once logging is up.
    pub unknown_env: Vec<String>,
}

impl Config {
    /// Loads the configuration from the process environment and the given flags.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(overrides, std::env::vars().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect())
    }

    /// Loads the configuration from an explicit environment map (tests pass their own).
    pub fn load_from(overrides: &Overrides, env: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let env = Env::read(env)?;
        let data_dir = match overrides.data_dir.clone().or_else(|| env.get("DATA_DIR").map(PathBuf::from)) {
            Some(dir) => DataDir::new(absolute(dir)),
            None => DataDir::platform_default().ok_or(ConfigError::NoDataDir)?,
        };
        let file = read_file_config(&data_dir)?;

        let pick = |flag: &Option<String>, env_key: &str, file_value: &Option<String>| {
            flag.clone().or_else(|| env.get(env_key).map(str::to_owned)).or_else(|| file_value.clone())
        };
        let listen_text = pick(&overrides.listen, "LISTEN", &file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse().map_err(|_| ConfigError::Invalid {
            key: "listen",
            value: listen_text.clone(),
            reason: "use IP:PORT, for example 0.0.0.0:8080 or 127.0.0.1:8080".to_owned(),
        })?;
        let database = match pick(&overrides.database_url, "DATABASE_URL", &file.database_url) {
            Some(url) if !url.trim().is_empty() => DatabaseUrl::parse(url.trim())?,
            _ => DatabaseUrl::Sqlite(data_dir.sqlite_database()),
        };
        let log_format = match pick(&None, "LOG_FORMAT", &file.log_format).as_deref() {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "log_format",
                    value: other.to_owned(),
                    reason: "use human or json".to_owned(),
                });
            }
        };
        let log_level = pick(&None, "LOG_LEVEL", &file.log_level).unwrap_or_else(|| "info".to_owned());
        let public_url =
            pick(&None, "PUBLIC_URL", &file.public_url).map(|v| parse_http_url("public_url", &v)).transpose()?;
        let probe = pick(&None, "NETWORK_PROBE_URL", &file.network_probe_url)
            .unwrap_or_else(|| DEFAULT_NETWORK_PROBE_URL.to_owned());
        let network_probe_url = parse_http_url("network_probe_url", &probe)?;
        let license_server = pick(&None, "LICENSE_SERVER_URL", &file.license_server_url)
            .unwrap_or_else(|| DEFAULT_LICENSE_SERVER_URL.to_owned());
        let license_server_url = parse_http_url("license_server_url", &license_server)?;
        let update_manifest = pick(&None, "UPDATE_MANIFEST_URL", &file.update_manifest_url)
            .unwrap_or_else(|| DEFAULT_UPDATE_MANIFEST_URL.to_owned());
        let update_manifest_url = parse_http_url("update_manifest_url", &update_manifest)?;
        let session_secret = pick(&None, "SESSION_SECRET", &file.session_secret).map(Secret::new);
        let encryption_key = pick(&None, "ENCRYPTION_KEY", &file.encryption_key).map(Secret::new);
        let lease_text = pick(&None, "JOB_LEASE_SECONDS", &file.job_lease_seconds.map(|s| s.to_string()));
        let job_lease = match lease_text {
            None => std::time::Duration::from_secs(60),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(seconds) if (5..=3600).contains(&seconds) => std::time::Duration::from_secs(seconds),
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "job_lease_seconds",
                        value: text,
                        reason: "use a whole number of seconds from 5 to 3600".to_owned(),
                    });
                }
            },
        };
        let invalid_network = |key: &'static str, value: &str, reason: String| ConfigError::Invalid {
            key,
            value: value.to_owned(),
            reason,
        };
        let trusted_proxies = match pick(&None, "TRUSTED_PROXIES", &file.trusted_proxies) {
            Some(text) => network::TrustedProxies::parse(&text)
                .map_err(|reason| invalid_network("trusted_proxies", &text, reason))?,
            None => network::TrustedProxies::default(),
        };
        let domain_probe_addr = pick(&None, "DOMAIN_PROBE_ADDR", &file.domain_probe_addr)
            .map(|text| {
                network::parse_probe_addr(&text).map_err(|reason| invalid_network("domain_probe_addr", &text, reason))
            })
            .transpose()?;
        let tls = tls::resolve(|key| pick(&None, &key.to_ascii_uppercase(), &file.tls_value(key)))?;
        let tls_from_environment = tls::KEYS
            .iter()
            .filter_map(|key| env.get(&key.to_ascii_uppercase()).map(|value| (*key, value.to_owned())))
            .collect();
        let mut fixed_by_operator = Vec::new();
        if overrides.database_url.is_some() || env.get("DATABASE_URL").is_some() {
            fixed_by_operator.push("database_url");
        }
        if env.get("PUBLIC_URL").is_some() {
            fixed_by_operator.push("public_url");
        }

        Ok(Self {
            data_dir,
            listen,
            database,
            log_format,
            log_level,
            public_url,
            network_probe_url,
            license_server_url,
            update_manifest_url,
            session_secret,
            encryption_key,
            job_lease,
            trusted_proxies,
            domain_probe_addr,
            tls,
            fixed_by_operator,
            tls_from_environment,
            unknown_env: env.unknown,
        })
    }
}

/// The `CONVERSURE_*` variables, with `*_FILE` secrets already read.
struct Env {
    values: BTreeMap<String, String>,
    unknown: Vec<String>,
}

impl Env {
    fn read(vars: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut values = BTreeMap::new();
        let mut unknown = Vec::new();
        for (name, value) in vars {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else { continue };
            if ENV_KEYS.iter().any(|(known, _)| *known == key) {
                values.entry(key.to_owned()).or_insert(value);
            } else if let Some(base) = key.strip_suffix("_FILE").filter(|b| ENV_KEYS.contains(&(*b, true))) {
                let path = PathBuf::from(&value);
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
                    var: name.clone(),
                    path: path.clone(),
                    source,
                })?;
                // A variable given directly wins over its _FILE twin.
                values.entry(base.to_owned()).or_insert_with(|| text.trim_end_matches(['\n', '\r']).to_owned());
            } else if !key.starts_with("TEST_") && key != "REQUIRE_POSTGRES" {
                unknown.push(name);
            }
        }
        Ok(Self { values, unknown })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

fn read_file_config(data_dir: &DataDir) -> Result<FileConfig, ConfigError> {
    let path = data_dir.config_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            FileConfig::parse(&text).map_err(|e| ConfigError::Parse { path, message: one_line(&e.to_string()) })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        // A data directory that does not exist yet (or is not a directory) is reported by the start-up checks.
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Ok(FileConfig::default()),
        Err(source) => Err(ConfigError::ReadFile { path, source }),
    }
}

fn parse_http_url(key: &'static str, value: &str) -> Result<url::Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid { key, value: value.to_owned(), reason: reason.to_owned() };
    let url = url::Url::parse(value).map_err(|e| invalid(&format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("use an http:// or https:// address"));
    }
    Ok(url)
}

/// TOML errors span several lines with a source excerpt; the CLI promises one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.ends_with('|'))
        .collect::<Vec<_>>()
        .join(" ")
}

fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

#[cfg(test)]
mod tests;
