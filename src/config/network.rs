//! Network settings around the edge: which reverse proxies are trusted to report the client, and where the custom
//! domain self-probe connects.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The reverse proxies whose `X-Forwarded-*` headers are believed (`trusted_proxies`; empty by default, so a
/// directly exposed server never lets a client choose its own address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses a comma (or space) separated list of addresses and CIDR networks, e.g. `127.0.0.1, 10.0.0.0/8, ::1`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let networks = text
            .split([',', ' ', '\n', '\t'])
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{item}` is neither an IP address nor a CIDR network such as 10.0.0.0/8"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { networks })
    }

    /// Whether a peer at `ip` is one of the trusted proxies (an IPv4 peer seen as `::ffff:a.b.c.d` counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

/// Parses `domain_probe_addr`: `IP:PORT` the custom-domain check connects to instead of resolving the name.
pub fn parse_probe_addr(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| "use IP:PORT, for example 127.0.0.1:8080".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_networks_parse_and_match() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8 ::1").unwrap();
        assert!(proxies.contains("127.0.0.1".parse().unwrap()));
        assert!(proxies.contains("10.2.3.4".parse().unwrap()));
        assert!(proxies.contains("::ffff:10.2.3.4".parse().unwrap()));
        assert!(proxies.contains("::1".parse().unwrap()));
        assert!(!proxies.contains("127.0.0.2".parse().unwrap()));
        assert!(!proxies.contains("11.0.0.1".parse().unwrap()));
    }

    #[test]
    fn empty_trusts_nobody_and_garbage_is_refused() {
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(!TrustedProxies::default().contains("127.0.0.1".parse().unwrap()));
        let err = TrustedProxies::parse("127.0.0.1, proxy.local").unwrap_err();
        assert!(err.contains("proxy.local"), "{err}");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn probe_address_needs_a_port() {
        assert_eq!(parse_probe_addr("127.0.0.1:8080").unwrap().port(), 8080);
        assert!(parse_probe_addr("127.0.0.1").is_err());
    }
}
