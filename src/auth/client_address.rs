//! Who is on the other end, for throttling and logs: the TCP peer, or, only when the peer is a
//! proxy the operator trusts (`--trusted-proxy`), the client that proxy forwarded.
//!
//! Anyone can send `X-Forwarded-For`, so the header counts only from a trusted peer, and even
//! then only its right-most hop that is not itself a trusted proxy: everything left of that was
//! written by the client (a proxy appends the address it saw).

use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An address or a range of them (`10.0.0.0/8`, `2001:db8::/32`, `127.0.0.1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("{s:?} is not an IP address or a range like 10.0.0.0/8");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let net = IpAddr::from_str(addr).map_err(|_| bad())?.to_canonical();
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { net, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                same_prefix(n.to_bits().into(), a.to_bits().into(), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                same_prefix(n.to_bits(), a.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the top `prefix` bits of two `width`-bit addresses agree.
fn same_prefix(a: u128, b: u128, width: u32, prefix: u8) -> bool {
    let shift = width - u32::from(prefix);
    shift >= 128 || (a >> shift) == (b >> shift)
}

/// The proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn new(ranges: Vec<Cidr>) -> Self {
        TrustedProxies(ranges)
    }

    /// Whether `ip` is one of the proxies (an IPv4 peer seen as IPv6-mapped counts as itself).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client behind `peer`: `peer` itself unless it is trusted and forwarded a client.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut nearest = peer;
        for hop in forwarded_hops(headers).into_iter().rev() {
            match hop {
                Some(ip) if self.trusts(ip) => nearest = ip,
                Some(ip) => return ip,
                // A hop we cannot read: our proxies wrote nonsense, so believe none of it.
                None => return nearest,
            }
        }
        nearest
    }
}

/// The hops of `X-Forwarded-For` (all its lines, in order), or else of `Forwarded`'s `for=`.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().map(|s| s.split(',')).into_iter().flatten())
        .map(hop_address)
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all("forwarded")
        .iter()
        .flat_map(|v| v.to_str().map(|s| s.split(',')).into_iter().flatten())
        .map(|element| {
            element
                .split(';')
                .find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then_some(v)
                })
                .and_then(hop_address)
        })
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `"[2001:db8::1]:4711"`; `unknown` and
/// obfuscated names are not addresses.
fn hop_address(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = IpAddr::from_str(s) {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let inner = rest.split(']').next()?;
        return IpAddr::from_str(inner).ok().map(|ip| ip.to_canonical());
    }
    SocketAddr::from_str(s).ok().map(|a| a.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn ranges_contain_what_they_should() {
        let c: Cidr = "10.9.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.9.255.1")));
        assert!(!c.contains(ip("10.10.0.1")));
        assert!(c.contains(ip("::ffff:10.9.0.1")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")) && !all.contains(ip("::1")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        let any6: Cidr = "::/0".parse().unwrap();
        assert!(any6.contains(ip("2001:db8::1")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_peers() {
        let none = proxies(&[]);
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(none.client(ip("192.0.2.1"), &h), ip("192.0.2.1"));

        let t = proxies(&["192.0.2.0/24"]);
        assert_eq!(t.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        assert_eq!(t.client(ip("192.0.2.1"), &h), ip("203.0.113.7"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let t = proxies(&["192.0.2.0/24", "10.0.0.0/8"]);
        let peer = ip("192.0.2.1");
        let cases = [
            ("198.51.100.1, 203.0.113.7", "203.0.113.7"),
            ("203.0.113.7, 10.1.1.1", "203.0.113.7"),
            ("203.0.113.7:1234", "203.0.113.7"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("10.1.1.1", "10.1.1.1"),
            ("garbage, 10.1.1.1", "10.1.1.1"),
            ("203.0.113.7, garbage", "192.0.2.1"),
        ];
        for (xff, client) in cases {
            let h = headers(&[("x-forwarded-for", xff)]);
            assert_eq!(t.client(peer, &h), ip(client), "{xff}");
        }
        let two_lines = headers(&[
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(t.client(peer, &two_lines), ip("203.0.113.9"));
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let t = proxies(&["127.0.0.1"]);
        let peer = ip("127.0.0.1");
        let cases = [
            ("for=203.0.113.7", "203.0.113.7"),
            ("for=\"203.0.113.7:4711\";proto=https", "203.0.113.7"),
            ("for=\"[2001:db8::1]:4711\"", "2001:db8::1"),
            (
                "for=198.51.100.1, For=203.0.113.8;by=127.0.0.1",
                "203.0.113.8",
            ),
            ("for=unknown", "127.0.0.1"),
            ("proto=https", "127.0.0.1"),
        ];
        for (fwd, client) in cases {
            let h = headers(&[("forwarded", fwd)]);
            assert_eq!(t.client(peer, &h), ip(client), "{fwd}");
        }
    }
}
