//! Which upstream addresses endpoints that non-admins create may point at.
//!
//! Only site admins create global endpoints; users and org admins create their own
//! and their orgs'. Those may not reach loopback, private, link-local or unique-local
//! addresses (cloud metadata services, the control plane's own neighbours) unless the
//! operator allows it (`HELIX_ALLOW_PRIVATE_UPSTREAMS`). Checked when the endpoint is
//! created, on the literal host and on every address its name resolves to; and again on
//! every connection, by [`PublicOnlyResolver`] in the HTTP client of those endpoints, so a
//! name that resolved to a public address when the endpoint was added cannot later be
//! pointed at a private one (DNS rebinding). Through an egress proxy the proxy resolves
//! names, and guarding them is its job.

use crate::error::{CoreError, Result};
use std::net::{IpAddr, SocketAddr};

/// Resolves names as the system does, keeping only public addresses; a name with none
/// fails to connect. The resolver of the client that calls user and org endpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.into_iter().filter(|a| !is_private(a.ip())).collect();
            if public.is_empty() {
                let why = format!(
                    "{host} resolves only to private, loopback or link-local addresses, which user and org endpoints may not reach"
                );
                return Err(why.into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether an address is off limits for user-defined upstreams.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
                || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Refuses a base URL whose host is, or resolves to, a private address.
pub async fn check_public(url: &url::Url) -> Result<()> {
    let refuse = |why: String| CoreError::invalid("base_url", why);
    let host = url.host_str().ok_or_else(|| refuse("has no host".into()))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") || bare.to_ascii_lowercase().ends_with(".localhost") {
        return Err(refuse(
            "must not point at this machine (ask an admin for a global endpoint)".into(),
        ));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| refuse(format!("host {bare} does not resolve: {e}")))?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.iter().any(|ip| is_private(*ip)) {
        return Err(refuse(format!(
            "host {bare} is a private, loopback or link-local address; only site admins may add such endpoints (global scope)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "172.32.0.1",
            "100.128.0.1",
        ] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls() {
        for bad in [
            "http://127.0.0.1:8080/v1",
            "http://localhost/v1",
            "http://LOCALHOST./v1",
            "http://[::1]/v1",
            "http://169.254.169.254/latest",
            "http://api.localhost/v1",
        ] {
            let u = url::Url::parse(bad).unwrap();
            assert!(check_public(&u).await.is_err(), "{bad}");
        }
        let ok = url::Url::parse("https://8.8.8.8/v1").unwrap();
        assert!(check_public(&ok).await.is_ok());
    }
}
