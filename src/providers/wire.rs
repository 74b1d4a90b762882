//! Helpers the Twilio, Evolution API and Chatwoot connectors share: calling an API with a bounded answer, reading the
//! loosely typed JSON gateways send (ids as numbers or strings, timestamps in seconds or ISO 8601), the shared-secret
//! webhook check, and, for their tests, a small recording HTTP server.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::ProviderError;
use super::http::{read_limited, retry_after, transport_error};

/// Biggest API answer read into memory (media is read separately, with its own limit). API answers are a few KB; a
/// bigger one is a misbehaving server, not something to buffer without bound.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Characters left as they are in a URL path segment (RFC 3986 unreserved); everything else is percent-encoded, so
/// an instance name with a space or a slash stays one segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// An API's answer: the status, its `Retry-After`, and the body as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub json: Value,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends a request and reads the answer (bounded). Only transport failures are errors here; the caller classifies
/// the HTTP status with the provider's own error codes.
pub(super) async fn call(request: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
    call_limited(request, MAX_ANSWER_BYTES).await
}

/// [`call`] for answers that may be bigger than usual (media as base64 in JSON), up to `limit` bytes.
pub(super) async fn call_limited(request: reqwest::RequestBuilder, limit: usize) -> Result<Answer, ProviderError> {
    let response = request.send().await.map_err(|e| transport_error(&e))?;
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let bytes = read_limited(response, limit).await?;
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer { status, retry_after, json })
}

/// A JSON request body. Serialising a `Value` cannot fail (its map keys are strings).
pub(super) fn json_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// One URL path segment, percent-encoded.
pub(super) fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// A non-empty string, or a number as text (gateways send ids either way).
pub(super) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The text at a JSON pointer (`/key/id`).
pub(super) fn text_at(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(text)
}

/// An integer sent as a number or a numeric string.
pub(super) fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A floating-point number sent as a number or a decimal string (coordinates).
pub(super) fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

/// A timestamp as unix milliseconds, from unix seconds or milliseconds (number or numeric string) or an ISO 8601
/// string. Values above 10^11 are taken as milliseconds already: that is the year 5138 in seconds.
pub(super) fn timestamp_ms(value: &Value) -> Option<i64> {
    if let Some(n) = int(value) {
        return Some(if n.abs() > 100_000_000_000 { n } else { n.saturating_mul(1000) });
    }
    let text = value.as_str()?.trim();
    text.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond())
}

/// Now, for events the provider sends without a time of their own.
pub(super) fn now_ms() -> i64 {
    crate::store::now_millis()
}

/// Decodes standard base64, tolerating a `data:…;base64,` prefix and line breaks (as gateways produce).
pub(super) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let data = match text.split_once(";base64,") {
        Some((prefix, data)) if prefix.starts_with("data:") => data,
        _ => text,
    };
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact).ok()
}

pub(super) fn encode_base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// The scheme, host and port of a URL, for deciding whether credentials may go to it.
pub(super) fn origin(url: &str) -> Option<(String, String, u16)> {
    let url = url::Url::parse(url).ok()?;
    Some((url.scheme().to_owned(), url.host_str()?.to_ascii_lowercase(), url.port_or_known_default()?))
}

/// A short, readable rendering of an error answer's JSON for error messages: the first string found under the
/// usual keys. Never the whole body, which may echo what we sent.
pub(super) fn error_text(json: &Value) -> Option<String> {
    for pointer in ["/message", "/error/message", "/error", "/errors/0", "/response/message/0", "/response/message"] {
        if let Some(Value::String(s)) = json.pointer(pointer)
            && !s.trim().is_empty()
        {
            return Some(truncate(s.trim(), 300));
        }
    }
    None
}

/// At most `max` characters (on a character boundary).
pub(super) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The default media type for a file name's extension, for gateways that want one when sending by URL.
pub(super) fn mime_from_name(name: &str) -> Option<&'static str> {
    let name = name.split(['?', '#']).next().unwrap_or(name);
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "mp4" => "video/mp4",
        "3gp" => "video/3gpp",
        "mp3" => "audio/mpeg",
        "ogg" | "opus" => "audio/ogg",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "zip" => "application/zip",
        _ => return None,
    })
}

