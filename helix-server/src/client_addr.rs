//! The client's address: the TCP peer, or, when the peer is a trusted reverse proxy
//! (`--trusted-proxies`), the nearest untrusted address in its `X-Forwarded-For`.
//! Used to throttle password logins per address.

use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// One trusted network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `fd00::/8`, or a bare address (one host).
    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, prefix) = match s.trim().split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| format!("{s:?} is not an address or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0-{max}"))?,
        };
        // `::ffff:10.0.0.0/104` is 10.0.0.0/8: addresses are compared unmapped.
        if let IpAddr::V6(v6) = addr {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return Ok(Cidr {
                    addr: IpAddr::V4(v4),
                    prefix: prefix.saturating_sub(96),
                });
            }
        }
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    /// Whether `ip` is inside (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn masked(net: u128, ip: u128, prefix: u8, bits: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (net >> shift) == (ip >> shift)
}

/// The client's address as this request shows it (`None` when the server was not told
/// the peer, as in in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        Ok(ClientAddr(peer.map(|p| {
            client_of(p, &forwarded, &state.http.trusted_proxies)
        })))
    }
}

/// Walks from the peer back through `X-Forwarded-For` (right to left) while the hops are
/// trusted proxies; the first one that is not is the client. A malformed entry stops
/// the walk at the last trusted hop (a client cannot pick its address that way).
pub fn client_of(peer: IpAddr, forwarded: &[&str], trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        if !is_trusted(client) {
            break;
        }
        match parse_hop(hop) {
            Some(ip) => client = ip,
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, `1.2.3.4:5678`, or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(sock) = hop.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_parse_and_match() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped");
        let host: Cidr = "192.168.1.5".parse().unwrap();
        assert!(host.contains(ip("192.168.1.5")) && !host.contains(ip("192.168.1.6")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nope", "1.2.3.4/x", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        // No proxy trusted: the peer, whatever the header says.
        assert_eq!(
            client_of(ip("203.0.113.9"), &["1.1.1.1"], &[]),
            ip("203.0.113.9")
        );
        // Through a trusted proxy: the address it saw.
        assert_eq!(
            client_of(ip("10.0.0.2"), &["198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        // A client that sends its own X-Forwarded-For cannot choose its address: the
        // trusted proxy appends the real one, which is taken first.
        assert_eq!(
            client_of(ip("10.0.0.2"), &["1.2.3.4", "198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        // Two trusted hops.
        assert_eq!(
            client_of(ip("10.0.0.2"), &["198.51.100.7", "10.0.0.9"], &trusted),
            ip("198.51.100.7")
        );
        // Proxies that add ports or brackets.
        let hop = |h: &str| client_of(ip("10.0.0.2"), &[h], &trusted);
        assert_eq!(hop("198.51.100.7:5678"), ip("198.51.100.7"));
        assert_eq!(hop("[2001:db8::1]:443"), ip("2001:db8::1"));
        assert_eq!(hop("[2001:db8::1]"), ip("2001:db8::1"));
        // A trusted network written IPv4-mapped matches the plain addresses.
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert!(mapped.contains(ip("10.9.9.9")) && !mapped.contains(ip("11.0.0.1")));
        // An untrusted peer's header is ignored; garbage stops the walk.
        assert_eq!(
            client_of(ip("203.0.113.9"), &["10.0.0.1"], &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_of(ip("10.0.0.2"), &["junk"], &trusted),
            ip("10.0.0.2")
        );
    }
}
