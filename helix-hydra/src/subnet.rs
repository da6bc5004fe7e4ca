//! IPv4 subnets in CIDR notation, parsed and formatted with `std` only.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{HydraError, Result};

/// An IPv4 network: a network address with no host bits set and a prefix length.
///
/// Parses from and prints as CIDR (`10.213.4.0/24`), and serializes as that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subnet {
    network: Ipv4Addr,
    prefix_len: u8,
}

impl Subnet {
    /// The subnet `network/prefix_len`.
    ///
    /// Fails when `prefix_len` is above 32 or `network` has host bits set
    /// (`10.0.0.1/8` is refused rather than silently truncated).
    pub fn new(network: Ipv4Addr, prefix_len: u8) -> Result<Self> {
        let input = || format!("{network}/{prefix_len}");
        if prefix_len > 32 {
            return Err(HydraError::InvalidCidr {
                input: input(),
                reason: "prefix length is above 32".into(),
            });
        }
        let masked = u32::from(network) & mask(prefix_len);
        if masked != u32::from(network) {
            return Err(HydraError::InvalidCidr {
                input: input(),
                reason: format!(
                    "host bits are set; the network is {}/{prefix_len}",
                    Ipv4Addr::from(masked)
                ),
            });
        }
        Ok(Self {
            network,
            prefix_len,
        })
    }

    /// A subnet the caller knows to be valid (aligned, prefix at most 32).
    pub(crate) fn new_unchecked(network: Ipv4Addr, prefix_len: u8) -> Self {
        debug_assert!(
            Self::new(network, prefix_len).is_ok(),
            "{network}/{prefix_len}"
        );
        Self {
            network,
            prefix_len,
        }
    }

    /// The network address (the first address).
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length, 0 to 32.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The netmask, for example `255.255.255.0` for a /24.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.prefix_len))
    }

    /// Number of addresses, network and broadcast included (`2^(32 - prefix_len)`).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix_len))
    }

    /// The last address (the broadcast address for prefixes up to /30).
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask(self.prefix_len))
    }

    /// The first host address, conventionally the bridge gateway; `None` for /31 and
    /// /32, which have no room for a gateway and hosts.
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        (self.prefix_len <= 30).then(|| Ipv4Addr::from(u32::from(self.network) + 1))
    }

    /// Whether `ip` is inside this subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix_len) == u32::from(self.network)
    }

    /// Whether `other` lies entirely inside this subnet.
    pub fn contains_subnet(&self, other: &Subnet) -> bool {
        other.prefix_len >= self.prefix_len && self.contains(other.network)
    }

    /// Whether the two subnets share any address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains_subnet(other) || other.contains_subnet(self)
    }
}

/// The netmask of a prefix length as a `u32` (`prefix_len` must be at most 32).
fn mask(prefix_len: u8) -> u32 {
    match prefix_len {
        0 => 0,
        n => u32::MAX << (32 - u32::from(n.min(32))),
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl FromStr for Subnet {
    type Err = HydraError;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = |reason: &str| HydraError::InvalidCidr {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| invalid("expected address/prefix, for example 10.213.0.0/16"))?;
        let network: Ipv4Addr = addr
            .parse()
            .map_err(|_| invalid("the address is not a dotted-quad ipv4 address"))?;
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("the prefix length is not a number from 0 to 32"));
        }
        let prefix_len: u8 = prefix
            .parse()
            .map_err(|_| invalid("the prefix length is not a number from 0 to 32"))?;
        Subnet::new(network, prefix_len)
    }
}

impl Serialize for Subnet {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Subnet {
        s.parse().expect("valid cidr")
    }

    #[test]
    fn parses_and_formats_round_trip() {
        for text in [
            "10.213.0.0/16",
            "0.0.0.0/0",
            "192.168.1.7/32",
            "172.16.0.0/12",
        ] {
            assert_eq!(net(text).to_string(), text);
        }
        let s = net("10.213.4.0/24");
        assert_eq!(s.network(), Ipv4Addr::new(10, 213, 4, 0));
        assert_eq!(s.prefix_len(), 24);
        assert_eq!(s.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(s.size(), 256);
        assert_eq!(s.last(), Ipv4Addr::new(10, 213, 4, 255));
        assert_eq!(s.gateway(), Some(Ipv4Addr::new(10, 213, 4, 1)));
        assert_eq!(net("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(net("10.0.0.0/31").gateway(), None);
    }

    #[test]
    fn refuses_malformed_cidrs() {
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0.0/+8",
            "10.0.0.0/008",
            "10.0.0/8",
            "10.0.0.256/24",
            "::1/128",
            "10.0.0.1/8",
            " 10.0.0.0/8",
        ] {
            let err = bad.parse::<Subnet>().expect_err(bad);
            assert_eq!(err.code(), "invalid_cidr", "{bad}");
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        let err = net_err("10.0.0.1/8");
        assert!(err.contains("10.0.0.0/8"), "{err}");
    }

    fn net_err(s: &str) -> String {
        s.parse::<Subnet>().expect_err(s).to_string()
    }

    #[test]
    fn containment_and_overlap() {
        let parent = net("10.213.0.0/16");
        let a = net("10.213.1.0/24");
        let b = net("10.213.2.0/24");
        assert!(parent.contains_subnet(&a));
        assert!(!a.contains_subnet(&parent));
        assert!(parent.overlaps(&a) && a.overlaps(&parent));
        assert!(!a.overlaps(&b));
        assert!(a.contains(Ipv4Addr::new(10, 213, 1, 200)));
        assert!(!a.contains(Ipv4Addr::new(10, 213, 2, 0)));
        assert!(net("0.0.0.0/0").overlaps(&a));
    }

    #[test]
    fn serializes_as_a_cidr_string() {
        let s = net("10.213.4.0/24");
        let json = serde_json::to_string(&s).expect("json");
        assert_eq!(json, r#""10.213.4.0/24""#);
        assert_eq!(serde_json::from_str::<Subnet>(&json).expect("back"), s);
        assert!(serde_json::from_str::<Subnet>(r#""10.213.4.1/24""#).is_err());
    }
}
