//! Mock WhatsApp provider servers (Meta Cloud API, 360dialog, Twilio, Evolution API, Chatwoot) for the integration
//! tests, and builders for the webhooks those providers send, signed as the real ones sign them.
//!
//! The fixtures under `tests/fixtures/providers/` are the contract: answers and webhooks are built from those files
//! with fresh ids substituted by JSON path, so a field the fixture has, the mock has too. Every request is recorded
//! (`requests()`, `sends()`), and failures can be scripted (`fail_next`, `fail_next_send`, `fail_recipient`,
//! `set_delay`) to exercise retries, timeouts and error classification.

// The builders and accessors are a toolkit for the connector and message-flow tests; not every one is used by a test
// yet, and an unused one is not a bug.
#![allow(dead_code)]

pub mod chatwoot;
pub mod evolution;
pub mod meta;
pub mod twilio;

mod tests;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Which provider a mock imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Meta,
    Dialog360,
    Twilio,
    Evolution,
    Chatwoot,
}

impl Kind {
    /// `meta`, `360dialog`, `twilio`, `evolution`, `chatwoot` (the names the app uses for providers).
    pub fn parse(name: &str) -> Self {
        match name {
            "meta" => Self::Meta,
            "360dialog" => Self::Dialog360,
            "twilio" => Self::Twilio,
            "evolution" => Self::Evolution,
            "chatwoot" => Self::Chatwoot,
            other => panic!("no mock provider named `{other}`"),
        }
    }
}

/// A scripted failure, answered the way the provider answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Meta/360dialog: HTTP 400, code 130429. Twilio: HTTP 429, code 20429. Evolution: 429 envelope.
    /// Chatwoot: 429 `Retry later` (Rack::Attack).
    RateLimited,
    /// Meta/360dialog: HTTP 401, code 190. Twilio: 401, code 20003. Evolution: 401 envelope. Chatwoot: 401.
    TokenExpired,
    /// Meta/360dialog: HTTP 400, code 131047. Twilio: HTTP 400, code 63016. Evolution and Chatwoot have no customer
    /// window, so scripting it for them panics.
    OutsideWindow,
    /// HTTP 500 in the provider's error shape.
    ServerError,
    /// The provider is down: the connection is closed without a single byte of answer.
    Down,
}

/// Credentials the mock expects; a request without them gets the provider's authentication error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockAuth {
    /// Meta: the bearer token. 360dialog: `D360-API-KEY`. Twilio: the auth token (Basic password). Evolution: the
    /// `apikey` header. Chatwoot: `api_access_token`.
    pub token: String,
    /// Meta: the phone number id. Twilio: the Account SID (Basic user). Evolution: the instance name. Chatwoot: the
    /// account id. 360dialog: unused (the key names the number).
    pub account: String,
}

impl MockAuth {
    pub fn new(token: &str, account: &str) -> Self {
        Self { token: token.to_owned(), account: account.to_owned() }
    }

    /// The credentials a mock of `kind` expects when started with [`MockProvider::start`].
    pub fn default_for(kind: Kind) -> Self {
        let (token, account) = match kind {
            Kind::Meta => ("meta-test-token", "106540352242922"),
            Kind::Dialog360 => ("d360-test-api-key", ""),
            Kind::Twilio => ("0123456789abcdef0123456789abcdef", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            Kind::Evolution => ("evolution-test-apikey", "conversure-test"),
            Kind::Chatwoot => ("chatwoot-test-token", "1"),
        };
        Self { token: token.to_owned(), account: account.to_owned() }
    }
}

/// One part of a `multipart/form-data` request.
#[derive(Debug, Clone)]
pub struct RecordedPart {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// A request the mock received, as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?` (empty when there is none).
    pub query: String,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body parsed, when it was sent as JSON.
    pub json: Option<Value>,
    /// The fields of a form-encoded body; for a multipart body, its text fields.
    pub form: Vec<(String, String)>,
    /// The parts of a multipart body (files and text fields).
    pub parts: Vec<RecordedPart>,
    /// Whether this request asks the provider to send a message to a customer.
    pub is_send: bool,
    /// The customer a send is addressed to, as digits only (`+1 555…`, `whatsapp:+1555…` and `1555…@s.whatsapp.net`
    /// all become `1555…`).
    pub recipient: Option<String>,
    /// The message id the mock answered a successful send with (wamid, Twilio SID, Evolution key id, Chatwoot id).
    pub assigned_id: Option<String>,
}

impl Recorded {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The first value of a form field.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a form field (Twilio repeats `MediaUrl`).
    pub fn form_values(&self, name: &str) -> Vec<&str> {
        self.form.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The decoded query parameters.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes()).into_owned().collect()
    }