#[cfg(test)]
pub(super) mod mock {
    //! A recording HTTP server on 127.0.0.1 for connector tests: answers fixed responses by method and path and keeps
    //! every request it saw.

    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use serde_json::Value;

    use crate::domain::phone::Phone;
    use crate::providers::{AccountConfig, Credentials, ProviderKind};

    /// One request the server received.
    #[derive(Debug, Clone)]
    pub struct Seen {
        pub method: String,
        pub path: String,
        pub query: String,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Seen {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
        }

        pub fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap()
        }

        pub fn form(&self) -> Vec<(String, String)> {
            url::form_urlencoded::parse(&self.body).into_owned().collect()
        }

        pub fn form_value(&self, name: &str) -> Option<String> {
            self.form().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
        }
    }

    #[derive(Clone)]
    struct Route {
        method: String,
        path: String,
        status: u16,
        body: String,
    }

    #[derive(Clone)]
    struct State {
        routes: Arc<Vec<Route>>,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    /// A running server: its base URL and what it saw.
    pub struct Mock {
        pub base: String,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl Mock {
        pub fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
    }

    /// Starts a server answering `(method, path, status, body)` routes; anything else gets a 404.
    pub async fn serve(routes: &[(&str, &str, u16, &str)]) -> Mock {
        let routes = routes
            .iter()
            .map(|(method, path, status, body)| Route {
                method: (*method).to_owned(),
                path: (*path).to_owned(),
                status: *status,
                body: (*body).to_owned(),
            })
            .collect();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = State { routes: Arc::new(routes), seen: seen.clone() };
        let app = axum::Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mock { base, seen }
    }

    async fn handle(
        axum::extract::State(state): axum::extract::State<State>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let seen = Seen {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().unwrap_or_default().to_owned(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body: body.to_vec(),
        };
        state.seen.lock().unwrap().push(seen);
        match state.routes.iter().find(|r| r.method == method.as_str() && r.path == uri.path()) {
            Some(route) => (
                StatusCode::from_u16(route.status).unwrap(),
                [("content-type", "application/json")],
                route.body.clone(),
            )
                .into_response(),
            None => (StatusCode::NOT_FOUND, [("content-type", "application/json")], "{\"error\":\"no route\"}")
                .into_response(),
        }
    }

    /// An account of `kind` talking to `base`, with the given credentials.
    pub fn account(kind: ProviderKind, base: &str, credentials: &[(&str, &str)]) -> AccountConfig {
        AccountConfig {
            kind,
            base_url: base.to_owned(),
            phone: Phone::parse("+14155238886").unwrap(),
            credentials: Credentials(credentials.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
            webhook_secret: "s3cret".to_owned(),
            webhook_url: "https://crm.example.com/hooks/test/1".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loose_json_values() {
        assert_eq!(text(&json!(42)), Some("42".to_owned()));
        assert_eq!(text(&json!(" ")), None);
        assert_eq!(int(&json!("1717689097")), Some(1_717_689_097));
        assert_eq!(timestamp_ms(&json!(1_790_000_000)), Some(1_790_000_000_000));
        assert_eq!(timestamp_ms(&json!("1790000000")), Some(1_790_000_000_000));
        assert_eq!(timestamp_ms(&json!(1_790_000_000_123_i64)), Some(1_790_000_000_123));
        assert_eq!(timestamp_ms(&json!("2020-08-30T15:43:04.000Z")), Some(1_598_802_184_000));
        assert_eq!(timestamp_ms(&json!("yesterday")), None);
        assert_eq!(float(&json!("12.5")), Some(12.5));
        assert_eq!(segment("my instance/1"), "my%20instance%2F1");
        assert_eq!(decode_base64("data:image/png;base64,aGk=\n"), Some(b"hi".to_vec()));
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(mime_from_name("https://x.test/a/report.PDF?x=1"), Some("application/pdf"));
    }
}
