//! Setting and clearing cookies, always `HttpOnly`, `Secure` when served over TLS.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// `SameSite` policy of a cookie.
#[derive(Debug, Clone, Copy)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites (the link in the setup banner, a bookmark), not on their POSTs.
    Lax,
    /// Never sent from other sites.
    Strict,
}

/// Adds a `Set-Cookie` header. Values are ours (hex, base64url, language codes), so they need no quoting.
pub fn set(
    response: &mut Response,
    name: &str,
    value: &str,
    path: &str,
    max_age_secs: u64,
    same_site: SameSite,
    secure: bool,
) {
    let same_site = match same_site {
        SameSite::Lax => "Lax",
        SameSite::Strict => "Strict",
    };
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite={same_site}{secure}");
    match HeaderValue::from_str(&text) {
        Ok(value) => {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        // Only reachable with a value holding control characters, which none of ours can.
        Err(e) => tracing::error!(cookie = name, error = %e, "cookie value is not a valid header"),
    }
}

/// Tells the browser to forget a cookie.
pub fn clear(response: &mut Response, name: &str, path: &str) {
    set(response, name, "", path, 0, SameSite::Lax, false);
}
