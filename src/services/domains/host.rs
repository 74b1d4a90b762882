//! What counts as a custom domain name: a lower-cased DNS host name (not an IP address, not this instance's own
//! host), and how a request's `Host` is normalised before it is looked up.

use crate::domain::msg::Msg;

/// The longest DNS name (RFC 1035, without the trailing dot).
const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// Normalises and checks a domain typed by a person: trimmed, lower case, no trailing dot. The error is the
/// message for the `host` field.
pub fn parse_domain(input: &str, own_hosts: &[String]) -> Result<String, Msg> {
    let host = input.trim().trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err(Msg::new("domains.invalid.empty"));
    }
    if host.len() > MAX_HOST_LEN {
        return Err(Msg::new("domains.invalid.too_long"));
    }
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<std::net::IpAddr>().is_ok() {
        return Err(Msg::new("domains.invalid.ip"));
    }
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    // A name with one label (`localhost`) cannot be pointed at us through public DNS; an all-digit last label is an
    // IP address in disguise (`10.1`).
    let top_level_ok = labels.last().is_some_and(|tld| tld.chars().any(|c| c.is_ascii_lowercase()));
    if labels.len() < 2 || !labels.iter().all(label_ok) || !top_level_ok {
        return Err(Msg::new("domains.invalid.hostname"));
    }
    if own_hosts.contains(&host) {
        return Err(Msg::new("domains.invalid.own_host"));
    }
    Ok(host)
}

/// The host part of a `Host` header value, lower case, without port or trailing dot (`Shop.Example.com:8443` →
/// `shop.example.com`). IPv6 literals keep their brackets.
pub fn normalise_host_header(value: &str) -> String {
    let value = value.trim();
    let host = if value.starts_with('[') {
        value.split_once(']').map_or(value.to_owned(), |(inside, _)| format!("{inside}]"))
    } else {
        value.rsplit_once(':').map_or(value, |(host, _port)| host).to_owned()
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(result: Result<String, Msg>) -> String {
        format!("{:?}", result.unwrap_err())
    }

    #[test]
    fn valid_names_are_normalised() {
        assert_eq!(parse_domain("  Shop.Example.COM. ", &[]).unwrap(), "shop.example.com");
        assert_eq!(parse_domain("a-b.c1.example.test", &[]).unwrap(), "a-b.c1.example.test");
    }

    #[test]
    fn bad_names_are_refused_with_their_reason() {
        assert!(key(parse_domain("", &[])).contains("empty"));
        assert!(key(parse_domain("203.0.113.9", &[])).contains("ip"));
        assert!(key(parse_domain("[::1]", &[])).contains("ip"));
        assert!(key(parse_domain("shop example.com", &[])).contains("hostname"));
        assert!(key(parse_domain("localhost", &[])).contains("hostname"));
        assert!(key(parse_domain("-a.example.com", &[])).contains("hostname"));
        assert!(key(parse_domain("10.1", &[])).contains("hostname"));
        assert!(key(parse_domain(&format!("{}.com", "a".repeat(64)), &[])).contains("hostname"));
        assert!(key(parse_domain(&format!("{}com", "abc.".repeat(64)), &[])).contains("too_long"));
        assert!(key(parse_domain("crm.example.com", &["crm.example.com".to_owned()])).contains("own_host"));
    }

    #[test]
    fn host_headers_lose_port_and_case() {
        assert_eq!(normalise_host_header("Shop.Example.com:8443"), "shop.example.com");
        assert_eq!(normalise_host_header("shop.example.com."), "shop.example.com");
        assert_eq!(normalise_host_header("[::1]:8080"), "[::1]");
        assert_eq!(normalise_host_header("127.0.0.1"), "127.0.0.1");
    }
}
