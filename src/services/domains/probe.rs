//! The self-probe that proves a custom domain reaches this server: fetch
//! `http://<domain>/.well-known/conversure-domain/<token>` and expect our own token back. Reaching ourselves through
//! the name proves both the DNS record and any port forwarding in between.

use std::net::SocketAddr;
use std::time::Duration;

/// Where the answer to a probe is served (the web layer routes it; the probe fetches it).
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/conversure-domain/";

/// Why a probe failed: a stable code (stored as `last_error`, translated for display) and a detail for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    /// `no_answer`, `http_status` or `wrong_token`.
    pub code: &'static str,
    pub detail: String,
}

impl ProbeFailure {
    /// `code` or `code: detail`, as stored in `last_error`.
    pub fn stored(&self) -> String {
        if self.detail.is_empty() { self.code.to_owned() } else { format!("{}: {}", self.code, self.detail) }
    }
}

/// Fetches probe URLs, optionally connecting to a fixed address instead of resolving the name.
#[derive(Debug, Clone)]
pub struct Prober {
    /// `domain_probe_addr`: for servers that cannot reach their own public address (hairpin NAT), and for tests.
    fixed_addr: Option<SocketAddr>,
}

impl Prober {
    pub fn new(fixed_addr: Option<SocketAddr>) -> Self {
        Self { fixed_addr }
    }

    /// Asks `host` for `token`; `Ok` only when the very same token comes back.
    pub async fn check(&self, host: &str, token: &str) -> Result<(), ProbeFailure> {
        let failure = |code: &'static str, detail: String| ProbeFailure { code, detail };
        crate::init_crypto();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            // A redirect would prove only that someone answers for the name, not that it is us.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Conversure/", env!("CARGO_PKG_VERSION"), " domain-check"));
        // DNS has no ports, so `resolve` ignores the address's port: a non-standard one goes into the URL instead.
        let port = match self.fixed_addr {
            Some(addr) => {
                builder = builder.resolve(host, addr);
                if addr.port() == 80 { String::new() } else { format!(":{}", addr.port()) }
            }
            None => String::new(),
        };
        let client = builder.build().map_err(|e| failure("no_answer", e.to_string()))?;
        let url = format!("http://{host}{port}{WELL_KNOWN_PREFIX}{token}");
        let response = client.get(&url).send().await.map_err(|e| failure("no_answer", error_chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failure("http_status", status.as_u16().to_string()));
        }
        let body = response.text().await.map_err(|e| failure("no_answer", error_chain(&e)))?;
        if body.trim() == token { Ok(()) } else { Err(failure("wrong_token", String::new())) }
    }
}

/// reqwest's top-level message ("error sending request") hides the cause; the chain names it (refused, timed out).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(300).collect()
}
