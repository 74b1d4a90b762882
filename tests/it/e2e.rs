//! The install wizard end to end in a real browser (Debian's Chromium, driven through its ChromeDriver), on SQLite
//! and on Postgres, with a screenshot of every step kept under `target/e2e-screenshots/<run>/` as test artifacts.
//!
//! The browser talks to the app exactly as a buyer's would: `hx-boost` turns every step's form into an htmx swap, so
//! after each click the test waits for an element only the next page has (each step has its own form id), never for
//! a navigation and never with a sleep.
//!
//! The WebDriver client is the few W3C endpoints this needs, over `reqwest`: fantoccini without its TLS features has
//! no connector the tests could name (its `ClientBuilder::new` wants a `hyper-util` connector, not a dependency here).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, free_port, spawn_app};
use crate::license_server::test_license;
use crate::pg::TestDatabase;
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long an explicit wait gives the page (the whole scenario takes a few seconds).
const WAIT: Duration = Duration::from_secs(15);
/// The W3C key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether Chromium and ChromeDriver are installed. Missing ones skip the test, or fail it under `scripts/test.sh`
/// (`CONVERSURE_REQUIRE_POSTGRES=1`), which installs them, so the browser half is never skipped silently there.
fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !Path::new(p).exists()).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CONVERSURE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
        "{missing:?} not found but CONVERSURE_REQUIRE_POSTGRES=1: run the tests through scripts/test.sh, which installs \
         Debian's chromium and chromium-driver"
    );
    eprintln!("skipping the browser tests: {missing:?} not found (apt-get install chromium chromium-driver)");
    false
}

