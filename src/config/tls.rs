//! The TLS settings (`tls_mode` and friends): how the instance serves HTTPS, validated into [`TlsConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;

use super::ConfigError;

/// Let's Encrypt's production directory, used when `tls_mode = "auto"` names no other.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (`acme_staging = true`): untrusted certificates, generous rate limits.
pub const LETS_ENCRYPT_STAGING_DIRECTORY: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
/// Where HTTPS is served in `auto` and `manual` mode unless `https_listen` says otherwise.
pub const DEFAULT_HTTPS_LISTEN: &str = "0.0.0.0:443";
/// Where HTTP-01 challenges are answered and everything else is redirected unless `http_listen` says otherwise.
pub const DEFAULT_HTTP_LISTEN: &str = "0.0.0.0:80";

/// Every TLS key, as in `config.toml` (the environment variables are these in upper case after `CONVERSURE_`).
pub const KEYS: [&str; 10] = [
    "tls_mode",
    "tls_domains",
    "acme_directory_url",
    "acme_staging",
    "acme_email",
    "acme_ca_file",
    "https_listen",
    "http_listen",
    "tls_cert_file",
    "tls_key_file",
];

/// How the instance serves HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP on `listen` only (for example behind a reverse proxy that terminates TLS).
    Off,
    /// Certificates obtained and renewed over ACME (Let's Encrypt by default).
    Auto(AutoTls),
    /// A certificate and key from files the operator maintains, reloaded when they change.
    Manual(ManualTls),
}

/// `tls_mode = "auto"`: what to ask the ACME directory for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoTls {
    /// Names that always get a certificate, obtained at start; lower case.
    pub domains: Vec<String>,
    pub directory_url: url::Url,
    /// Contact address given to the certificate authority (expiry notices).
    pub email: Option<String>,
    /// An extra root certificate (PEM) trusted when talking to the directory, for a private or test CA.
    pub ca_file: Option<PathBuf>,
}

/// `tls_mode = "manual"`: the PEM files to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// The validated TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub mode: TlsMode,
    /// The HTTPS listener (ignored when the mode is off).
    pub https_listen: SocketAddr,
    /// The plain-HTTP listener that answers HTTP-01 challenges and redirects to HTTPS; `None` when set to `off`.
    pub http_listen: Option<SocketAddr>,
}

impl TlsConfig {
    /// Whether HTTPS is served at all.
    pub fn enabled(&self) -> bool {
        !matches!(self.mode, TlsMode::Off)
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self { mode: TlsMode::Off, https_listen: default_addr(DEFAULT_HTTPS_LISTEN), http_listen: None }
    }
}

fn default_addr(text: &str) -> SocketAddr {
    text.parse().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// Reads the TLS keys through `value(key)`, which applies the usual precedence (environment over file).
pub fn resolve(value: impl Fn(&'static str) -> Option<String>) -> Result<TlsConfig, ConfigError> {
    let invalid = |key: &'static str, value: &str, reason: &str| ConfigError::Invalid {
        key,
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let mode_text = value("tls_mode").unwrap_or_else(|| "off".to_owned());
    let mode = match mode_text.trim() {
        "off" => return Ok(TlsConfig::default()),
        "auto" => TlsMode::Auto(resolve_auto(&value)?),
        "manual" => {
            let file = |key: &'static str| {
                value(key).filter(|v| !v.trim().is_empty()).map(PathBuf::from).ok_or_else(|| {
                    invalid(key, "", "tls_mode = \"manual\" needs tls_cert_file and tls_key_file (PEM files)")
                })
            };
            TlsMode::Manual(ManualTls { cert_file: file("tls_cert_file")?, key_file: file("tls_key_file")? })
        }
        other => return Err(invalid("tls_mode", other, "use off, auto or manual")),
    };
    let address = |key: &'static str, default: &str| {
        let text = value(key).unwrap_or_else(|| default.to_owned());
        text.trim().parse::<SocketAddr>().map_err(|_| invalid(key, &text, "use IP:PORT, for example 0.0.0.0:443"))
    };
    let https_listen = address("https_listen", DEFAULT_HTTPS_LISTEN)?;
    let http_listen = match value("http_listen").as_deref().map(str::trim) {
        Some("off") => None,
        _ => Some(address("http_listen", DEFAULT_HTTP_LISTEN)?),
    };
    Ok(TlsConfig { mode, https_listen, http_listen })
}

