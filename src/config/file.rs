//! `config.toml`: the serde mirror of the file, rejecting unknown keys so a typo fails loudly.

use serde::Deserialize;

/// Every key `config.toml` may hold; all optional, all overridable by environment and flags.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Socket address to listen on, for example `0.0.0.0:8080`.
    pub listen: Option<String>,
    /// `sqlite:PATH` or `postgres://user:pass@host:port/db`; empty means the SQLite file in the data directory.
    pub database_url: Option<String>,
    /// `human` or `json`.
    pub log_format: Option<String>,
    /// A tracing filter such as `info` or `conversure=debug,tower_http=info`.
    pub log_level: Option<String>,
    /// The address users reach this instance at, used in printed and emailed links.
    pub public_url: Option<String>,
    /// An HTTPS URL fetched by the requirement checks to prove outbound HTTPS works and to measure clock skew.
    pub network_probe_url: Option<String>,
}

impl FileConfig {
    /// Parses the file's text; the error names the offending key and line.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = FileConfig::parse("lisen = \"0.0.0.0:1\"\n").unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn known_keys_parse() {
        let cfg = FileConfig::parse("listen = \"127.0.0.1:9\"\nlog_format = \"json\"\n").unwrap();
        assert_eq!(cfg.listen.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(cfg.log_format.as_deref(), Some("json"));
    }
}
