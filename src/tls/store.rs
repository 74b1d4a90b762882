//! The certificates being served and the answers to pending ACME challenges; it is the rustls certificate resolver.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The ALPN protocol of a TLS-ALPN-01 validation connection.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// A parsed certificate with its key and validity window (unix milliseconds).
#[derive(Debug, Clone)]
pub struct LoadedCertificate {
    pub key: Arc<CertifiedKey>,
    pub not_before: i64,
    pub not_after: i64,
}

impl LoadedCertificate {
    /// Parses a PEM chain and a PEM private key (they may be the same text) and checks that they belong together.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self, String> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the certificate is not valid PEM ({e})"))?;
        let leaf = certs.first().ok_or("the certificate file holds no certificate")?;
        let (_, parsed) =
            x509_parser::parse_x509_certificate(leaf).map_err(|e| format!("the certificate cannot be parsed ({e})"))?;
        let validity = parsed.validity();
        let (not_before, not_after) = (validity.not_before.timestamp() * 1000, validity.not_after.timestamp() * 1000);
        let private_key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("no usable private key ({e})"))?;
        let signer = any_supported_type(&private_key).map_err(|e| format!("unsupported private key ({e})"))?;
        let certified = CertifiedKey::new(certs, signer);
        certified.keys_match().map_err(|e| format!("the private key does not match the certificate ({e})"))?;
        Ok(Self { key: Arc::new(certified), not_before, not_after })
    }

    /// When to renew: a third of the lifetime before expiry (60 days into a 90-day certificate).
    pub fn renew_at(&self) -> i64 {
        self.not_after - (self.not_after - self.not_before) / 3
    }
}

/// Certificates by host, the manual-mode certificate, and challenge answers.
#[derive(Debug, Default)]
pub struct CertStore {
    by_host: RwLock<HashMap<String, LoadedCertificate>>,
    /// Manual mode: served whatever name the client asks for.
    any_host: RwLock<Option<LoadedCertificate>>,
    alpn_challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    http_challenges: RwLock<HashMap<String, String>>,
}

impl CertStore {
    /// The certificate served for `host`, if there is one.
    pub fn certificate(&self, host: &str) -> Option<LoadedCertificate> {
        read(&self.by_host).get(host).cloned()
    }

    pub fn set_certificate(&self, host: &str, certificate: LoadedCertificate) {
        write(&self.by_host).insert(host.to_owned(), certificate);
    }

    pub fn set_any_host(&self, certificate: LoadedCertificate) {
        *write(&self.any_host) = Some(certificate);
    }

    /// Whether a handshake for `host` would find a certificate.
    pub fn covers(&self, host: &str) -> bool {
        read(&self.any_host).is_some() || read(&self.by_host).contains_key(host)
    }

    pub fn set_alpn_challenge(&self, host: &str, key: Arc<CertifiedKey>) {
        write(&self.alpn_challenges).insert(host.to_owned(), key);
    }

    pub fn set_http_challenge(&self, token: &str, key_authorization: String) {
        write(&self.http_challenges).insert(token.to_owned(), key_authorization);
    }

    /// Forgets a finished authorization's challenge answers.
    pub fn clear_challenges(&self, host: &str, token: &str) {
        write(&self.alpn_challenges).remove(host);
        write(&self.http_challenges).remove(token);
    }

    /// The key authorization answering an HTTP-01 challenge token.
    pub fn http_challenge(&self, token: &str) -> Option<String> {
        read(&self.http_challenges).get(token).cloned()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let host = hello.server_name().map(str::to_ascii_lowercase);
        let validating = hello.alpn().is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if validating {
            return read(&self.alpn_challenges).get(host.as_deref()?).cloned();
        }
        if let Some(host) = &host
            && let Some(found) = read(&self.by_host).get(host)
        {
            return Some(found.key.clone());
        }
        read(&self.any_host).as_ref().map(|c| c.key.clone())
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap().self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_matching_pair_loads_and_renews_two_thirds_in() {
        let (cert, key) = pair("a.test");
        let loaded = LoadedCertificate::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        assert!(loaded.not_before < loaded.renew_at() && loaded.renew_at() < loaded.not_after);
        let combined = format!("{key}\n{cert}");
        assert!(LoadedCertificate::from_pem(combined.as_bytes(), combined.as_bytes()).is_ok(), "the ACME cache form");
    }

    #[test]
    fn a_mismatched_or_broken_pair_is_refused_with_the_reason() {
        let (cert, _) = pair("a.test");
        let (_, other_key) = pair("b.test");
        let err = LoadedCertificate::from_pem(cert.as_bytes(), other_key.as_bytes()).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        let err = LoadedCertificate::from_pem(b"junk", other_key.as_bytes()).unwrap_err();
        assert!(err.contains("no certificate"), "{err}");
    }
}
