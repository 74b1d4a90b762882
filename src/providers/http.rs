//! The one HTTP client every connector uses: timeouts, keep-alive, and the classification of transport failures
//! and HTTP statuses into [`ProviderError`]s that the connectors refine with the provider's own error codes.

use std::time::Duration;

use super::{FailureKind, ProviderError};

/// Biggest media file fetched from a provider (WhatsApp's own limit is 100 MB for documents).
pub const MAX_MEDIA_BYTES: usize = 100 * 1024 * 1024;

/// A shared, cheap-to-clone HTTP client with timeouts.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    /// A client with a 5 s connect and 30 s overall timeout.
    pub fn new() -> Self {
        Self::with_timeout(Duration::from_secs(30))
    }

    pub fn with_timeout(timeout: Duration) -> Self {
        crate::init_crypto();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("Conversure/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { client }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

/// A request that got no answer: timeouts and connection failures are transient.
pub fn transport_error(error: &reqwest::Error) -> ProviderError {
    let what = if error.is_timeout() {
        "the provider did not answer in time"
    } else if error.is_connect() {
        "could not connect to the provider"
    } else {
        "the request to the provider failed"
    };
    // reqwest's own text may hold the URL, which can carry credentials (Twilio account SIDs are not secret, but
    // some gateways put tokens in query strings): keep only our sentence.
    ProviderError::transient(what)
}

/// The default classification of an HTTP status, for answers without a provider error code we know.
pub fn classify_status(status: u16) -> FailureKind {
    match status {
        401 | 403 => FailureKind::Unauthorized,
        408 | 425 | 500..=599 => FailureKind::Transient,
        429 => FailureKind::RateLimited,
        _ => FailureKind::Permanent,
    }
}

/// Reads `Retry-After` in seconds, when present.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(3600)))
}

/// Reads a body up to `limit` bytes; a longer body is a permanent failure rather than unbounded memory.
pub async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, ProviderError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e))? {
        if bytes.len() + chunk.len() > limit {
            return Err(ProviderError::new(FailureKind::Permanent, None, "the file is larger than allowed"));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
