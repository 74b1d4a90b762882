//! HTTPS against Debian's `pebble` ACME test server on loopback: `serve` in auto mode gets and serves a
//! Pebble-issued certificate, plain HTTP redirects (except ACME challenges), HSTS over HTTPS only, manual
//! certificate files reloaded without a restart, on-demand certificates only for hosts the policy allows, and an
//! unreachable directory that does not block start-up and is reported by `GET /api/v1/instance/tls`.

mod settings;
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use conversure::tls::HostPolicy;
use serde_json::Value;

use crate::api::{Api, installed};
use crate::both_backends;
use crate::helpers::{Backend, binary, free_port};
use support::{PATIENCE, Pebble, Running, TestCa, https_get, https_get_eventually, plain_client, signed_in_owner_page};

/// A `serve` process, killed when the test ends.
pub(super) struct Serve(pub(super) Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_in_auto_mode_gets_a_pebble_certificate_redirects_http_and_sends_hsts() {
    let pebble = Pebble::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    let (https, http, listen) = (free_port(), free_port(), free_port());
    let _serve = Serve(
        Command::new(binary())
            .args([
                "serve",
                "--data-dir",
                data_dir.path().to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{listen}"),
            ])
            .envs(pebble.auto_env("app.test", https, http))
            .env("CONVERSURE_LOG_LEVEL", "warn")
            .env("CONVERSURE_NETWORK_PROBE_URL", "http://127.0.0.1:9/")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let https_addr: SocketAddr = format!("127.0.0.1:{https}").parse().unwrap();
    let root = pebble.issuing_root().await;

    // Verified against Pebble's issuing root only: the certificate was issued by Pebble for app.test.
    let answer = https_get_eventually(https_addr, "app.test", std::slice::from_ref(&root), "/healthz").await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.header("strict-transport-security").as_deref(), Some("max-age=31536000"));
    let (_, leaf) = x509_parser::parse_x509_certificate(&answer.leaf).unwrap();
    assert!(leaf.issuer().to_string().to_lowercase().contains("pebble"), "{}", leaf.issuer());
    assert!(
        std::fs::read_dir(data_dir.path().join("acme/certs"))
            .unwrap()
            .any(|e| e.unwrap().file_name() == "app.test.pem"),
        "the certificate is cached in the data directory"
    );

    // The plain listener still answers (admin access), without HSTS.
    let client = plain_client();
    let plain = client.get(format!("http://127.0.0.1:{listen}/healthz")).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("strict-transport-security").is_none());

    // The HTTP port redirects to HTTPS with the path and query, but never the ACME challenge path.
    let redirected = client
        .get(format!("http://127.0.0.1:{http}/login?next=%2Finbox"))
        .header("host", "app.test")
        .send()
        .await
        .unwrap();
    assert_eq!(redirected.status(), 308);
    assert_eq!(
        redirected.headers()["location"].to_str().unwrap(),
        format!("https://app.test:{https}/login?next=%2Finbox")
    );
    assert!(redirected.headers().get("strict-transport-security").is_none());
    let challenge = client
        .get(format!("http://127.0.0.1:{http}/.well-known/acme-challenge/unknown-token"))
        .header("host", "app.test")
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.status(), 404, "an unknown challenge token is not redirected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_mode_serves_the_files_and_reloads_a_replaced_certificate() {
    let ca = TestCa::new("manual test CA");
    let files = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    let (first_cert, first_key, first_der) = ca.issue(&["app.test"]);
    std::fs::write(&cert_file, first_cert).unwrap();
    std::fs::write(&key_file, first_key).unwrap();
    let https = free_port();
    let env = [
        ("CONVERSURE_TLS_MODE", "manual".to_owned()),
        ("CONVERSURE_TLS_CERT_FILE", cert_file.display().to_string()),
        ("CONVERSURE_TLS_KEY_FILE", key_file.display().to_string()),
        ("CONVERSURE_HTTPS_LISTEN", format!("127.0.0.1:{https}")),
        ("CONVERSURE_HTTP_LISTEN", "off".to_owned()),
    ];
    let running = Running::start(&env, None).await;
    let addr = running.https;
    let answer = https_get_eventually(addr, "app.test", &[ca.root()], "/healthz").await;
    assert_eq!(answer.leaf, first_der);
    let language = https_get(addr, "app.test", &[ca.root()], "/lang?set=ar").await.unwrap();
    let cookie = language.header("set-cookie").unwrap_or_default();
    assert!(cookie.contains("; Secure"), "cookies set over HTTPS are Secure: {cookie}");
    let plain = plain_client().get(format!("http://{}/lang?set=ar", running.listen)).send().await.unwrap();
    let cookie = plain.headers()["set-cookie"].to_str().unwrap();
    assert!(!cookie.contains("Secure"), "the plain listener's cookies work over HTTP: {cookie}");
    assert_eq!(answer.header("strict-transport-security").as_deref(), Some("max-age=31536000"));

    // A broken replacement is refused and reported; the old certificate stays served.
    std::fs::write(&cert_file, "not a certificate").unwrap();
    let mut reported = false;
    for _ in 0..PATIENCE {
        let snapshot = running.status();
        if snapshot.failing() {
            assert!(snapshot.certificates[0].last_error.as_deref().unwrap_or_default().contains("certificate"));
            reported = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(reported, "the broken certificate file is reported");
    assert_eq!(https_get(addr, "app.test", &[ca.root()], "/healthz").await.unwrap().leaf, first_der);

    // A good new pair is picked up without a restart.
    let (second_cert, second_key, second_der) = ca.issue(&["app.test"]);
    std::fs::write(&key_file, second_key).unwrap();
    std::fs::write(&cert_file, second_cert).unwrap();
    let mut served = Vec::new();
    for _ in 0..PATIENCE {
        served = https_get(addr, "app.test", &[ca.root()], "/healthz").await.unwrap().leaf;
        if served == second_der {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(served, second_der, "the replaced certificate is served");
    assert!(!running.status().failing());
    running.stop().await;
}

/// Allows certificates on demand for a fixed set of hosts.
struct AllowOnly(Vec<&'static str>);

impl HostPolicy for AllowOnly {
    fn wants_certificate(&self, host: &str) -> bool {
        self.0.contains(&host)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_the_policy_allows_gets_a_certificate_on_demand_and_others_get_none() {
    let pebble = Pebble::start().await;
    let env = pebble.auto_env("app.test", free_port(), free_port());
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let policy: Arc<dyn HostPolicy> = Arc::new(AllowOnly(vec!["app.test", "custom.test"]));
    let running = Running::start(&env, Some(policy)).await;
    let root = pebble.issuing_root().await;

    let custom = https_get_eventually(running.https, "custom.test", std::slice::from_ref(&root), "/healthz").await;
    assert_eq!(custom.status, 200);
    let (_, leaf) = x509_parser::parse_x509_certificate(&custom.leaf).unwrap();
    let names: Vec<String> = leaf
        .subject_alternative_name()
        .unwrap()
        .map(|san| san.value.general_names.iter().map(|n| n.to_string()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["DNSName(custom.test)"], "its own certificate");
    let listed = running.status();
    assert!(listed.certificates.iter().any(|c| c.name == "custom.test" && c.on_demand));

    let refused = https_get(running.https, "refused.test", &[root], "/healthz").await;
    assert!(refused.is_err(), "no certificate for a host the policy refuses");
    let ledger = std::fs::read_to_string(running.data_dir.path().join("acme/ledger.json")).unwrap();
    assert!(ledger.contains("custom.test"), "{ledger}");
    assert!(!ledger.contains("refused.test"), "no ACME order for a refused host: {ledger}");
    assert!(!running.status().certificates.iter().any(|c| c.name == "refused.test"));
    running.stop().await;
}

async fn unreachable_directory_is_reported(backend: Backend) {
    let Some(Api { app, db, owner_key, .. }) = installed(backend).await else { return };
    db.close().await;
    let (data_dir, test_db) = app.stop().await;
    let https = free_port();
    let env = [
        ("CONVERSURE_TLS_MODE", "auto".to_owned()),
        ("CONVERSURE_TLS_DOMAINS", "app.test".to_owned()),
        // Port 9 on loopback is closed: the directory cannot be reached.
        ("CONVERSURE_ACME_DIRECTORY_URL", "https://127.0.0.1:9/directory".to_owned()),
        ("CONVERSURE_HTTPS_LISTEN", format!("127.0.0.1:{https}")),
        ("CONVERSURE_HTTP_LISTEN", "off".to_owned()),
    ];
    let running = Running::start_in(data_dir, test_db.url.clone(), &env, None).await;
    let client = plain_client();
    let ask = || async {
        let response = client
            .get(format!("http://{}/api/v1/instance/tls", running.listen))
            .bearer_auth(&owner_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the app answers while the certificate is missing");
        response.json::<Value>().await.unwrap()
    };
    let mut status = ask().await;
    for _ in 0..PATIENCE {
        if status["certificates"][0]["state"] == "failing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        status = ask().await;
    }
    assert_eq!(status["mode"], "auto");
    assert_eq!(status["directory_url"], "https://127.0.0.1:9/directory");
    let certificate = &status["certificates"][0];
    assert_eq!(certificate["name"], "app.test");
    assert_eq!(certificate["state"], "failing", "{status}");
    assert!(certificate["last_error"].as_str().unwrap().contains("cannot reach the ACME directory"), "{status}");
    assert!(certificate["next_retry_at"].as_i64().is_some(), "{status}");
    assert!(https_get(running.https, "app.test", &[], "/").await.is_err(), "no certificate yet");

    // The owner panel shows the failure with its reason.
    let html = signed_in_owner_page(running.listen, "/owner/tls").await;
    assert!(html.contains("id=\"tls-failing\""), "{html}");
    assert!(html.contains("app.test") && html.contains("cannot reach the ACME directory"), "{html}");
    assert!(!html.contains("id=\"tls-failing-banner\""), "the page's own warning, not twice: {html}");
    // Every other panel page warns the owner too.
    let html = signed_in_owner_page(running.listen, "/owner").await;
    assert!(html.contains("id=\"tls-failing-banner\"") && html.contains("href=\"/owner/tls\""), "{html}");

    // Without a key: nothing.
    let anonymous = client.get(format!("http://{}/api/v1/instance/tls", running.listen)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    running.stop().await;
    drop(test_db);
}

both_backends!(an_unreachable_directory_does_not_block_start_up_and_is_reported, unreachable_directory_is_reported);
