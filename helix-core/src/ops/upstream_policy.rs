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
/// The egress proxy's own name (`HTTPS_PROXY` and friends: reqwest resolves it with the
/// same resolver) is resolved as it is: the operator chose it.
#[derive(Debug, Clone, Default)]
pub struct PublicOnlyResolver {
    proxies: std::sync::Arc<Vec<String>>,
}

impl PublicOnlyResolver {
    /// Allows the hosts of the proxies this process's environment names.
    pub fn from_env() -> Self {
        let vars = [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ];
        let proxies = vars
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .filter_map(|v| {
                let with_scheme = if v.contains("://") {
                    v
                } else {
                    format!("http://{v}")
                };
                url::Url::parse(&with_scheme)
                    .ok()?
                    .host_str()
                    .map(str::to_ascii_lowercase)
            })
            .collect();
        PublicOnlyResolver {
            proxies: std::sync::Arc::new(proxies),
        }
    }
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let is_proxy = self.proxies.iter().any(|p| p.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .into_iter()
                .filter(|a| is_proxy || !is_private(a.ip()))
                .collect();
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

/// Whether an address is off limits for user-defined upstreams: anything that is not a
/// plain public unicast address, including IPv6 forms that carry an IPv4 address a
/// gateway would turn back into it (mapped, compatible, NAT64, 6to4).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15, benchmarking
                || o[0] >= 240 // 240.0.0.0/4, reserved
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                is_private(IpAddr::V4(std::net::Ipv4Addr::from(
                    (u32::from(hi) << 16) | u32::from(lo),
                )))
            };
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
                || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
                // ::a.b.c.d, IPv4-compatible (deprecated, still routed by some stacks)
                || (s[..6].iter().all(|x| *x == 0) && embedded(s[6], s[7]))
                // 64:ff9b::/96, NAT64 well-known prefix; 64:ff9b:1::/48, local NAT64
                || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && embedded(s[6], s[7]))
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
                // 2002::/16, 6to4: the IPv4 address is in the next 32 bits
                || (s[0] == 0x2002 && embedded(s[1], s[2]))
        }
    }
}

/// Refuses a base URL whose host is a literal private address (names are checked at
/// connect time by [`PublicOnlyResolver`]; literals never reach a resolver).
pub fn check_literal(base_url: &str) -> Result<()> {
    let url =
        url::Url::parse(base_url).map_err(|e| CoreError::invalid("base_url", e.to_string()))?;
    let private = match url.host() {
        Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
        _ => false,
    };
    if private {
        return Err(CoreError::Upstream {
            status: None,
            message: "the endpoint's address is private, loopback or link-local, which user and org endpoints may not reach".into(),
        });
    }
    Ok(())
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
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "198.18.0.1",
            "240.0.0.1",
            "224.0.0.1",
            "ff02::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "172.32.0.1",
            "100.128.0.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
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

    #[test]
    fn literal_private_hosts_are_refused_at_call_time() {
        for url in [
            "http://10.0.0.5/v1",
            "http://[::1]:8080/v1",
            "http://169.254.169.254/",
        ] {
            let err = check_literal(url).unwrap_err();
            assert!(matches!(err, CoreError::Upstream { .. }), "{url}: {err:?}");
        }
        for url in [
            "https://api.example.com/v1",
            "http://8.8.8.8/v1",
            "http://localhost/",
        ] {
            // Names (localhost too) are the resolver's to check.
            assert!(check_literal(url).is_ok(), "{url}");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_private_names_but_not_the_proxy() {
        use std::sync::Arc;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A stand-in for both an upstream and an egress proxy on loopback.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let reply =
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = s.write_all(reply).await;
                });
            }
        });
        let strict = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnlyResolver::default()))
            .build()
            .unwrap();
        let err = strict
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("private"), "{err:?}");
        // The operator's proxy may be on a private address: it is resolved as it is.
        let via_proxy = reqwest::Client::builder()
            .proxy(reqwest::Proxy::http(format!("http://localhost:{port}")).unwrap())
            .dns_resolver(Arc::new(PublicOnlyResolver {
                proxies: Arc::new(vec!["localhost".into()]),
            }))
            .build()
            .unwrap();
        let r = via_proxy
            .get("http://upstream.example/")
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "ok");
    }
}