/// Where a run's screenshots go: `target/e2e-screenshots/<run>/`, emptied first so only this run's files are there.
fn screenshot_dir(run: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("e2e-screenshots").join(run);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

// ---- WebDriver ------------------------------------------------------------------------------------------------

/// A `chromedriver` child process on a free loopback port, killed on drop.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    async fn start(http: &reqwest::Client) -> Self {
        // The port is free when picked; another process may take it before chromedriver binds, so retry then.
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver");
            let mut driver = Self { child, port };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if driver.child.try_wait().expect("chromedriver status").is_some() {
                    break; // exited (port taken?): next port
                }
                let status = http.get(format!("http://127.0.0.1:{port}/status")).send().await;
                if status.is_ok_and(|s| s.status().is_success()) {
                    return driver;
                }
                assert!(Instant::now() < deadline, "chromedriver did not answer on port {port} within 10 s");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("chromedriver exited at start three times");
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An element reference, valid until htmx swaps the page around it: look elements up again after every step.
pub(crate) struct Element(String);

/// A WebDriver failure: the W3C error code (`no such element`, ...) and the driver's message.
struct WdError {
    error: String,
    message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// One headless Chromium session with its own fresh profile, and the screenshots it takes.
pub(crate) struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`
    session: String,
    shots: PathBuf,
    shot_count: AtomicU32,
    started: Instant,
    // Dropped in this order, after the session is deleted: the driver, then the profile directory.
    _driver: Chromedriver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (the test is skipped) when they are not installed.
    pub(crate) async fn start(run: &str) -> Option<Self> {
        if !browser_available() {
            return None;
        }
        let started = Instant::now();
        conversure::init_crypto(); // reqwest is built without a default rustls provider
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().expect("client");
        let driver = Chromedriver::start(&http).await;
        let profile = tempfile::tempdir().expect("profile directory");
        // No network here beyond loopback: without the background-networking flags Chromium keeps dialling out.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1600",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "timeouts": { "pageLoad": 20_000, "script": 10_000 },
        }}});
        let base = format!("http://127.0.0.1:{}/session", driver.port);
        let response = http.post(&base).json(&capabilities).send().await.expect("new session request");
        let status = response.status();
        let body: Value = response.json().await.expect("new session answer");
        assert!(status.is_success(), "chromedriver refused the session: {body}");
        let id = body["value"]["sessionId"].as_str().expect("session id").to_owned();
        Some(Self {
            http,
            session: format!("{base}/{id}"),
            shots: screenshot_dir(run),
            shot_count: AtomicU32::new(0),
            started,
            _driver: driver,
            _profile: profile,
        })
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("WebDriver request");
        let ok = response.status().is_success();
        let mut answer: Value = response.json().await.expect("WebDriver answer is JSON");
        let value = answer["value"].take();
        if ok {
            Ok(value)
        } else {
            let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
            Err(WdError { error: text("error"), message: text("message") })
        }
    }

    async fn must(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        match self.call(method, path, body).await {
            Ok(value) => value,
            Err(err) => panic!("WebDriver {path}: {err} (on {})", self.url().await),
        }
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.must(Method::POST, "/url", Some(json!({ "url": url }))).await;
        // Remember the responses htmx refused to swap (a 4xx/5xx is not swapped by default), for `fail` to report.
        self.execute(
            "window.refusedSwaps = [];
             document.addEventListener('htmx:responseError', e =>
                 window.refusedSwaps.push(e.detail.xhr.status + ' ' + e.detail.requestConfig.verb + ' '
                     + e.detail.pathInfo.requestPath));",
            vec![],
        )
        .await;
    }

    pub(crate) async fn url(&self) -> String {
        let value = self.call(Method::GET, "/url", None).await;
        value.ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    pub(crate) async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.must(Method::POST, "/execute/sync", Some(json!({ "script": script, "args": args }))).await
    }

    async fn find(&self, css: &str) -> Option<Element> {
        match self.call(Method::POST, "/element", Some(json!({ "using": "css selector", "value": css }))).await {
            Ok(value) => Some(Element(value[ELEMENT_KEY].as_str().expect("element reference").to_owned())),
            Err(err) if err.error == "no such element" => None,
            Err(err) => panic!("finding {css}: {err}"),
        }
    }

    /// Waits for an element matching `css`; on time-out, fails with a screenshot and the page's text.
    pub(crate) async fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(element) = self.find(css).await {
                return element;
            }
            if Instant::now() > deadline {
                self.fail(&format!("waited {WAIT:?} for {css}")).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `script` returns something truthy, and returns it.
    async fn wait_until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.execute(script, vec![]).await;
            if !matches!(value, Value::Null | Value::Bool(false)) && value != json!("") && value != json!(0) {
                return value;
            }
            if Instant::now() > deadline {
                self.fail(&format!("waited {WAIT:?} for {what}")).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn fail(&self, why: &str) -> ! {
        let shot = self.shot("failure").await;
        let text = self.execute("return document.body ? document.body.innerText : ''", vec![]).await;
        let refused = self.execute("return (window.refusedSwaps || []).join(', ')", vec![]).await;
        panic!(
            "{why}, on {}\nresponses htmx did not swap in: [{}]\nscreenshot: {}\npage text:\n{}",
            self.url().await,
            refused.as_str().unwrap_or_default(),
            shot.display(),
            text.as_str().unwrap_or_default()
        );
    }

    async fn element_call(&self, method: Method, css: &str, what: &str, body: Option<Value>) -> Value {
        let Element(id) = self.wait_for(css).await;
        self.must(method, &format!("/element/{id}/{what}"), body).await
    }

    pub(crate) async fn click(&self, css: &str) {
        self.element_call(Method::POST, css, "click", Some(json!({}))).await;
    }

    /// Types `text` into the field, replacing what it held (for a file input: selects the file at that path).
    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let Element(id) = self.wait_for(css).await;
        let file = self.must(Method::GET, &format!("/element/{id}/property/type"), None).await == json!("file");
        if !file {
            self.must(Method::POST, &format!("/element/{id}/clear"), Some(json!({}))).await;
        }
        self.must(Method::POST, &format!("/element/{id}/value"), Some(json!({ "text": text }))).await;
    }

    /// Presses and releases one key on whatever has the focus, as a user's keyboard would (WebDriver actions).
    pub(crate) async fn press(&self, key: &str) {
        let keys = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
            { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }
        ]}]});
        self.must(Method::POST, "/actions", Some(keys)).await;
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.element_call(Method::GET, css, "text", None).await.as_str().unwrap_or_default().to_owned()
    }

    async fn prop(&self, css: &str, name: &str) -> Value {
        self.element_call(Method::GET, css, &format!("property/{name}"), None).await
    }

    /// The browser's cookies for the current page as a `Cookie` header (HttpOnly ones included).
    async fn cookie_header(&self) -> String {
        let cookies = self.must(Method::GET, "/cookie", None).await;
        let pairs =
            cookies.as_array().expect("cookie list").iter().map(|c| {
                format!("{}={}", c["name"].as_str().unwrap_or_default(), c["value"].as_str().unwrap_or_default())
            });
        pairs.collect::<Vec<_>>().join("; ")
    }

    /// Saves the viewport as `<NN>-<step>.png` in this run's folder.
    pub(crate) async fn shot(&self, step: &str) -> PathBuf {
        let number = self.shot_count.fetch_add(1, Ordering::Relaxed) + 1;
        let png = self.must(Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(png.as_str().expect("base64 PNG")).expect("PNG");
        let path = self.shots.join(format!("{number:02}-{step}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    pub(crate) fn done(&self, what: &str) {
        eprintln!(
            "e2e {what}: {:.1} s in the browser; screenshots in {}",
            self.started.elapsed().as_secs_f64(),
            self.shots.display()
        );
    }
}

impl Drop for Browser {
    /// Ends the session so chromedriver closes Chromium, before the driver process is killed.
    fn drop(&mut self) {
        let session = self.session.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build();
                if let Ok(http) = http {
                    let _ = http.delete(session).send().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

// ---- The scenario ---------------------------------------------------------------------------------------------

/// The status of the document the browser shows (Navigation Timing).
const NAVIGATION_STATUS: &str = "return performance.getEntriesByType('navigation')[0].responseStatus";

/// Asserts the error `#<field>-error` is shown inside the field holding `#<field>`, with the text `expected`.
async fn assert_field_error(browser: &Browser, field: &str, expected: &str) {
    let error = browser.text(&format!("#{field}-error")).await;
    assert!(!error.is_empty() && error.contains(expected), "the {field} error reads {error:?}, expected {expected:?}");
    let beside = browser
        .execute(
            "const e = document.getElementById(arguments[0] + '-error'); const f = e && e.closest('.field');
             return !!f && f.classList.contains('field--invalid') && !!f.querySelector('#' + arguments[0]);",
            vec![json!(field)],
        )
        .await;
    assert_eq!(beside, json!(true), "the {field} error is shown in the field itself");
}

both_backends!(the_install_wizard_in_chromium, the_install_wizard_in_chromium_on);
async fn the_install_wizard_in_chromium_on(backend: Backend) {
    // Postgres is chosen in the browser on an instance started on SQLite: the in-process switch.
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => match TestDatabase::create().await {
            Some(pg) => Some(pg),
            None => return,
        },
    };
    let run = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let Some(browser) = Browser::start(run).await else { return };
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };

    // Requirements.
    browser.goto(&app.url(&format!("/install?token={}", app.setup_token()))).await;
    browser.wait_for("#checks .checks").await;
    assert!(browser.url().await.ends_with("/install"), "the token left the address bar");
    browser.shot("requirements").await;
    browser.click("#next").await;

    // Database.
    browser.wait_for("#database-form").await;
    browser.shot("database").await;
    if let Some(pg) = &pg {
        browser.click("input[name=kind][value=postgres]").await;
        if browser.prop("#database-form details", "open").await != json!(true) {
            browser.click("#database-form details > summary").await;
        }
        browser.fill("input[name=url]", &pg.url).await;
        browser.shot("database-postgres").await;
        browser.click("#test-connection").await;
        browser.wait_for("#probe").await;
        let connected = browser.text(".alert--success").await;
        assert!(connected.contains("PostgreSQL"), "test connection names the server: {connected:?}");
        browser.shot("database-tested").await;
        // The form keeps the choice for "Use this database".
        assert_eq!(browser.prop("input[name=kind][value=postgres]", "checked").await, json!(true));
        if browser.prop("input[name=url]", "value").await != json!(pg.url) {
            browser.fill("input[name=url]", &pg.url).await;
        }
    } else {
        assert_eq!(browser.prop("input[name=kind][value=sqlite]", "checked").await, json!(true), "SQLite by default");
    }
    browser.click("#next").await;
    browser.wait_for("#migrations").await;
    browser.shot("migrations").await;
    browser.click("#migrations #next").await;

    // License: a tampered file first, then evaluation.
    browser.wait_for("#license-form").await;
    browser.shot("license").await;
    let mut tampered = test_license(None, None).into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let file = tempfile::Builder::new().suffix(".json").tempfile().expect("license file");
    std::fs::write(file.path(), &tampered).expect("write the license file");
    browser.click("input[name=way][value=file]").await;
    browser.fill("input[name=license_file]", file.path().to_str().expect("UTF-8 path")).await;
    browser.click("#next").await;
    browser.wait_for("#license_file-error").await;
    assert_field_error(&browser, "license_file", "changed").await;
    browser.shot("license-tampered").await;
    browser.click("input[name=way][value=evaluation]").await;
    browser.click("#next").await;

    // Site.
    browser.wait_for("#site-form").await;
    let public_url = browser.prop("#public_url", "value").await;
    assert!(public_url.as_str().is_some_and(|u| u.starts_with("http")), "the public URL is prefilled: {public_url}");
    browser.shot("site").await;
    browser.fill("#name", "Acme Chat").await;
    browser.click("#timezone option[value='Europe/Berlin']").await;
    browser.click("#language option[value=en]").await;
    assert_eq!(browser.prop("#timezone", "value").await, json!("Europe/Berlin"));
    browser.shot("site-filled").await;
    browser.click("#next").await;

    // Admin: a weak password first.
    browser.wait_for("#admin-form").await;
    browser.shot("admin").await;
    browser.fill("#workspace_name", "Acme Support").await;
    browser.fill("#name", "Olivia Owner").await;
    browser.fill("#email", ADMIN_EMAIL).await;
    browser.fill("#password", "password123").await;
    browser.fill("#password_confirm", "password123").await;
    browser.click("#next").await;
    browser.wait_for("#password-error").await;
    assert_field_error(&browser, "password", "too easy to guess").await;
    assert_eq!(browser.prop("#email", "value").await, json!(ADMIN_EMAIL), "the other fields are kept");
    browser.shot("admin-weak-password").await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.fill("#password_confirm", ADMIN_PASSWORD).await;
    browser.click("#next").await;

    // Email: skipped.
    browser.wait_for("#email-form").await;
    browser.shot("email").await;
    browser.click("#skip").await;

    // Finish: the summary, the recovery kit (fetched with the browser's cookies: headless Chromium does not keep
    // downloads), the confirmation.
    browser.wait_for("#finish-form").await;
    let summary = browser.text("#summary").await;
    assert!(summary.contains("Acme Chat") && summary.contains(ADMIN_EMAIL), "the summary: {summary:?}");
    if let Some(pg) = &pg {
        let name = pg.url.rsplit('/').next().unwrap_or_default();
        assert!(summary.contains(name), "the summary names the Postgres database: {summary:?}");
    }
    browser.shot("finish").await;
    let href = browser.prop("#recovery-kit", "href").await;
    assert_eq!(href, json!(app.url("/install/recovery-kit")));
    let kit = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(app.url("/install/recovery-kit"))
        .header("cookie", browser.cookie_header().await)
        .send()
        .await
        .expect("recovery kit");
    assert_eq!(kit.status(), 200);
    let kit = kit.text().await.expect("recovery kit text");
    assert!(kit.contains("Data encryption key:") && kit.contains(ADMIN_EMAIL), "the recovery kit");
    if browser.prop("#kit_saved", "checked").await != json!(true) {
        browser.click("#kit_saved").await;
    }
    browser.click("#finish").await;

    // Sign in.
    browser.wait_for("#login-form").await;
    let url = browser.url().await;
    assert!(url.contains("/login"), "finishing lands on the sign-in page: {url}");
    let alert = browser.text(".alert").await;
    assert!(alert.contains("Setup is complete"), "the sign-in page says the install is done: {alert:?}");
    browser.shot("login").await;
    browser.fill("#email", ADMIN_EMAIL).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for("#license-status").await;
    assert_eq!(browser.url().await, app.url("/"));
    let status = browser.text("#license-status").await;
    assert!(status.to_lowercase().contains("evaluation"), "the home page shows the evaluation: {status:?}");
    browser.shot("home").await;

    // The wizard is gone.
    browser.goto(&app.url("/install")).await;
    browser.wait_for(".error-page").await;
    assert_eq!(browser.execute(NAVIGATION_STATUS, vec![]).await, json!(404));
    browser.shot("install-gone").await;

    if let Some(pg) = &pg {
        let config = std::fs::read_to_string(app.data_dir.path().join("config.toml")).expect("config.toml");
        assert!(config.contains(&format!("database_url = \"{}\"", pg.url)), "the instance moved to Postgres");
    }
    browser.done(run);
    let _ = app.stop().await;
}

/// The footer's Arabic link turns the page right-to-left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arabic_pages_are_right_to_left() {
    let Some(browser) = Browser::start("rtl").await else { return };
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    browser.goto(&app.url(&format!("/install?token={}", app.setup_token()))).await;
    browser.wait_for("#checks .checks").await;
    assert_eq!(browser.execute("return document.documentElement.dir", vec![]).await, json!("ltr"));
    browser.click(".lang-switch a[hreflang=ar]").await;
    browser.wait_until("the Arabic page", "return document.documentElement.lang === 'ar'").await;
    assert_eq!(browser.execute("return document.documentElement.dir", vec![]).await, json!("rtl"));
    browser.wait_for("#checks .checks").await;
    assert!(browser.url().await.ends_with("/install"), "the language link comes back to the page");
    browser.shot("requirements-ar").await;
    // One form step too, where the fields and buttons have to mirror.
    browser.click("#next").await;
    browser.wait_for("#database-form").await;
    assert_eq!(browser.execute("return document.documentElement.dir", vec![]).await, json!("rtl"));
    browser.shot("database-ar").await;
    browser.done("rtl");
    let _ = app.stop().await;
}
