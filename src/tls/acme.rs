//! The ACME manager: obtains and renews certificates through rustls-acme's protocol client, one order at a time
//! per host, answering TLS-ALPN-01 on the HTTPS port or HTTP-01 on the HTTP port (alternating after a failure),
//! within the issuance ledger's caps and an exponential backoff. The certificate cache lives in `data_dir/acme`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{CertificateParams, DistinguishedName, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls_acme::acme::{Account, AuthStatus, Directory, Identifier, OrderStatus, Problem};
use sha2::Digest;
use tokio::sync::watch;

use super::TlsError;
use super::ledger::Ledger;
use super::status::TlsStatus;
use super::store::{CertStore, LoadedCertificate};
use crate::config::tls::AutoTls;

/// How long one order may take before it counts as failed.
const ORDER_TIMEOUT: Duration = Duration::from_secs(90);
/// The first retry after a failure; it doubles with each further failure up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i64 = 10_000;
/// Retries never wait longer than this (rustls-acme's own backoff stops growing at about 18 hours too).
const MAX_BACKOFF_MS: i64 = 6 * 3_600_000;
/// Polls of an authorization or a processing order before giving up.
const MAX_POLLS: u32 = 30;

/// The challenge answered for an authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    TlsAlpn01,
    Http01,
}

/// Per-host bookkeeping; its mutex is what makes orders for one host run one at a time.
#[derive(Debug, Default)]
struct HostState {
    failures: u32,
    next_attempt_at: i64,
}

/// Obtains, caches and renews certificates for configured and on-demand hosts.
pub struct AcmeManager {
    client: Arc<ClientConfig>,
    directory_url: String,
    contact: Vec<String>,
    dir: PathBuf,
    store: Arc<CertStore>,
    status: Arc<TlsStatus>,
    ledger: Ledger,
    account: tokio::sync::Mutex<Option<Arc<Account>>>,
    hosts: Mutex<HashMap<String, Arc<tokio::sync::Mutex<HostState>>>>,
    maintained: Mutex<HashSet<String>>,
    stop: watch::Receiver<bool>,
}

impl AcmeManager {
    /// Prepares the cache directory and the HTTPS client for the directory (trusting `acme_ca_file` as well).
    pub fn new(
        auto: &AutoTls,
        dir: PathBuf,
        store: Arc<CertStore>,
        status: Arc<TlsStatus>,
        stop: watch::Receiver<bool>,
    ) -> Result<Self, TlsError> {
        std::fs::create_dir_all(dir.join("certs"))
            .map_err(|e| TlsError::Setup(format!("cannot create {}: {e}", dir.display())))?;
        let mut extra_roots = Vec::new();
        if let Some(ca_file) = &auto.ca_file {
            let pem = std::fs::read(ca_file)
                .map_err(|e| TlsError::Setup(format!("cannot read acme_ca_file {}: {e}", ca_file.display())))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                extra_roots.push(cert.map_err(|e| {
                    TlsError::Setup(format!("acme_ca_file {} is not PEM certificates: {e}", ca_file.display()))
                })?);
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
            .map_err(|e| TlsError::Setup(format!("cannot load trusted root certificates: {e}")))?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Self {
            client: Arc::new(client),
            directory_url: auto.directory_url.to_string(),
            contact: auto.email.iter().map(|e| format!("mailto:{e}")).collect(),
            ledger: Ledger::load(dir.join("ledger.json")),
            dir,
            store,
            status,
            account: tokio::sync::Mutex::new(None),
            hosts: Mutex::new(HashMap::new()),
            maintained: Mutex::new(HashSet::new()),
            stop,
        })
    }