    /// A query parameter.
    pub fn query_value(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The path split on `/`, without empty segments.
    fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    /// A string at a JSON pointer of the body.
    fn json_str(&self, pointer: &str) -> Option<&str> {
        self.json.as_ref()?.pointer(pointer)?.as_str()
    }
}

/// Media the mock can serve: registered with [`MockProvider::add_media`] or uploaded through the API.
#[derive(Debug, Clone)]
struct Media {
    bytes: Vec<u8>,
    mime: String,
}

/// State shared between the test and the server task.
struct Shared {
    kind: Kind,
    /// `http://127.0.0.1:PORT`, for URLs the mock hands out that point back at itself.
    origin: String,
    auth: Mutex<MockAuth>,
    requests: Mutex<Vec<Recorded>>,
    fail_any: Mutex<VecDeque<Failure>>,
    fail_send: Mutex<VecDeque<Failure>>,
    by_recipient: Mutex<HashMap<String, Failure>>,
    delay: Mutex<Duration>,
    media: Mutex<HashMap<String, Media>>,
    /// Evolution: what `connectionState` reports.
    connection_state: Mutex<String>,
    /// 360dialog: the webhook configuration last set with `POST /v1/configs/webhook`.
    webhook_config: Mutex<Value>,
    chatwoot: Mutex<chatwoot::State>,
}

impl Shared {
    fn recipient_failure(&self, recipient: Option<&str>) -> Option<Failure> {
        let recipient = digits(recipient?);
        self.by_recipient.lock().unwrap().get(&recipient).copied()
    }

    fn media(&self, id: &str) -> Option<Media> {
        self.media.lock().unwrap().get(id).cloned()
    }

