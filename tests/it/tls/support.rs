//! Shared pieces of the TLS tests: a throwaway CA (rcgen), a Pebble process on loopback, a small HTTPS client that
//! reports the presented certificate, and an in-process instance with TLS settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use conversure::startup::Application;
use conversure::tls::HostPolicy;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::helpers::{free_port, test_config};
use crate::web_user::{csrf_of, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

/// Waits of this many 200 ms steps at most for something that should happen within seconds.
pub(super) const PATIENCE: u32 = 150;

/// A certificate authority made for one test, and certificates it signs.
pub(super) struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    pub(super) fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Self { cert: params.self_signed(&key).unwrap(), key }
    }

    /// A leaf for `names`: (certificate PEM, key PEM, certificate DER).
    pub(super) fn issue(&self, names: &[&str]) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    pub(super) fn root(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }
}

/// A Pebble process on free loopback ports, validating every challenge at once.
pub(super) struct Pebble {
    child: Child,
    _dir: tempfile::TempDir,
    listen: SocketAddr,
    management: SocketAddr,
    /// Trusts Pebble's own HTTPS endpoints (given to Conversure as `acme_ca_file`).
    ca_file: PathBuf,
    ca: CertificateDer<'static>,
}

impl Pebble {
    pub(super) async fn start() -> Self {
        assert!(Path::new("/usr/bin/pebble").exists(), "install Debian's pebble (scripts/test.sh does)");
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("pebble test CA");
        let (cert, key, _) = ca.issue(&["localhost", "127.0.0.1"]);
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.cert.pem()).unwrap();
        let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let management: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = serde_json::json!({ "pebble": {
            "listenAddress": listen.to_string(),
            "managementListenAddress": management.to_string(),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_file = dir.path().join("pebble.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let child = Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(&config_file)
            .env("PEBBLE_VA_ALWAYS_VALID", "1")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble starts");
        let pebble = Self { child, _dir: dir, listen, management, ca_file, ca: ca.root() };
        for _ in 0..PATIENCE {
            if tokio::net::TcpStream::connect(pebble.listen).await.is_ok()
                && tokio::net::TcpStream::connect(pebble.management).await.is_ok()
            {
                return pebble;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("pebble did not listen on {}", pebble.listen);
    }

    pub(super) fn directory_url(&self) -> String {
        format!("https://{}/dir", self.listen)
    }

    /// The root Pebble's issued certificates chain to (it makes a new one at every start).
    pub(super) async fn issuing_root(&self) -> CertificateDer<'static> {
        let answer = https_get(self.management, "localhost", std::slice::from_ref(&self.ca), "/roots/0").await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        CertificateDer::from_pem_slice(answer.body.as_bytes()).unwrap()
    }

    /// Settings for auto mode against this Pebble, HTTPS and HTTP on the given ports.
    pub(super) fn auto_env(&self, domains: &str, https: u16, http: u16) -> Vec<(String, String)> {
        [
            ("CONVERSURE_TLS_MODE", "auto".to_owned()),
            ("CONVERSURE_TLS_DOMAINS", domains.to_owned()),
            ("CONVERSURE_ACME_DIRECTORY_URL", self.directory_url()),
            ("CONVERSURE_ACME_CA_FILE", self.ca_file.display().to_string()),
            ("CONVERSURE_ACME_EMAIL", "ops@app.test".to_owned()),
            ("CONVERSURE_HTTPS_LISTEN", format!("127.0.0.1:{https}")),
            ("CONVERSURE_HTTP_LISTEN", format!("127.0.0.1:{http}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTPS answer and the certificate the server presented.
pub(super) struct HttpsAnswer {
    pub(super) status: u16,
    pub(super) head: String,
    pub(super) body: String,
    pub(super) leaf: Vec<u8>,
}

impl HttpsAnswer {
    pub(super) fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    }
}

/// `GET path` over TLS to `addr` with SNI `host`, trusting only `roots`; `Err` when the handshake fails.
pub(super) async fn https_get(
    addr: SocketAddr,
    host: &str,
    roots: &[CertificateDer<'static>],
    path: &str,
) -> Result<HttpsAnswer, String> {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(host.to_owned()).unwrap();
    let mut tls =
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map_err(|e| e.to_string())?;
    let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec()).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    // A server closing without close_notify still delivered its answer.
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok(HttpsAnswer { status, head: head.to_owned(), body: body.to_owned(), leaf })
}

/// Retries `https_get` until it succeeds (a certificate arrives in the background); panics with the last error.
pub(super) async fn https_get_eventually(
    addr: SocketAddr,
    host: &str,
    roots: &[CertificateDer<'static>],
    path: &str,
) -> HttpsAnswer {
    let mut last = String::new();
    for _ in 0..PATIENCE {
        match https_get(addr, host, roots, path).await {
            Ok(answer) => return answer,
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no HTTPS answer for {host} at {addr}: {last}");
}

pub(super) fn plain_client() -> reqwest::Client {
    conversure::init_crypto();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Signs in as the wizard's owner on `listen` (plain HTTP) and returns the page at `path`.
pub(super) async fn signed_in_owner_page(listen: SocketAddr, path: &str) -> String {
    let client =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let url = |path: &str| format!("http://{listen}{path}");
    let csrf = csrf_of(&client.get(url("/login")).send().await.unwrap().text().await.unwrap());
    let form = [("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf", csrf.as_str()), ("next", "/")];
    let signed = client.post(url("/login")).form(&form).send().await.unwrap();
    assert_eq!(location(&signed), "/", "the owner signs in");
    let page = client.get(url(path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

/// An in-process instance with TLS settings.
pub(super) struct Running {
    pub(super) https: SocketAddr,
    pub(super) listen: SocketAddr,
    pub(super) data_dir: tempfile::TempDir,
    status: Arc<conversure::tls::TlsStatus>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub(super) async fn start(env: &[(&str, String)], policy: Option<Arc<dyn HostPolicy>>) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), None, env, policy).await
    }

    pub(super) async fn start_in(
        data_dir: tempfile::TempDir,
        database_url: Option<String>,
        env: &[(&str, String)],
        policy: Option<Arc<dyn HostPolicy>>,
    ) -> Self {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let config = test_config(data_dir.path(), database_url, &env);
        let mut app = Application::build(config).await.expect("the app starts without waiting for certificates");
        if let Some(policy) = policy {
            app = app.with_host_policy(move |_| policy);
        }
        let https = app.https_addr().expect("HTTPS is bound");
        let listen = app.local_addr();
        let status = app.tls_status();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until_stopped(async move {
                let _ = stopped.await;
            })
            .await
            .expect("the app runs");
        });
        Self { https, listen, data_dir, status, stop, task }
    }

    pub(super) fn status(&self) -> conversure::tls::TlsSnapshot {
        self.status.snapshot()
    }

    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}