    /// Keeps `host` certified in the background until shutdown: obtain, then renew when due, retrying failures.
    pub fn maintain(self: &Arc<Self>, host: String, on_demand: bool) {
        if !self.maintained.lock().unwrap_or_else(|e| e.into_inner()).insert(host.clone()) {
            return;
        }
        self.status.pending(&host, on_demand);
        let manager = self.clone();
        tokio::spawn(async move {
            let mut stop = manager.stop.clone();
            loop {
                let wake_at = match manager.ensure(&host, on_demand).await {
                    Ok(certificate) => certificate.renew_at(),
                    Err(retry_at) => retry_at,
                };
                let wait = Duration::from_millis(u64::try_from(wake_at - now_ms()).unwrap_or(0).max(1_000));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|stopping| *stopping) => return,
                }
            }
        });
    }

    /// Obtains a certificate for an on-demand host (the host policy already allowed it), waiting at most `wait`.
    pub async fn on_demand(self: &Arc<Self>, host: &str, wait: Duration) -> bool {
        self.status.pending(host, true);
        match tokio::time::timeout(wait, self.ensure(host, true)).await {
            Ok(Ok(_)) => {
                self.maintain(host.to_owned(), true);
                true
            }
            _ => false,
        }
    }

    /// Makes sure `host` has a current certificate: the one served, the cached one, or a new order.
    /// On failure returns when to try again.
    async fn ensure(&self, host: &str, on_demand: bool) -> Result<LoadedCertificate, i64> {
        let host_lock =
            self.hosts.lock().unwrap_or_else(|e| e.into_inner()).entry(host.to_owned()).or_default().clone();
        let mut state = host_lock.lock().await;
        let now = now_ms();
        let current = self.store.certificate(host).or_else(|| self.load_cached(host, on_demand));
        if let Some(certificate) = current.filter(|c| now < c.renew_at()) {
            return Ok(certificate);
        }
        if now < state.next_attempt_at {
            return Err(state.next_attempt_at);
        }
        if let Err(allowed_at) = self.ledger.try_record(host, now) {
            let reason = "waiting: the hourly or daily certificate order cap for this name is reached";
            self.status.failed(host, on_demand, reason, Some(allowed_at));
            state.next_attempt_at = allowed_at;
            return Err(allowed_at);
        }
        let challenge = if state.failures % 2 == 0 { Challenge::TlsAlpn01 } else { Challenge::Http01 };
        let outcome = match tokio::time::timeout(ORDER_TIMEOUT, self.order(host, challenge)).await {
            Ok(Ok(pem)) => self.deploy(host, on_demand, &pem),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("the order did not finish within {} seconds", ORDER_TIMEOUT.as_secs())),
        };
        match outcome {
            Ok(certificate) => {
                *state = HostState::default();
                Ok(certificate)
            }
            Err(error) => {
                state.failures += 1;
                let backoff = FIRST_BACKOFF_MS.saturating_mul(1 << state.failures.min(20)).min(MAX_BACKOFF_MS);
                state.next_attempt_at = now_ms() + backoff;
                tracing::warn!(host, error, "could not obtain a certificate");
                self.status.failed(host, on_demand, &error, Some(state.next_attempt_at));
                Err(state.next_attempt_at)
            }
        }
    }

    /// Serves the certificate cached on disk for `host`, if it is readable and not expired.
    fn load_cached(&self, host: &str, on_demand: bool) -> Option<LoadedCertificate> {
        let pem = std::fs::read(self.cert_path(host)).ok()?;
        let certificate = LoadedCertificate::from_pem(&pem, &pem).ok().filter(|c| now_ms() < c.not_after)?;
        self.store.set_certificate(host, certificate.clone());
        self.status.valid(host, on_demand, certificate.not_after);
        Some(certificate)
    }

    fn deploy(&self, host: &str, on_demand: bool, pem: &str) -> Result<LoadedCertificate, String> {
        let certificate = LoadedCertificate::from_pem(pem.as_bytes(), pem.as_bytes())
            .map_err(|e| format!("the CA returned an unusable certificate: {e}"))?;
        if let Err(e) = write_private(&self.cert_path(host), pem.as_bytes()) {
            tracing::warn!(host, error = %e, "cannot cache the new certificate; it is served but will be ordered again after a restart");
        }
        self.store.set_certificate(host, certificate.clone());
        self.status.valid(host, on_demand, certificate.not_after);
        tracing::info!(host, "certificate obtained");
        Ok(certificate)
    }

    fn cert_path(&self, host: &str) -> PathBuf {
        self.dir.join("certs").join(format!("{host}.pem"))
    }

    /// The ACME account (its key kept in the cache directory, one per directory URL), registered once per process.
    async fn account(&self) -> Result<Arc<Account>, String> {
        let mut account = self.account.lock().await;
        if let Some(existing) = account.as_ref() {
            return Ok(existing.clone());
        }
        let digest = hex::encode(sha2::Sha256::digest(self.directory_url.as_bytes()));
        let key_path = self.dir.join(format!("account-{}.pk8", &digest[..16]));
        let key = match std::fs::read(&key_path) {
            Ok(key) => key,
            Err(_) => {
                let key = Account::generate_key_pair();
                write_private(&key_path, &key).map_err(|e| format!("cannot save the ACME account key: {e}"))?;
                key
            }
        };
        let directory = Directory::discover(&self.client, &self.directory_url)
            .await
            .map_err(|e| format!("cannot reach the ACME directory {}: {e}", self.directory_url))?;
        let created = Account::create_with_keypair(&self.client, directory, &self.contact, &key)
            .await
            .map_err(|e| format!("cannot register the ACME account: {e}"))?;
        let created = Arc::new(created);
        *account = Some(created.clone());
        Ok(created)
    }

    /// Runs one order for `host` to the end and returns the key and certificate chain as PEM.
    async fn order(&self, host: &str, challenge: Challenge) -> Result<String, String> {
        let account = self.account().await?;
        let client = &self.client;
        let failed = |what: &str, e: rustls_acme::acme::AcmeError| format!("{what}: {e}");
        let (order_url, mut order) =
            account.new_order(client, vec![host.to_owned()]).await.map_err(|e| failed("the order was refused", e))?;
        let key_pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
        let mut params = CertificateParams::new(vec![host.to_owned()]).map_err(|e| e.to_string())?;
        params.distinguished_name = DistinguishedName::new();
        let csr = params.serialize_request(&key_pair).map_err(|e| e.to_string())?;
        for _ in 0..MAX_POLLS {
            match order.status {
                OrderStatus::Pending => {
                    for url in &order.authorizations {
                        self.authorize(&account, url, challenge).await?;
                    }
                }
                OrderStatus::Processing => tokio::time::sleep(Duration::from_secs(1)).await,
                OrderStatus::Ready => {
                    order = account
                        .finalize(client, &order.finalize, csr.der())
                        .await
                        .map_err(|e| failed("finalizing failed", e))?;
                    continue;
                }
                OrderStatus::Valid { certificate } => {
                    let chain = account
                        .certificate(client, certificate)
                        .await
                        .map_err(|e| failed("downloading the certificate failed", e))?;
                    return Ok(format!("{}\n{chain}", key_pair.serialize_pem()));
                }
                OrderStatus::Invalid => return Err(describe_problem("the order became invalid", order.error.as_ref())),
            }
            order = account.order(client, &order_url).await.map_err(|e| failed("polling the order failed", e))?;
        }
        Err("the certificate authority did not finish the order in time".to_owned())
    }

    /// Answers one authorization with the chosen challenge and waits until the CA has validated it.
    async fn authorize(&self, account: &Account, url: &str, challenge: Challenge) -> Result<(), String> {
        let client = &self.client;
        let auth = account.auth(client, url).await.map_err(|e| format!("reading the authorization failed: {e}"))?;
        let Identifier::Dns(host) = auth.identifier.clone();
        match auth.status {
            AuthStatus::Valid => return Ok(()),
            AuthStatus::Pending => {}
            _ => return Err(auth_failure(&host, &auth)),
        }
        let (challenge_url, token) = match challenge {
            Challenge::TlsAlpn01 => {
                let (found, key) = account.tls_alpn_01(&auth.challenges, host.clone()).map_err(|e| e.to_string())?;
                self.store.set_alpn_challenge(&host, Arc::new(key));
                (found.url.clone(), found.token.clone())
            }
            Challenge::Http01 => {
                let (found, key_authorization) = account.http_01(&auth.challenges).map_err(|e| e.to_string())?;
                self.store.set_http_challenge(&found.token, key_authorization);
                (found.url.clone(), found.token.clone())
            }
        };
        let result = self.await_validation(account, url, &challenge_url, &host).await;
        self.store.clear_challenges(&host, &token);
        result
    }

    async fn await_validation(
        &self,
        account: &Account,
        url: &str,
        challenge_url: &str,
        host: &str,
    ) -> Result<(), String> {
        let client = &self.client;
        account.challenge(client, challenge_url).await.map_err(|e| format!("triggering the challenge failed: {e}"))?;
        for _ in 0..MAX_POLLS {
            let auth = account.auth(client, url).await.map_err(|e| format!("reading the authorization failed: {e}"))?;
            match auth.status {
                AuthStatus::Valid => return Ok(()),
                AuthStatus::Pending => tokio::time::sleep(Duration::from_secs(1)).await,
                _ => return Err(auth_failure(host, &auth)),
            }
        }
        Err(format!("the validation of {host} did not finish in time"))
    }
}

fn auth_failure(host: &str, auth: &rustls_acme::acme::Auth) -> String {
    let problem = auth.challenges.iter().find_map(|c| c.error.as_ref());
    describe_problem(&format!("validating {host} failed ({:?})", auth.status), problem)
}

fn describe_problem(what: &str, problem: Option<&Problem>) -> String {
    match problem.and_then(|p| p.detail.as_deref()) {
        Some(detail) => format!("{what}: {detail}"),
        None => what.to_owned(),
    }
}

/// Writes a secret (account key, certificate key) readable by the owner only, atomically.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let staged = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&staged)?, bytes)?;
    std::fs::rename(&staged, path)
}

pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