    fn auth(&self) -> MockAuth {
        self.auth.lock().unwrap().clone()
    }
}

/// What a provider module decided for a request.
enum Answer {
    Reply(Response),
    /// A successful send, with the message id handed out.
    Sent(Response, String),
    Fail(Failure),
}

/// A mock provider on a loopback port, serving until dropped.
pub struct MockProvider {
    kind: Kind,
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl MockProvider {
    /// Starts a mock of `kind` (`meta`, `360dialog`, `twilio`, `evolution`, `chatwoot`) expecting
    /// [`MockAuth::default_for`] credentials.
    pub async fn start(kind: &str) -> Self {
        let kind = Kind::parse(kind);
        Self::start_kind(kind, MockAuth::default_for(kind)).await
    }

    /// Starts a mock of `kind` expecting `auth`.
    pub async fn start_with(kind: &str, auth: MockAuth) -> Self {
        Self::start_kind(Kind::parse(kind), auth).await
    }

    async fn start_kind(kind: Kind, auth: MockAuth) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            kind,
            origin: format!("http://{addr}"),
            auth: Mutex::new(auth),
            requests: Mutex::new(Vec::new()),
            fail_any: Mutex::new(VecDeque::new()),
            fail_send: Mutex::new(VecDeque::new()),
            by_recipient: Mutex::new(HashMap::new()),
            delay: Mutex::new(Duration::ZERO),
            media: Mutex::new(HashMap::new()),
            connection_state: Mutex::new("open".to_owned()),
            webhook_config: Mutex::new(serde_json::json!({ "url": "" })),
            chatwoot: Mutex::new(chatwoot::State::default()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = KillableListener(listener);
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<KillSwitch>()).await.unwrap();
        });
        Self { kind, addr, shared, task }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// What an account's `api_base_url` is set to: `http://127.0.0.1:PORT/v23.0` for Meta (the Graph version is part
    /// of the base), `http://127.0.0.1:PORT` for the others.
    pub fn base_url(&self) -> String {
        match self.kind {
            Kind::Meta => format!("{}/v23.0", self.shared.origin),
            _ => self.shared.origin.clone(),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.shared.origin.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The credentials this mock expects.
    pub fn auth(&self) -> MockAuth {
        self.shared.auth()
    }

    /// Changes the expected token (a rotated or revoked credential).
    pub fn expect_token(&self, token: &str) {
        self.shared.auth.lock().unwrap().token = token.to_owned();
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The message-send requests only (not mark-as-read, media, lookups), whatever they were answered.
    pub fn sends(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.is_send).collect()
    }

    /// How many send requests were addressed to `recipient` (any notation of the same number).
    pub fn count_sends_to(&self, recipient: &str) -> usize {
        let wanted = digits(recipient);
        self.sends().iter().filter(|r| r.recipient.as_deref() == Some(wanted.as_str())).count()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.requests.lock().unwrap().clear();
    }

    /// The next `n` requests, of any kind, fail with `failure`.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        check_applicable(self.kind, failure);
        self.shared.fail_any.lock().unwrap().extend(std::iter::repeat_n(failure, n));
    }

    /// The next `n` message sends fail with `failure`; lookups and uploads in between are answered normally.
    pub fn fail_next_send(&self, n: usize, failure: Failure) {
        check_applicable(self.kind, failure);
        self.shared.fail_send.lock().unwrap().extend(std::iter::repeat_n(failure, n));
    }

    /// Every send to `recipient` fails with `failure` until [`Self::heal_recipient`].
    pub fn fail_recipient(&self, recipient: &str, failure: Failure) {
        check_applicable(self.kind, failure);
        self.shared.by_recipient.lock().unwrap().insert(digits(recipient), failure);
    }

    pub fn heal_recipient(&self, recipient: &str) {
        self.shared.by_recipient.lock().unwrap().remove(&digits(recipient));
    }

    /// Delays every answer by `delay` (zero turns it off): for timeout tests.
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    /// Registers media the mock serves under `id` (Meta/360dialog media id, Twilio media path id, Evolution message
    /// key id).
    pub fn add_media(&self, id: &str, bytes: &[u8], mime: &str) {
        let media = Media { bytes: bytes.to_vec(), mime: mime.to_owned() };
        self.shared.media.lock().unwrap().insert(id.to_owned(), media);
    }

    /// Evolution: the state `GET /instance/connectionState/{instance}` reports (`open`, `connecting`, `close`).
    pub fn set_connection_state(&self, state: &str) {
        *self.shared.connection_state.lock().unwrap() = state.to_owned();
    }

    /// Chatwoot: the contacts the mock knows (created through the API or seeded).
    pub fn chatwoot_contacts(&self) -> Vec<Value> {
        self.shared.chatwoot.lock().unwrap().contacts.clone()
    }

    /// Chatwoot: seeds a contact (as if created in Chatwoot's UI) and returns its id.
    pub fn add_chatwoot_contact(&self, name: &str, phone: &str) -> i64 {
        let mut state = self.shared.chatwoot.lock().unwrap();
        state.insert_contact(name, phone)
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Evolution and Chatwoot have no 24-hour window: a test scripting one for them is a test bug, caught here.
fn check_applicable(kind: Kind, failure: Failure) {
    if failure == Failure::OutsideWindow && matches!(kind, Kind::Evolution | Kind::Chatwoot) {
        panic!("{kind:?} has no customer-service window; OutsideWindow cannot be scripted for it");
    }
}

/// The one handler: records the request, applies delay and scripted failures, then lets the provider module answer.
async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(kill): ConnectInfo<KillSwitch>,
    request: Request,
) -> Response {
    let mut recorded = record(request).await;
    let (is_send, recipient) = match shared.kind {
        Kind::Meta | Kind::Dialog360 => meta::classify(&recorded),
        Kind::Twilio => twilio::classify(&recorded),
        Kind::Evolution => evolution::classify(&recorded),
        Kind::Chatwoot => chatwoot::classify(&shared, &recorded),
    };
    recorded.is_send = is_send;
    recorded.recipient = recipient.map(|r| digits(&r));
    // Recorded before waiting, so a request whose client gave up (timeout tests) is still seen by the test.
    let index = {
        let mut requests = shared.requests.lock().unwrap();
        requests.push(recorded.clone());
        requests.len() - 1
    };

    let delay = *shared.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let scripted = shared
        .fail_any
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| if is_send { shared.fail_send.lock().unwrap().pop_front() } else { None });
    let answer = match scripted {
        Some(failure) => Answer::Fail(failure),
        None => match shared.kind {
            Kind::Meta | Kind::Dialog360 => meta::route(&shared, &recorded),
            Kind::Twilio => twilio::route(&shared, &recorded),
            Kind::Evolution => evolution::route(&shared, &recorded),
            Kind::Chatwoot => chatwoot::route(&shared, &recorded),
        },
    };
    match answer {
        Answer::Reply(response) => response,
        Answer::Sent(response, id) => {
            if let Some(entry) = shared.requests.lock().unwrap().get_mut(index) {
                entry.assigned_id = Some(id);
            }
            response
        }
        Answer::Fail(Failure::Down) => {
            // The connection is cut before a byte of this response is written: the client sees the socket close.
            kill.trip();
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Answer::Fail(failure) => match shared.kind {
            Kind::Meta | Kind::Dialog360 => meta::failure(failure),
            Kind::Twilio => twilio::failure(failure),
            Kind::Evolution => evolution::failure(failure),
            Kind::Chatwoot => chatwoot::failure(failure),
        },
    }
}

/// Reads the whole request into a [`Recorded`], parsing JSON, form and multipart bodies.
async fn record(request: Request) -> Recorded {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let content_type =
        parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let json = if content_type.contains("json") { serde_json::from_slice(&body).ok() } else { None };
    let mut form = Vec::new();
    let mut recorded_parts = Vec::new();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        form = url::form_urlencoded::parse(&body).into_owned().collect();
    } else if content_type.starts_with("multipart/form-data") {
        let rebuilt = Request::builder()
            .header(header::CONTENT_TYPE, content_type.clone())
            .body(Body::from(body.clone()))
            .unwrap();
        // The boundary is case-sensitive: take the original header, not the lower-cased copy.
        let mut rebuilt = rebuilt;
        if let Some(original) = parts.headers.get(header::CONTENT_TYPE) {
            rebuilt.headers_mut().insert(header::CONTENT_TYPE, original.clone());
        }
        if let Ok(mut multipart) = Multipart::from_request(rebuilt, &()).await {
            while let Ok(Some(field)) = multipart.next_field().await {
                let name = field.name().unwrap_or_default().to_owned();
                let filename = field.file_name().map(str::to_owned);
                let part_type = field.content_type().map(str::to_owned);
                let data = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                if filename.is_none() {
                    form.push((name.clone(), String::from_utf8_lossy(&data).into_owned()));
                }
                recorded_parts.push(RecordedPart { name, filename, content_type: part_type, data });
            }
        }
    }
    Recorded {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers,
        body: body.to_vec(),
        json,
        form,
        parts: recorded_parts,
        is_send: false,
        recipient: None,
        assigned_id: None,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A listener whose connections a handler can cut, so `Failure::Down` is a real dropped connection, not a status code.

/// Set by a handler to make its connection fail: reads see end-of-stream, writes fail, hyper drops the socket.
#[derive(Clone, Default)]
struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    fn trip(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn tripped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

struct KillableListener(TcpListener);

struct KillableStream {
    inner: TcpStream,
    kill: KillSwitch,
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // Accept errors (out of descriptors, a reset during the handshake) are transient for a test server.
            if let Ok((stream, addr)) = self.0.accept().await {
                return (KillableStream { inner: stream, kill: KillSwitch::default() }, addr);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for KillSwitch {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.io().kill.clone()
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.kill.tripped() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.kill.tripped() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "mock provider is down")));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures, ids and JSON editing shared by the provider modules.

/// A fixture file's text, by path under `tests/fixtures/providers/`.
pub fn fixture(relative: &str) -> String {
    let path = format!("{}/tests/fixtures/providers/{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// A JSON fixture, parsed.
pub fn fixture_json(relative: &str) -> Value {
    serde_json::from_str(&fixture(relative)).unwrap_or_else(|e| panic!("fixture {relative} is not JSON: {e}"))
}

/// Sets the value at a JSON pointer. The path must exist: a fixture that changed shape should fail the test loudly
/// rather than produce a webhook the provider never sends.
pub fn set(value: &mut Value, pointer: &str, new: impl Into<Value>) {
    let slot = value.pointer_mut(pointer).unwrap_or_else(|| panic!("fixture has no `{pointer}`"));
    *slot = new.into();
}

/// Adds or replaces a member of the object at `pointer`.
pub fn insert(value: &mut Value, pointer: &str, key: &str, new: impl Into<Value>) {
    let object = value
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("fixture has no object at `{pointer}`"));
    object.insert(key.to_owned(), new.into());
}

/// Removes a member of the object at `pointer`, if there.
pub fn remove(value: &mut Value, pointer: &str, key: &str) {
    if let Some(object) = value.pointer_mut(pointer).and_then(Value::as_object_mut) {
        object.remove(key);
    }
}

/// A number unique in this test process, so ids never collide between mocks or tests.
pub fn next_serial() -> u64 {
    static SERIAL: AtomicU64 = AtomicU64::new(1);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// 32 random lower-case hex digits.
pub fn random_hex32() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Only the digits of a phone number or address (`whatsapp:+1 555-0100` → `15550100`; a JID keeps its user part).
pub fn digits(text: &str) -> String {
    let user = text.split('@').next().unwrap_or_default();
    user.chars().filter(char::is_ascii_digit).collect()
}

/// Now, in unix seconds.
pub fn now_secs() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

/// A JSON answer with the given status.
fn json_reply(status: u16, value: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let mut response = (status, serde_json::to_vec(value).unwrap()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}

/// Raw bytes with a content type (media downloads, plain-text errors).
fn bytes_reply(status: u16, content_type: &str, bytes: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
    response
}

// ---------------------------------------------------------------------------------------------------------------
// Webhooks to the app.

/// A webhook ready to post: what the provider would put on the wire.
#[derive(Debug, Clone)]
pub struct BuiltWebhook {
    pub content_type: String,
    /// Extra headers (signatures), names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl BuiltWebhook {
    /// A JSON webhook without a signature (360dialog, Evolution, Chatwoot without a secret).
    pub fn json(value: &Value) -> Self {
        Self {
            content_type: "application/json".to_owned(),
            headers: Vec::new(),
            body: serde_json::to_vec(value).unwrap(),
        }
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Posts a built webhook to `url` as the provider would.
pub async fn post_webhook(url: &str, built: &BuiltWebhook) -> reqwest::Response {
    conversure::init_crypto();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut request = client.post(url).header("content-type", &built.content_type).body(built.body.clone());
    for (name, value) in &built.headers {
        request = request.header(name, value);
    }
    request.send().await.expect("webhook delivery")
}
