//! Trusted proxies: `X-Forwarded-For` decides the recorded client address only when the TCP peer is a configured
//! trusted proxy; from anyone else the headers are ignored and the peer's address is recorded.

use crate::api::installed_with;
use crate::both_backends;
use crate::helpers::Backend;
use crate::web_user::{csrf_of, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

/// Signs in through "a proxy" that claims the client is 203.0.113.9 (after a spoofed entry the client wrote), and
/// returns the address recorded on the new session and on the sign-in attempt.
async fn recorded_address(backend: Backend, trusted: &str) -> Option<(String, String)> {
    let api = installed_with(backend, &[("CONVERSURE_TRUSTED_PROXIES", trusted)]).await?;
    let client = &api.app.client;
    let forwarded = [("x-forwarded-for", "198.51.100.66, 203.0.113.9"), ("x-forwarded-proto", "https")];
    let mut page = client.get(api.app.url("/login"));
    for (name, value) in forwarded {
        page = page.header(name, value);
    }
    let csrf = csrf_of(&page.send().await.unwrap().text().await.unwrap());
    let mut sign_in = client.post(api.app.url("/login")).form(&[
        ("email", ADMIN_EMAIL),
        ("password", ADMIN_PASSWORD),
        ("csrf", &csrf),
        ("next", "/"),
    ]);
    for (name, value) in forwarded {
        sign_in = sign_in.header(name, value);
    }
    let signed = sign_in.send().await.unwrap();
    assert_eq!(location(&signed), "/");
    let mut conn = api.db.read().await.unwrap();
    let session = conn.fetch_one("SELECT ip FROM sessions ORDER BY created_at DESC, ip LIMIT 1", &[]).await.unwrap();
    let attempt = conn.fetch_one("SELECT ip FROM login_attempts ORDER BY id DESC LIMIT 1", &[]).await.unwrap();
    Some((session.text(0).unwrap(), attempt.text(0).unwrap()))
}

both_backends!(
    forwarded_addresses_count_only_from_trusted_proxies,
    forwarded_addresses_count_only_from_trusted_proxies_on
);
async fn forwarded_addresses_count_only_from_trusted_proxies_on(backend: Backend) {
    let Some(trusted) = recorded_address(backend, "127.0.0.1").await else { return };
    assert_eq!(trusted, ("203.0.113.9".to_owned(), "203.0.113.9".to_owned()), "the proxy's word, not the spoof");
    let Some(untrusted) = recorded_address(backend, "").await else { return };
    assert_eq!(untrusted, ("127.0.0.1".to_owned(), "127.0.0.1".to_owned()));
    let Some(other_proxy) = recorded_address(backend, "10.0.0.0/8").await else { return };
    assert_eq!(other_proxy.0, "127.0.0.1");
}