fn resolve_auto(value: &impl Fn(&'static str) -> Option<String>) -> Result<AutoTls, ConfigError> {
    let domains_text = value("tls_domains").unwrap_or_default();
    let mut domains = Vec::new();
    for name in domains_text.split(',').map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()) {
        if !is_dns_name(&name) {
            return Err(ConfigError::Invalid {
                key: "tls_domains",
                value: name,
                reason: "not a domain name; use names like crm.example.com, separated by commas".to_owned(),
            });
        }
        if !domains.contains(&name) {
            domains.push(name);
        }
    }
    if domains.is_empty() {
        return Err(ConfigError::Invalid {
            key: "tls_domains",
            value: domains_text,
            reason: "tls_mode = \"auto\" needs at least one domain, for example crm.example.com".to_owned(),
        });
    }
    let staging = match value("acme_staging").as_deref().map(str::trim) {
        None | Some("" | "false" | "0") => false,
        Some("true" | "1") => true,
        Some(other) => {
            return Err(ConfigError::Invalid {
                key: "acme_staging",
                value: other.to_owned(),
                reason: "use true or false".to_owned(),
            });
        }
    };
    let directory_text = match value("acme_directory_url").filter(|v| !v.trim().is_empty()) {
        Some(url) => url,
        None if staging => LETS_ENCRYPT_STAGING_DIRECTORY.to_owned(),
        None => LETS_ENCRYPT_DIRECTORY.to_owned(),
    };
    let directory_url = url::Url::parse(directory_text.trim())
        .ok()
        .filter(|u| u.scheme() == "https" && u.host_str().is_some())
        .ok_or_else(|| ConfigError::Invalid {
            key: "acme_directory_url",
            value: directory_text.clone(),
            reason: "use the https:// address of an ACME directory".to_owned(),
        })?;
    let email = value("acme_email").map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    if let Some(email) = &email
        && (!email.contains('@') || email.contains(char::is_whitespace))
    {
        return Err(ConfigError::Invalid {
            key: "acme_email",
            value: email.clone(),
            reason: "use an email address such as admin@example.com".to_owned(),
        });
    }
    let ca_file = value("acme_ca_file").filter(|v| !v.trim().is_empty()).map(PathBuf::from);
    Ok(AutoTls { domains, directory_url, email, ca_file })
}

/// A host name a public CA can issue for: dot-separated labels of letters, digits and inner hyphens.
pub fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn resolve_with(pairs: &[(&'static str, &str)]) -> Result<TlsConfig, ConfigError> {
        let map: BTreeMap<&str, String> = pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        resolve(|key| map.get(key).cloned())
    }

    #[test]
    fn off_by_default() {
        let cfg = resolve_with(&[]).unwrap();
        assert_eq!(cfg.mode, TlsMode::Off);
        assert!(!cfg.enabled());
    }

    #[test]
    fn auto_needs_a_valid_domain() {
        let err = resolve_with(&[("tls_mode", "auto")]).unwrap_err().to_string();
        assert!(err.contains("tls_domains"), "{err}");
        let err = resolve_with(&[("tls_mode", "auto"), ("tls_domains", "bad_name.com")]).unwrap_err().to_string();
        assert!(err.contains("bad_name.com"), "{err}");
    }

    #[test]
    fn auto_defaults_to_lets_encrypt_and_staging_switches() {
        let cfg = resolve_with(&[("tls_mode", "auto"), ("tls_domains", "A.example.com, b.example.com,a.example.com")])
            .unwrap();
        let TlsMode::Auto(auto) = &cfg.mode else { panic!("auto expected") };
        assert_eq!(auto.domains, ["a.example.com", "b.example.com"]);
        assert_eq!(auto.directory_url.as_str(), LETS_ENCRYPT_DIRECTORY);
        assert_eq!(cfg.https_listen.port(), 443);
        assert_eq!(cfg.http_listen.map(|a| a.port()), Some(80));
        let staged =
            resolve_with(&[("tls_mode", "auto"), ("tls_domains", "a.example.com"), ("acme_staging", "true")]).unwrap();
        let TlsMode::Auto(auto) = &staged.mode else { panic!("auto expected") };
        assert_eq!(auto.directory_url.as_str(), LETS_ENCRYPT_STAGING_DIRECTORY);
    }

    #[test]
    fn manual_needs_both_files_and_http_can_be_off() {
        let err = resolve_with(&[("tls_mode", "manual"), ("tls_cert_file", "/c.pem")]).unwrap_err().to_string();
        assert!(err.contains("tls_key_file"), "{err}");
        let cfg = resolve_with(&[
            ("tls_mode", "manual"),
            ("tls_cert_file", "/c.pem"),
            ("tls_key_file", "/k.pem"),
            ("http_listen", "off"),
        ])
        .unwrap();
        assert!(cfg.http_listen.is_none());
    }

    #[test]
    fn bad_values_are_named() {
        for (pairs, key) in [
            (vec![("tls_mode", "on")], "tls_mode"),
            (vec![("tls_mode", "auto"), ("tls_domains", "a.com"), ("acme_email", "nobody")], "acme_email"),
            (
                vec![("tls_mode", "auto"), ("tls_domains", "a.com"), ("acme_directory_url", "http://x/")],
                "acme_directory_url",
            ),
            (vec![("tls_mode", "auto"), ("tls_domains", "a.com"), ("https_listen", "443")], "https_listen"),
        ] {
            let err = resolve_with(&pairs).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
