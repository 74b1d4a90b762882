//! Activation by purchase code: one POST to the vendor's license server, which answers with a license file bound to
//! this installation. The answer is verified offline like any uploaded file; the server is never asked again.

use std::time::Duration;

use super::{License, LicenseError, PRODUCT, verify};

/// Where activations are posted, relative to the license server's base URL.
pub const ACTIVATION_PATH: &str = "api/v1/activations";

/// The whole request, connection included, must finish within this.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Larger answers are not a license file; stop reading there.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The purchase code trimmed, when it has the shape of one (8 to 64 ASCII letters, digits and dashes).
pub fn check_purchase_code(code: &str) -> Result<&str, LicenseError> {
    let code = code.trim();
    let shape = (8..=64).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if shape { Ok(code) } else { Err(LicenseError::InvalidPurchaseCode) }
}

/// Trades a purchase code for a license file bound to `instance_id`: returns the verified license and the file text
/// (keep the text, e.g. through [`License::to_stored`]).
///
/// `server` is the license server's base URL; the request goes to `<server>/api/v1/activations`. A code without the
/// shape of one is refused before anything is sent.
pub async fn activate(
    server: &url::Url,
    purchase_code: &str,
    instance_id: &str,
    site_url: &str,
) -> Result<(License, String), LicenseError> {
    let purchase_code = check_purchase_code(purchase_code)?;
    let endpoint = endpoint(server)?;
    let body = serde_json::json!({
        "purchase_code": purchase_code,
        "instance_id": instance_id,
        "site_url": site_url,
        "product": PRODUCT,
        "version": env!("CARGO_PKG_VERSION"),
    })
    .to_string();

    crate::init_crypto();
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .user_agent(concat!("conversure/", env!("CARGO_PKG_VERSION"), " (license activation)"))
        .build()
        .map_err(|e| LicenseError::ServerUnreachable(describe(&e)))?;
    let mut response = client
        .post(endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| LicenseError::ServerUnreachable(describe(&e)))?;
    let status = response.status();
    let answer = read_capped(&mut response).await?;

    if status.is_success() {
        let text = String::from_utf8(answer)
            .map_err(|_| LicenseError::Malformed("the license server's answer is not text".into()))?;
        let license = verify(&text, instance_id, now_ms())?;
        let stored = license.to_stored();
        return Ok((license, stored));
    }
    if status.is_client_error()
        && let Some((code, message)) = refusal(&answer)
    {
        return Err(LicenseError::ActivationRefused { code, message });
    }
    Err(LicenseError::ServerError(status.as_u16()))
}

/// `<server>/api/v1/activations`, whether or not the base URL ends in a slash.
fn endpoint(server: &url::Url) -> Result<url::Url, LicenseError> {
    let mut base = server.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(ACTIVATION_PATH).map_err(|e| LicenseError::ServerUnreachable(format!("bad license server URL: {e}")))
}

/// The body, up to [`MAX_ANSWER_BYTES`].
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, LicenseError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| LicenseError::ServerUnreachable(describe(&e)))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(LicenseError::Malformed("the license server's answer is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `{"error":{"code":…,"message":…}}`, the shape of every refusal.
fn refusal(body: &[u8]) -> Option<(String, String)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let code = error.get("code")?.as_str()?.to_owned();
    let message = error.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_owned();
    Some((code, message))
}

fn describe(err: &reqwest::Error) -> String {
    use std::error::Error;
    // reqwest's top-level text is generic ("error sending request"); the innermost cause names the real problem.
    let mut cause: &dyn Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if err.is_timeout() { format!("no answer within {} seconds", TIMEOUT.as_secs()) } else { cause.to_string() }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_keeps_the_base_path() {
        for (base, expected) in [
            ("https://license.example.com", "https://license.example.com/api/v1/activations"),
            ("https://license.example.com/", "https://license.example.com/api/v1/activations"),
            ("https://example.com/licensing", "https://example.com/licensing/api/v1/activations"),
            ("http://127.0.0.1:4000/licensing/", "http://127.0.0.1:4000/licensing/api/v1/activations"),
        ] {
            assert_eq!(endpoint(&url::Url::parse(base).unwrap()).unwrap().as_str(), expected);
        }
    }

    #[test]
    fn refusals_are_read_from_the_error_object() {
        let body = br#"{"error":{"code":"unknown_code","message":"No such purchase"}}"#;
        assert_eq!(refusal(body), Some(("unknown_code".into(), "No such purchase".into())));
        assert_eq!(refusal(b"<html>Not Found</html>"), None);
        assert_eq!(refusal(br#"{"error":"nope"}"#), None);
    }
}
