//! One-click update against a local release server, with the app as a real process run from a copy of the built
//! binary: a signed new version installs and reports its version; a bad signature or checksum changes nothing; a
//! new version that fails its health check is rolled back, executable and data; `update check` and containers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conversure::config::DatabaseUrl;
use conversure::domain::role::Role;
use conversure::services::access::Actor;
use conversure::services::api_keys::{ApiKeyService, NewKey};
use conversure::services::update::keys::TEST_SEED_HEX;
use conversure::services::update::manifest::{FORMAT, Manifest, TARGET, sign_asset};
use conversure::store::{Db, accounts};
use serde_json::Value;

use crate::helpers::{binary, free_port};
use crate::web_user::csrf_of;
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

/// What the release server publishes: the manifest's JSON and the archive's bytes.
type Published = Arc<Mutex<(Vec<u8>, Vec<u8>)>>;

async fn release_server(published: Published) -> String {
    conversure::init_crypto();
    use axum::routing::get;
    let manifest = Arc::clone(&published);
    let app = axum::Router::new()
        .route("/manifest.json", get(move || async move { manifest.lock().unwrap().0.clone() }))
        .route("/asset.tar.zst", get(move || async move { published.lock().unwrap().1.clone() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn seed() -> [u8; 32] {
    hex::decode(TEST_SEED_HEX).unwrap().try_into().unwrap()
}

fn archive_of(executable: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(executable.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    builder.append_data(&mut header, "conversure", executable).unwrap();
    zstd::encode_all(builder.into_inner().unwrap().as_slice(), 3).unwrap()
}

/// Publishes `script` as version 0.2.0, signed with `seed`; `served` replaces the archive actually served.
fn publish(published: &Published, base: &str, script: &str, seed: &[u8; 32], served: Option<Vec<u8>>) {
    let archive = archive_of(script.as_bytes());
    let asset = sign_asset(seed, "release-test", "0.2.0", TARGET, &format!("{base}/asset.tar.zst"), &archive);
    let manifest = Manifest {
        format: FORMAT,
        version: "0.2.0".into(),
        published_at: "2026-11-22T10:00:00Z".into(),
        notes: "Faster inbox <b>and</b> fixes.".into(),
        assets: vec![asset],
    };
    *published.lock().unwrap() = (serde_json::to_vec(&manifest).unwrap(), served.unwrap_or(archive));
}

/// A new version that is the real binary pretending to be 0.2.0.
fn healthy_script() -> String {
    format!("#!/bin/sh\nCONVERSURE_TEST_VERSION=0.2.0 exec '{}' \"$@\"\n", binary().display())
}

/// A new version that passes its smoke test, then changes the data and dies instead of serving.
fn failing_script(data: &Path) -> String {
    let real = binary().display().to_string();
    format!(
        "#!/bin/sh\nif [ \"$1\" = version ]; then CONVERSURE_TEST_VERSION=0.2.0 exec '{real}' \"$@\"; fi\n\
         '{real}' workspace create --data-dir '{}' --name Intruder --slug intruder >/dev/null 2>&1\nexit 1\n",
        data.display()
    )
}

/// A new version that passes its smoke test, then never answers its health check.
fn unresponsive_script() -> String {
    let real = binary().display().to_string();
    format!(
        "#!/bin/sh\nif [ \"$1\" = version ]; then CONVERSURE_TEST_VERSION=0.2.0 exec '{real}' \"$@\"; fi\nexec sleep 120\n"
    )
}

struct Instance {
    _root: tempfile::TempDir,
    exe: PathBuf,
    data: PathBuf,
    port: u16,
    manifest_url: String,
    child: Option<Child>,
    log: PathBuf,
}

fn command(exe: &Path, manifest_url: &str) -> Command {
    let mut command = Command::new(exe);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CONVERSURE_")) {
        command.env_remove(key);
    }
    command
        .env_remove("INVOCATION_ID")
        .env_remove("container")
        // The tests may run in a container themselves; the `container` variable still marks one.
        .env("CONVERSURE_TEST_IGNORE_CONTAINER_FILES", "1")
        .env("CONVERSURE_NETWORK_PROBE_URL", "http://127.0.0.1:9/")
        .env("CONVERSURE_UPDATE_MANIFEST_URL", manifest_url)
        .current_dir("/");
    command
}

impl Instance {
    /// Copies the binary, installs through the CLI and returns an owner API key.
    async fn installed(manifest_url: &str) -> (Self, String) {
        let root = tempfile::tempdir().unwrap();
        let exe = root.path().join("bin").join("conversure");
        std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
        std::fs::copy(binary(), &exe).unwrap();
        let data = root.path().join("data");
        let password = root.path().join("password");
        std::fs::write(&password, format!("{ADMIN_PASSWORD}\n")).unwrap();
        let output = command(&exe, manifest_url)
            .args(["install", "--data-dir", data.to_str().unwrap(), "--admin-email", ADMIN_EMAIL])
            .args(["--admin-password-file", password.to_str().unwrap(), "--site-url", "https://crm.acme.example"])
            .args(["--evaluation", "--workspace-name", "Acme Support"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let db = Db::open(&DatabaseUrl::Sqlite(data.join("conversure.db"))).await.unwrap();
        let mut conn = db.read().await.unwrap();
        let owner = accounts::user_by_email(&mut conn, ADMIN_EMAIL).await.unwrap().unwrap();
        let workspace_id = accounts::memberships_of(&mut conn, owner.id).await.unwrap()[0].workspace.id;
        drop(conn);
        let actor = Actor::user(owner.id, ADMIN_EMAIL, true, workspace_id, Role::Admin);
        let new = NewKey { name: "Updates".into(), scope: "admin".into() };
        let key = ApiKeyService::new(db.clone()).create(&actor, &new).await.unwrap().secret;
        db.close().await;
        let log = root.path().join("serve.log");
        let instance =
            Self { exe, data, port: free_port(), manifest_url: manifest_url.to_owned(), child: None, log, _root: root };
        (instance, key)
    }

    fn start(&mut self, extra_env: &[(&str, &str)]) {
        let log = std::fs::File::create(&self.log).unwrap();
        let mut command = command(&self.exe, &self.manifest_url);
        command.args(["serve", "--data-dir", self.data.to_str().unwrap(), "--listen"]);
        command.arg(format!("127.0.0.1:{}", self.port)).envs(extra_env.iter().copied());
        command.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        self.child = Some(command.spawn().unwrap());
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/healthz` answers healthy with `version`.
    async fn wait_for_version(&self, version: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(answer) = reqwest::get(self.url("/healthz")).await
                && let Ok(body) = answer.json::<Value>().await
                && body["version"] == version
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("/healthz never reported {version}; log:\n{}", self.log());
    }

    /// Waits until the process that the health gate handed over to reports the attempt's outcome. `/healthz` alone
    /// is not enough: the gate's trial run of the new version answers it too, before the outcome is decided.
    async fn wait_for_outcome(&self, key: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(Instant::now() < deadline, "no outcome; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(300)).await;
            if let Ok(answer) =
                reqwest::Client::new().get(self.url("/api/v1/instance/update")).bearer_auth(key).send().await
                && let Ok(body) = answer.json::<Value>().await
                && !body["last_attempt"]["outcome"].is_null()
            {
                return body;
            }
        }
    }

    async fn api(&self, method: reqwest::Method, path: &str, key: &str) -> (u16, Value) {
        let answer = reqwest::Client::new().request(method, self.url(path)).bearer_auth(key).send().await.unwrap();
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    fn backups(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.data.join("backups")) else { return Vec::new() };
        entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_release_changes_nothing_and_a_signed_one_installs() {
    let published: Published = Arc::default();
    let base = release_server(Arc::clone(&published)).await;
    let (mut app, key) = Instance::installed(&format!("{base}/manifest.json")).await;
    let original = std::fs::read(&app.exe).unwrap();
    app.start(&[]);
    app.wait_for_version("0.1.0").await;
    let apply = "/api/v1/instance/update/apply";

    // Signed with a key this build does not trust: refused with the reason, nothing changed.
    publish(&published, &base, &healthy_script(), &[7; 32], None);
    let (status, body) = app.api(reqwest::Method::POST, apply, &key).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("signature"), "{body}");
    // A correct signature over other bytes than the ones served: the checksum refuses them.
    let other = archive_of(b"#!/bin/sh\nexit 0\n#.................................");
    publish(&published, &base, &healthy_script(), &seed(), Some(other));
    let (status, body) = app.api(reqwest::Method::POST, apply, &key).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("SHA-256") || body.to_string().contains("bytes"), "{body}");
    assert_eq!(std::fs::read(&app.exe).unwrap(), original, "the executable was touched");
    assert!(app.backups().iter().all(|f| !f.contains("pre-update")), "{:?}", app.backups());
    app.wait_for_version("0.1.0").await;

    // The check offers 0.2.0 with its notes.
    publish(&published, &base, &healthy_script(), &seed(), None);
    let (status, body) = app.api(reqwest::Method::POST, "/api/v1/instance/update/check", &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["available_version"], "0.2.0", "{body}");
    assert_eq!(body["can_apply"], true, "{body}");

    // The signed release installs, restarts and reports its version; the old executable is kept.
    let (status, body) = app.api(reqwest::Method::POST, apply, &key).await;
    assert_eq!(status, 202, "{body}");
    let body = app.wait_for_outcome(&key).await;
    assert_eq!(body["current_version"], "0.2.0", "{body}");
    assert_eq!(std::fs::read_to_string(&app.exe).unwrap(), healthy_script());
    assert_eq!(std::fs::read(conversure::services::update::state::old_exe(&app.exe)).unwrap(), original);
    assert!(app.backups().iter().any(|f| f.contains("pre-update")), "{:?}", app.backups());
    assert_eq!(body["last_attempt"]["outcome"]["succeeded"], true, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_that_fails_its_health_check_is_rolled_back() {
    let published: Published = Arc::default();
    let base = release_server(Arc::clone(&published)).await;
    let (mut app, key) = Instance::installed(&format!("{base}/manifest.json")).await;
    let original = std::fs::read(&app.exe).unwrap();
    publish(&published, &base, &failing_script(&app.data), &seed(), None);
    app.start(&[]);
    app.wait_for_version("0.1.0").await;
    let (status, body) = app.api(reqwest::Method::POST, "/api/v1/instance/update/apply", &key).await;
    assert_eq!(status, 202, "{body}");

    let outcome = app.wait_for_outcome(&key).await;
    assert_eq!(outcome["current_version"], "0.1.0", "{outcome}");
    assert_eq!(outcome["last_attempt"]["outcome"]["succeeded"], false, "{outcome}");
    assert!(outcome["last_attempt"]["outcome"]["reason"].as_str().unwrap().contains("stopped"), "{outcome}");
    assert_eq!(std::fs::read(&app.exe).unwrap(), original, "the old executable is back");
    // The workspace the failed version created is gone: the data came back from the pre-update backup.
    let (_, workspaces) = app.api(reqwest::Method::GET, "/api/v1/workspaces", &key).await;
    assert!(!workspaces.to_string().contains("intruder"), "{workspaces}");
    assert!(workspaces.to_string().contains("Acme Support"), "{workspaces}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_requested_during_the_health_check_rolls_back_and_does_not_restart() {
    let published: Published = Arc::default();
    let base = release_server(Arc::clone(&published)).await;
    let (mut app, key) = Instance::installed(&format!("{base}/manifest.json")).await;
    let original = std::fs::read(&app.exe).unwrap();
    publish(&published, &base, &unresponsive_script(), &seed(), None);
    app.start(&[]);
    app.wait_for_version("0.1.0").await;
    let (status, body) = app.api(reqwest::Method::POST, "/api/v1/instance/update/apply", &key).await;
    assert_eq!(status, 202, "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !app.log().contains("behind the health gate") {
        assert!(Instant::now() < deadline, "the gate never started; log:\n{}", app.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // As `systemctl stop` would: the process ends instead of waiting out the gate and restarting.
    let mut child = app.child.take().unwrap();
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after SIGTERM; log:\n{}", app.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}; log:\n{}", app.log());
    assert!(!app.log().contains("Conversure 0.2.0 is running"), "{}", app.log());
    let state: Value = serde_json::from_slice(&std::fs::read(app.data.join("update-state.json")).unwrap()).unwrap();
    assert_eq!(state["outcome"]["succeeded"], false, "{state}");
    assert!(state["outcome"]["reason"].as_str().unwrap().contains("asked to stop"), "{state}");
    assert_eq!(std::fs::read(&app.exe).unwrap(), original, "the old executable is back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_check_prints_the_new_version_and_containers_get_the_pull_message() {
    let published: Published = Arc::default();
    let base = release_server(Arc::clone(&published)).await;
    let (app, _key) = Instance::installed(&format!("{base}/manifest.json")).await;
    publish(&published, &base, &healthy_script(), &seed(), None);
    let check = |container: Option<&str>| {
        let mut command = command(&app.exe, &app.manifest_url);
        command.args(["update", "check", "--data-dir", app.data.to_str().unwrap()]);
        if let Some(kind) = container {
            command.env("container", kind);
        }
        command.output().unwrap()
    };
    let (plain, contained) = (check(None), check(Some("docker")));
    let said = String::from_utf8_lossy(&plain.stdout);
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    assert!(said.contains("version 0.2.0 is available"), "{said}");
    assert!(said.contains("Faster inbox"), "{said}");
    let said = String::from_utf8_lossy(&contained.stdout);
    assert!(contained.status.success());
    assert!(said.contains("docker pull"), "{said}");
}

/// A signed-in owner's cookie client on a served instance (redirects not followed).
async fn owner_session(app: &Instance) -> reqwest::Client {
    let client =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = client.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let form = [("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf", &csrf_of(&login)), ("next", "/")];
    let signed = client.post(app.url("/login")).form(&form).send().await.unwrap();
    assert_eq!(signed.status(), 303, "the owner signs in");
    client
}

async fn page(client: &reqwest::Client, url: String) -> (u16, String) {
    let answer = client.get(url).send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_page_offers_the_new_version_and_follows_the_update() {
    let published: Published = Arc::default();
    let base = release_server(Arc::clone(&published)).await;
    let (mut app, _key) = Instance::installed(&format!("{base}/manifest.json")).await;
    let original = std::fs::read(&app.exe).unwrap();
    publish(&published, &base, &healthy_script(), &seed(), None);
    app.start(&[]);
    app.wait_for_version("0.1.0").await;
    let owner = owner_session(&app).await;

    // Before any check: the running version, no banner, nothing to install.
    let (status, html) = page(&owner, app.url("/owner/update")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"update-current\">0.1.0<"), "{html}");
    assert!(!html.contains("id=\"update-now\""), "{html}");
    assert!(!page(&owner, app.url("/owner")).await.1.contains("id=\"update-banner\""));

    // "Check now": every panel page shows the banner; the update page the notes, escaped, and the button.
    let csrf = csrf_of(&html);
    let checked = owner.post(app.url("/owner/update/check")).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(checked.headers()["location"], "/owner/update?done=checked");
    let (_, panel) = page(&owner, app.url("/owner")).await;
    assert!(panel.contains("id=\"update-banner\"") && panel.contains("Version 0.2.0 of Conversure"), "{panel}");
    let (_, html) = page(&owner, app.url("/owner/update")).await;
    assert!(html.contains("id=\"update-notes\">Faster inbox &#60;b&#62;and"), "the notes, escaped: {html}");
    assert!(html.contains("id=\"update-now\""), "{html}");
    assert!(!html.contains("id=\"update-banner\""), "the page shows the offer itself");

    // Without the confirmation nothing happens.
    let refused = owner.post(app.url("/owner/update/apply")).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("Tick the box"));
    assert_eq!(std::fs::read(&app.exe).unwrap(), original, "the executable was touched");

    // Confirmed: back to the page, which follows the restart until the new version answers.
    let form = [("csrf", csrf.as_str()), ("confirm", "on")];
    let applied = owner.post(app.url("/owner/update/apply")).form(&form).send().await.unwrap();
    assert_eq!(applied.status(), 303, "{}", applied.text().await.unwrap());
    assert_eq!(applied.headers()["location"], "/owner/update");
    app.wait_for_version("0.2.0").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the progress never ended; log:\n{}", app.log());
        if let Ok(answer) = owner.get(app.url("/owner/update/progress?watching=true")).send().await
            && answer.headers().get("hx-refresh").is_some_and(|v| v == "true")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (_, html) = page(&owner, app.url("/owner/update")).await;
    assert!(html.contains("id=\"update-current\">0.2.0<"), "{html}");
    assert!(html.contains("data-state=\"succeeded\""), "{html}");
    assert!(!html.contains("id=\"update-progress\" role"), "{html}");
    assert!(!page(&owner, app.url("/owner")).await.1.contains("id=\"update-banner\""), "nothing newer now");
    // The new process reports the outcome in the audit log, under its label.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !page(&owner, app.url("/owner/audit")).await.1.contains("Update succeeded") {
        assert!(Instant::now() < deadline, "no audit entry; log:\n{}", app.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
