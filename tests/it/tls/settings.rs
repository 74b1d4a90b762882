//! The owner's HTTPS settings: validated as start-up reads them (bad input is 422 and `config.toml` keeps its
//! bytes), saved, shown on `/owner/tls` with the fields the environment fixes, and applied by "Restart now": a real
//! `serve` process restarts in place and answers HTTPS with a Pebble-issued certificate for the domain entered.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::Serve;
use super::support::{Pebble, https_get_eventually};
use crate::api::installed_with;
use crate::both_backends;
use crate::helpers::{Backend, binary, free_port};
use crate::web_user::{Browser, csrf_of, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const FIXED_DIRECTORY: &str = "https://acme.example.net/directory";

both_backends!(https_settings_are_validated_saved_and_shown, settings_on);
async fn settings_on(backend: Backend) {
    let env = [("CONVERSURE_ACME_DIRECTORY_URL", FIXED_DIRECTORY)];
    let Some(api) = installed_with(backend, &env).await else { return };
    let path = "/api/v1/instance/tls/settings";
    let config_file = api.app.data_dir.path().join("config.toml");
    let shown = api.get(path, &api.owner_key).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["saved"]["mode"], "off");
    assert_eq!(shown.body["saved"]["directory_url"], FIXED_DIRECTORY);
    assert_eq!(shown.body["fixed"], json!(["directory_url"]));
    assert_eq!(shown.body["restart_required"], false);

    // Bad input: a field error each, and config.toml keeps its bytes.
    let before = std::fs::read(&config_file).unwrap();
    for (change, field, says) in [
        (json!({ "mode": "auto", "domains": "bad_name.example" }), "domains", "not a domain name"),
        (json!({ "mode": "auto" }), "domains", "at least one domain"),
        (json!({ "mode": "auto", "domains": "crm.example.com", "email": "nobody" }), "email", "email address"),
        (
            json!({ "mode": "manual", "cert_file": "/nonexistent/cert.pem", "key_file": "/nonexistent/key.pem" }),
            "cert_file",
            "cannot read",
        ),
        (json!({ "mode": "sideways" }), "mode", "off, auto or manual"),
        (json!({ "directory_url": "https://elsewhere.example/dir" }), "directory_url", "CONVERSURE_ACME_DIRECTORY_URL"),
    ] {
        let refused = api.patch(path, &api.owner_key, change.clone()).await;
        assert_eq!(refused.status, 422, "{change}: {}", refused.body);
        assert!(refused.body.to_string().contains(says), "{change}: {}", refused.body);
        assert!(refused.body.to_string().contains(field), "{change}: {}", refused.body);
        assert_eq!(std::fs::read(&config_file).unwrap(), before, "{change} changed config.toml");
    }
    let unknown = api.patch(path, &api.owner_key, json!({ "domain": "crm.example.com" })).await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert_eq!(std::fs::read(&config_file).unwrap(), before);

    // A valid change is saved and waits for a restart; the fixed field keeps the environment's value.
    let change = json!({ "mode": "auto", "domains": "CRM.example.com, crm.example.com", "email": "ops@example.com" });
    let saved = api.patch(path, &api.owner_key, change).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(saved.body["saved"]["mode"], "auto");
    assert_eq!(saved.body["restart_required"], true);
    let text = std::fs::read_to_string(&config_file).unwrap();
    assert!(text.contains("tls_mode = \"auto\"") && text.contains("acme_email = \"ops@example.com\""), "{text}");
    assert!(!text.contains("acme_directory_url"), "the environment's value is not copied into the file: {text}");
    // Fields not given stay as saved.
    let again = api.patch(path, &api.owner_key, json!({ "email": "certs@example.com" })).await;
    assert_eq!(again.body["saved"]["mode"], "auto", "{}", again.body);
    assert_eq!(again.body["saved"]["email"], "certs@example.com");

    // The owner's page shows the saved settings, the fixed field disabled, and the restart offer.
    let browser = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let html = browser.html("/owner/tls").await;
    assert!(html.contains("id=\"tls-restart-required\""), "{html}");
    assert!(html.contains("value=\"certs@example.com\""), "{html}");
    let directory = html.split("id=\"tls-directory_url\"").nth(1).unwrap().split('>').next().unwrap();
    assert!(directory.contains("disabled"), "{directory}");
    // The form refuses bad input the same way, keeping what was typed.
    let form = [("csrf", csrf_of(&html)), ("mode", "auto".into()), ("domains", "no spaces allowed.example x".into())];
    let refused =
        browser.post("/owner/tls/settings", &form.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("not a domain name") && html.contains("no spaces allowed.example x"), "{html}");
    let form = [("csrf", csrf_of(&html)), ("mode", "off".into())];
    let saved =
        browser.post("/owner/tls/settings", &form.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(location(&saved), "/owner/tls?done=saved");
    let html = browser.html("/owner/tls?done=saved").await;
    assert!(!html.contains("id=\"tls-restart-required\""), "off is what runs: {html}");
    assert!(browser.html("/owner/audit").await.contains("HTTPS settings changed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_domain_entered_in_the_settings_gets_a_certificate_after_restart_now() {
    conversure::init_crypto();
    let pebble = Pebble::start().await;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let password = root.path().join("password");
    std::fs::write(&password, format!("{ADMIN_PASSWORD}\n")).unwrap();
    let (https, http, listen) = (free_port(), free_port(), free_port());
    // Where Pebble is and where to listen come from the environment; the mode and the domain from the owner.
    let env: Vec<(String, String)> = pebble
        .auto_env("unused.test", https, http)
        .into_iter()
        .filter(|(key, _)| {
            !["CONVERSURE_TLS_MODE", "CONVERSURE_TLS_DOMAINS", "CONVERSURE_ACME_EMAIL"].contains(&key.as_str())
        })
        .collect();
    let command = || {
        let mut command = Command::new(binary());
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CONVERSURE_")) {
            command.env_remove(key);
        }
        command
            .env_remove("INVOCATION_ID")
            .env("CONVERSURE_LOG_LEVEL", "warn")
            .env("CONVERSURE_NETWORK_PROBE_URL", "http://127.0.0.1:9/")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    let installed = command()
        .args(["install", "--data-dir", data.to_str().unwrap(), "--admin-email", ADMIN_EMAIL])
        .args(["--admin-password-file", password.to_str().unwrap(), "--site-url", "https://app.test"])
        .args(["--evaluation", "--workspace-name", "Acme Support"])
        .status()
        .unwrap();
    assert!(installed.success());
    let serve = command()
        .args(["serve", "--data-dir", data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{listen}")])
        .spawn()
        .unwrap();
    let _serve = Serve(serve);
    let url = |path: &str| format!("http://127.0.0.1:{listen}{path}");
    let client =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let login = loop {
        if let Ok(answer) = client.get(url("/login")).send().await {
            break answer.text().await.unwrap();
        }
        assert!(Instant::now() < deadline, "serve did not answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let form = [("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf", &csrf_of(&login)), ("next", "/")];
    assert_eq!(client.post(url("/login")).form(&form).send().await.unwrap().status(), 303);

    // The owner enters the domain and restarts.
    let page = client.get(url("/owner/tls")).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_of(&page);
    let form = [("csrf", csrf.as_str()), ("mode", "auto"), ("domains", "app.test"), ("email", "ops@app.test")];
    let saved = client.post(url("/owner/tls/settings")).form(&form).send().await.unwrap();
    assert_eq!(location(&saved), "/owner/tls?done=saved");
    let restarting = client.post(url("/owner/restart")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(restarting.status(), 200);
    let page = restarting.text().await.unwrap();
    let wait = page.split("hx-get=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");

    // The restarting page's poll answers "not yet" until the new process does, then sends the browser back.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the server did not come back");
        if let Ok(answer) = client.get(url(&wait)).send().await
            && answer.headers().get("hx-redirect").is_some_and(|v| v == "/owner/tls?done=restarted")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let https_addr: SocketAddr = format!("127.0.0.1:{https}").parse().unwrap();
    let issuer = pebble.issuing_root().await;
    let answer = https_get_eventually(https_addr, "app.test", std::slice::from_ref(&issuer), "/healthz").await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    let (_, leaf) = x509_parser::parse_x509_certificate(&answer.leaf).unwrap();
    assert!(leaf.issuer().to_string().to_lowercase().contains("pebble"), "{}", leaf.issuer());
    let page = client.get(url("/owner/tls?done=restarted")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("id=\"tls-restart-required\""), "the saved settings run now: {page}");
    assert!(page.contains("app.test"), "{page}");
}

both_backends!(the_wizard_turns_on_https_for_the_sites_domain, wizard_https_on);
async fn wizard_https_on(backend: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(backend, &[]).await else { return };
    crate::wizard::pass_requirements(&app).await;
    let used = app.client.post(app.url("/install/database")).form(&[("action", "use"), ("kind", "sqlite")]);
    assert_eq!(used.send().await.unwrap().status(), 200);
    // Automatic HTTPS needs a domain name: an IP address is refused next to the checkbox.
    let license = crate::wizard::post_license(&app, "evaluation", None, "").await;
    assert!(license.status().is_redirection(), "{}", license.status());
    let form = [("name", "Acme"), ("public_url", "https://10.0.0.5"), ("timezone", "UTC"), ("language", "en")];
    let refused = crate::wizard::post_form(&app, "/install/site", &[&form[..], &[("https", "on")]].concat()).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("needs an https:// address with a domain name"));

    let finish = crate::wizard::finish_with_site(&app, &[("https", "on")]).await;
    assert_eq!(finish.status(), 200, "the finish page follows the restart that starts HTTPS");
    let html = finish.text().await.unwrap();
    let wait = html.split("hx-get=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
    assert!(wait.starts_with("/restart/wait?process=") && wait.ends_with("&after=login"), "{wait}");
    let text = std::fs::read_to_string(app.data_dir.path().join("config.toml")).unwrap();
    assert!(text.contains("tls_mode = \"auto\"") && text.contains("tls_domains = \"crm.acme.example\""), "{text}");
    assert!(text.contains(&format!("acme_email = \"{ADMIN_EMAIL}\"")), "{text}");
    // The poll says "not yet" to the same process, moves on for another, and refuses anywhere else to go.
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(plain.get(app.url(&wait)).send().await.unwrap().status(), 204);
    let other = plain.get(app.url("/restart/wait?process=1&after=login")).send().await.unwrap();
    assert_eq!(other.headers()["hx-redirect"], "/login?installed=1");
    let elsewhere = plain.get(app.url("/restart/wait?process=1&after=https://evil.example")).send().await.unwrap();
    assert_eq!(elsewhere.status(), 400);
}
