//! A mock of the vendor's license server (`POST /api/v1/activations`) and license files signed with the test key.
//!
//! The test key's private seed lives here and nowhere else; its public key is compiled into the library only with
//! the `test-keys` feature, which the test suite turns on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use conversure::license::{self, ALL_FEATURES, Limits, PRODUCT, Payload};
use serde_json::{Value, json};

/// The test key's private Ed25519 seed; its public key is `test-2026` in `src/license/keys.rs`.
pub const TEST_SEED_HEX: &str = "4d478df59b54b362975e9bc7d68b2718ca7956edca0ab47c4b2ec032536369a4";

/// The id of the test key.
pub const TEST_KEY_ID: &str = "test-2026";

/// The test seed as bytes.
pub fn test_seed() -> [u8; 32] {
    hex::decode(TEST_SEED_HEX).unwrap().try_into().unwrap()
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// A payload as the vendor would issue it: perpetual or ending at `expires_at`, bound to `instance_id` if given.
pub fn test_payload(instance_id: Option<&str>, expires_at: Option<i64>) -> Payload {
    Payload {
        license_id: format!("lic-{}", uuid::Uuid::new_v4()),
        product: PRODUCT.to_owned(),
        licensee: "Test Buyer LLC".to_owned(),
        email: Some("buyer@example.test".to_owned()),
        plan: "business".to_owned(),
        issued_at: now_ms() - 60_000,
        expires_at,
        instance_id: instance_id.map(str::to_owned),
        limits: Limits { workspaces: Some(5), agents: Some(25), ..Limits::default() },
        features: vec![ALL_FEATURES.to_owned()],
    }
}

/// A license file signed with the test key.
pub fn test_license(instance_id: Option<&str>, expires_at: Option<i64>) -> String {
    license::sign(&test_payload(instance_id, expires_at), TEST_KEY_ID, &test_seed())
}

/// A license server on a loopback port that knows a fixed set of purchase codes.
pub struct MockLicenseServer {
    /// The base URL (`http://127.0.0.1:PORT/`); activations go to `api/v1/activations` below it.
    pub url: url::Url,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    valid_codes: Vec<String>,
    /// Purchase code → the activation it produced.
    activations: Mutex<HashMap<String, Activation>>,
    /// Every request body received, parsed (`Null` when it was not JSON).
    requests: Mutex<Vec<Value>>,
    /// When set, the next request gets this status and a plain-text body.
    fail_next: Mutex<Option<u16>>,
}

struct Activation {
    instance_id: String,
    license_id: String,
}

impl MockLicenseServer {
    /// Starts the server; `valid_codes` are the purchase codes it sold.
    pub async fn start(valid_codes: &[&str]) -> Self {
        let shared = Arc::new(Shared {
            valid_codes: valid_codes.iter().map(|c| (*c).to_owned()).collect(),
            activations: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            fail_next: Mutex::new(None),
        });
        let app = Router::new().route("/api/v1/activations", post(activate)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url: url::Url::parse(&format!("http://{addr}/")).unwrap(), shared, task }
    }

    /// Every request body the server received, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Makes the next request fail with `status` (a server in trouble, or a proxy in front of it).
    pub fn fail_next_with(&self, status: u16) {
        *self.shared.fail_next.lock().unwrap() = Some(status);
    }
}

impl Drop for MockLicenseServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

/// The activation endpoint, answering like the vendor's server: a license file bound to the instance, or a refusal
/// with a stable code. Activating a code again for the same instance re-issues the same license (a reinstall).
async fn activate(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.requests.lock().unwrap().push(request.clone());

    if let Some(status) = shared.fail_next.lock().unwrap().take() {
        let status = StatusCode::from_u16(status).unwrap();
        return (status, "upstream trouble, try later").into_response();
    }
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Send the request as JSON.");
    }
    let field = |name: &str| request.get(name).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
    let (Some(code), Some(instance_id), Some(product), Some(_version)) =
        (field("purchase_code"), field("instance_id"), field("product"), field("version"))
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "purchase_code, instance_id, product and version are required.",
        );
    };
    if product != PRODUCT {
        return refuse(StatusCode::BAD_REQUEST, "wrong_product", "This server only licenses Conversure.");
    }
    // The site URL is informative (shown in the buyer's account) and may still be unknown during installation.
    let site_url = request.get("site_url").and_then(Value::as_str);
    if site_url.is_none_or(|site| !site.is_empty() && url::Url::parse(site).is_err()) {
        return refuse(StatusCode::BAD_REQUEST, "bad_request", "site_url must be an absolute URL or empty.");
    }
    if !shared.valid_codes.iter().any(|c| c == code) {
        return refuse(StatusCode::NOT_FOUND, "unknown_code", "We have no purchase with this code.");
    }

    let license_id = {
        let mut activations = shared.activations.lock().unwrap();
        match activations.get(code) {
            Some(existing) if existing.instance_id != instance_id => {
                return refuse(
                    StatusCode::CONFLICT,
                    "already_activated",
                    "This purchase code is already activated on another installation.",
                );
            }
            Some(existing) => existing.license_id.clone(),
            None => {
                let license_id = format!("lic-{}", uuid::Uuid::new_v4());
                activations.insert(
                    code.to_owned(),
                    Activation { instance_id: instance_id.to_owned(), license_id: license_id.clone() },
                );
                license_id
            }
        }
    };
    let payload = Payload { license_id, plan: "regular".to_owned(), ..test_payload(Some(instance_id), None) };
    let file = license::sign(&payload, TEST_KEY_ID, &test_seed());
    ([(header::CONTENT_TYPE, "application/json")], file).into_response()
}
