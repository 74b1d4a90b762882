//! Who is asking and how they reached us: the client's address, the scheme and the host, decided once per request
//! by [`client_info`] (the first middleware) and read everywhere through [`ClientInfo`]. `X-Forwarded-*` headers
//! are believed only from the configured trusted proxies; from anyone else they are ignored, so a client cannot
//! pick its own address for throttling or the audit log.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::network::TrustedProxies;
use crate::web::state::AppState;

/// The request's origin as far as the edge can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address: the TCP peer, or what the trusted proxies say it is.
    pub ip: Option<IpAddr>,
    /// `http` or `https` as the client used it.
    pub scheme: &'static str,
    /// The host the client asked for, as sent (may carry a port); `None` without a Host header.
    pub host: Option<String>,
}

impl ClientInfo {
    /// Decides the origin from the TCP peer and the headers. `tls` says whether our own listener speaks TLS.
    pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies, tls: bool) -> Self {
        let own_scheme = if tls { "https" } else { "http" };
        let direct_host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let Some(peer) = peer.map(|ip| ip.to_canonical()).filter(|ip| trusted.contains(*ip)) else {
            return Self { ip: peer.map(|ip| ip.to_canonical()), scheme: own_scheme, host: direct_host };
        };
        let scheme = match nearest(headers, "x-forwarded-proto").map(|p| p.to_ascii_lowercase()).as_deref() {
            Some("https") => "https",
            Some("http") => "http",
            _ => own_scheme,
        };
        let host = nearest(headers, "x-forwarded-host").or(direct_host);
        Self { ip: Some(forwarded_client(peer, headers, trusted)), scheme, host }
    }

    /// `scheme://host` of the request (`localhost` when the client sent no host).
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.host.as_deref().unwrap_or("localhost"))
    }
}

/// The value the nearest proxy added: the last item of the last header of that name.
fn nearest(headers: &HeaderMap, name: &str) -> Option<String> {
    let last = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).next_back()?;
    last.rsplit(',').next().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// Walks `X-Forwarded-For` from the right (each proxy appends the address it saw) past our own trusted proxies; the
/// first address not itself trusted is the client. Anything further left was written by the client and is ignored.
fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    client
}

/// An address as proxies write it: `203.0.113.9`, `203.0.113.9:5100`, `2001:db8::1` or `[2001:db8::1]:5100`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))?;
    Some(ip.to_canonical())
}

/// The first middleware: puts the request's [`ClientInfo`] into its extensions.
pub async fn client_info(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let info = ClientInfo::resolve(peer, request.headers(), &state.trusted_proxies, state.secure_cookies);
    request.extensions_mut().insert(info);
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(info) = parts.extensions.get::<Self>() {
            return Ok(info.clone());
        }
        // Outside the full router (no middleware ran): trust nobody.
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        Ok(Self::resolve(peer, &parts.headers, &TrustedProxies::default(), false))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn untrusted_peers_cannot_choose_their_origin() {
        let h = headers(&[("host", "a.test"), ("x-forwarded-for", "1.2.3.4"), ("x-forwarded-proto", "https")]);
        let info = ClientInfo::resolve(ip("127.0.0.1"), &h, &TrustedProxies::default(), false);
        assert_eq!(info, ClientInfo { ip: ip("127.0.0.1"), scheme: "http", host: Some("a.test".into()) });
    }

    #[test]
    fn trusted_proxies_are_walked_from_the_right() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let h = headers(&[
            ("host", "internal:8080"),
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
            ("x-forwarded-for", "10.1.1.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "shop.example.test"),
        ]);
        let info = ClientInfo::resolve(ip("::ffff:127.0.0.1"), &h, &trusted, false);
        assert_eq!(info.ip, ip("203.0.113.9"), "the spoofed left-most entry is ignored");
        assert_eq!(info.scheme, "https");
        assert_eq!(info.origin(), "https://shop.example.test");
    }

    #[test]
    fn all_trusted_or_garbage_stops_at_the_last_known_hop() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let h = headers(&[("x-forwarded-for", "10.0.0.5"), ("x-forwarded-proto", "gopher")]);
        let info = ClientInfo::resolve(ip("127.0.0.1"), &h, &trusted, true);
        assert_eq!((info.ip, info.scheme), (ip("10.0.0.5"), "https"));
        let h = headers(&[("x-forwarded-for", "203.0.113.9:5100, unknown")]);
        assert_eq!(ClientInfo::resolve(ip("127.0.0.1"), &h, &trusted, false).ip, ip("127.0.0.1"));
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:5100")]);
        assert_eq!(ClientInfo::resolve(ip("127.0.0.1"), &h, &trusted, false).ip, ip("2001:db8::1"));
    }
}
