//! Where a webhook may send (OWASP SSRF prevention; reliability plan L8).
//!
//! A webhook URL is typed by project owners, so without a check the server would POST wherever
//! they point it: its own admin port, a database on loopback, a cloud metadata service. Targets
//! on loopback, private (RFC 1918, ULA, shared CGNAT), link-local, unspecified and other
//! non-public addresses are refused, unless the operator lists the host (`host` or `host:port`)
//! in `--webhook-allow-hosts`.
//!
//! The check runs twice: on the URL at creation ([`vet`]), and at delivery on the address
//! actually connected to, since DNS can change in between. At delivery, IP literals are checked
//! before sending and names are resolved by [`GuardedResolver`], which refuses the whole answer
//! when any address in it is internal and otherwise hands reqwest exactly the addresses it
//! checked, so nothing is resolved a second time (no rebinding between check and connect).
//!
//! Numeric spellings of loopback (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`) need no
//! rule here: the URL parser turns them into `127.0.0.1` (WHATWG host parsing), as every
//! HTTP client would.

use crate::error::{AppError, AppResult};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long creation waits for DNS before accepting a name it could not resolve (delivery
/// checks it again either way).
const CREATE_LOOKUP: Duration = Duration::from_secs(2);

/// Hosts the operator lets webhooks reach although they are internal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    /// Normalised host (as the URL parser writes it) and, when given, the only port allowed.
    entries: Vec<(String, Option<u16>)>,
}

impl AllowList {
    /// Reads `host` or `host:port` entries (IPv6 as `[::1]:8080`), separated by commas or
    /// spaces.
    pub fn parse(list: &str) -> Result<AllowList, String> {
        let mut entries = Vec::new();
        for raw in list.split([',', ' ', '\n', '\t']).filter(|s| !s.is_empty()) {
            entries.push(parse_entry(raw)?);
        }
        Ok(AllowList { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the operator allowed this URL's host and port.
    pub fn allows(&self, url: &Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        let host = host.trim_end_matches('.');
        self.entries
            .iter()
            .any(|(h, p)| h == host && p.is_none_or(|p| p == port))
    }
}

fn parse_entry(raw: &str) -> Result<(String, Option<u16>), String> {
    let bad = || format!("{raw:?} is not a host or host:port");
    // A port follows the last colon, except inside an unbracketed IPv6 address.
    let (host, port) = match raw.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
            (h, Some(p.parse::<u16>().map_err(|_| bad())?))
        }
        _ => (raw, None),
    };
    if host.is_empty() || host.contains(['/', '?', '#', '@', '\\']) {
        return Err(bad());
    }
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let url = Url::parse(&format!("http://{host}/")).map_err(|_| bad())?;
    let host = url.host_str().ok_or_else(bad)?;
    Ok((host.trim_end_matches('.').to_string(), port))
}

/// Why an address is not a webhook target, or None for a public one.
pub fn internal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified address",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (100, 64..=127, _) => "a private (shared) address",
        (169, 254, _) => "a link-local address",
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (198, 18..=19, _) => {
            "a reserved address"
        }
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved address",
        _ => return None,
    })
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    let s = ip.segments();
    // IPv4 carried in IPv6 (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96,
    // 6to4 2002::/16) is judged by the IPv4 address it reaches.
    if let Some(v4) = ip.to_ipv4() {
        return internal_v4(v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return internal_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        return internal_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    Some(match s[0] {
        0xfc00..=0xfdff => "a private (unique local) address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if s[1] == 0x0db8 => "a reserved address",
        _ => return None,
    })
}

/// `localhost` and its subdomains are loopback by definition (RFC 6761), whatever DNS says.
fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// A refusal, in words a project owner can act on.
fn refusal(host: &str, why: &str) -> String {
    format!(
        "{host} is {why}, which webhooks may not reach; give a public address \
         (an operator can allow the host with --webhook-allow-hosts)"
    )
}

/// What [`vet`] found: a URL a webhook may be created with.
#[derive(Debug, Clone)]
pub struct Target {
    url: String,
}

impl Target {
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

/// Checks a URL typed for a new webhook: an absolute http(s) URL, no credentials, and (unless
/// the operator allows its host) not an internal address nor a name that resolves to one.
/// A name that does not resolve now is accepted: delivery checks it again.
pub async fn vet(url: &str, allow: &AllowList) -> AppResult<Target> {
    let parsed = parse(url).map_err(|m| AppError::invalid("url", m))?;
    if !allow.allows(&parsed) {
        let host = parsed.host_str().unwrap_or_default().to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let found = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => internal(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => internal(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) if is_localhost(name) => Some("a loopback name"),
            Some(url::Host::Domain(name)) => {
                match tokio::time::timeout(CREATE_LOOKUP, tokio::net::lookup_host((name, port)))
                    .await
                {
                    Ok(Ok(addrs)) => addrs
                        .map(|a| a.ip())
                        .find_map(internal)
                        .map(|_| "a name that resolves to an internal address"),
                    _ => None,
                }
            }
            None => Some("not a host"),
        };
        if let Some(why) = found {
            return Err(AppError::invalid("url", refusal(&host, why)));
        }
    }
    Ok(Target {
        url: parsed.to_string(),
    })
}

/// The URL rules that need no network: absolute http(s), a host, no user name or password.
pub fn parse(url: &str) -> Result<Url, String> {
    let url = url.trim();
    let bad = || "give an absolute http:// or https:// URL".to_string();
    if url.is_empty() || url.len() > 2000 {
        return Err(bad());
    }
    let parsed = Url::parse(url).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("put no user name or password in the URL".into());
    }
    Ok(parsed)
}

/// Why a delivery was not sent, as the delivery list shows it.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The check at delivery for a URL whose host is an IP literal (reqwest resolves nothing for
/// those) or a localhost name; other names are left to [`GuardedResolver`].
pub fn check_before_send(url: &Url, allow: &AllowList) -> Result<(), Refused> {
    if allow.allows(url) {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    let why = match url.host() {
        Some(url::Host::Ipv4(ip)) => internal(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => internal(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) if is_localhost(name) => Some("a loopback name"),
        Some(url::Host::Domain(_)) => None,
        None => Some("not a host"),
    };
    match why {
        Some(why) => Err(Refused(refusal(host, why))),
        None => Ok(()),
    }
}

/// Resolves names for deliveries and refuses an answer holding any internal address; the
/// addresses it returns are the ones reqwest connects to.
#[derive(Debug, Default)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| Refused(format!("the host name {host} could not be resolved")))?
                .collect();
            if let Some(why) = addrs.iter().find_map(|a| internal(a.ip())) {
                let why = format!("a name that resolves to {why}");
                return Err(Box::new(Refused(refusal(&host, &why))) as _);
            }
            if addrs.is_empty() {
                return Err(Box::new(Refused(format!(
                    "the host name {host} could not be resolved"
                ))) as _);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn numeric_spellings_of_loopback_are_loopback() {
        for s in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
        ] {
            let err = check_before_send(&url(s), &AllowList::default()).unwrap_err();
            assert!(err.0.contains("loopback"), "{s}: {err}");
        }
    }

    #[test]
    fn internal_ranges_are_named_and_public_addresses_pass() {
        let cases = [
            ("0.0.0.0", Some("an unspecified address")),
            ("10.1.2.3", Some("a private address")),
            ("172.16.0.1", Some("a private address")),
            ("172.31.255.255", Some("a private address")),
            ("192.168.1.1", Some("a private address")),
            ("100.64.0.1", Some("a private (shared) address")),
            ("169.254.169.254", Some("a link-local address")),
            ("224.0.0.1", Some("a multicast address")),
            ("255.255.255.255", Some("a reserved address")),
            ("::", Some("an unspecified address")),
            ("fd00::1", Some("a private (unique local) address")),
            ("fe80::1", Some("a link-local address")),
            ("::ffff:10.0.0.1", Some("a private address")),
            ("172.32.0.1", None),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("2606:4700::1111", None),
        ];
        for (ip, want) in cases {
            assert_eq!(internal(ip.parse().unwrap()), want, "{ip}");
        }
    }

    #[test]
    fn localhost_names_are_refused_without_dns() {
        for s in [
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost:8080/",
        ] {
            assert!(
                check_before_send(&url(s), &AllowList::default()).is_err(),
                "{s}"
            );
        }
        assert!(
            check_before_send(&url("http://hooks.example.com/"), &AllowList::default()).is_ok()
        );
    }

    #[test]
    fn the_allow_list_matches_host_and_optional_port() {
        let allow = AllowList::parse("127.0.0.1:9000, hooks.internal [::1]:81,2130706434").unwrap();
        assert!(allow.allows(&url("http://127.0.0.1:9000/x")));
        assert!(!allow.allows(&url("http://127.0.0.1:9001/x")));
        assert!(allow.allows(&url("http://hooks.internal/x")));
        assert!(allow.allows(&url("https://HOOKS.internal.:8443/x")));
        assert!(allow.allows(&url("http://[::1]:81/")));
        assert!(!allow.allows(&url("http://[::1]:80/")));
        // Entries are normalised like URLs: 2130706434 is 127.0.0.2.
        assert!(allow.allows(&url("http://127.0.0.2:5/")));
        assert!(!allow.allows(&url("http://localhost:9000/")));
        assert!(check_before_send(&url("http://127.0.0.1:9000/"), &allow).is_ok());
        assert!(check_before_send(&url("http://127.0.0.1:9001/"), &allow).is_err());
        for bad in [
            "127.0.0.1:x",
            "host:99999",
            "b/c:1",
            "me@host",
            "http://x",
            ":80",
        ] {
            assert!(AllowList::parse(bad).is_err(), "{bad}");
        }
        assert!(AllowList::parse("").unwrap().is_empty());
    }

    #[tokio::test]
    async fn creation_refuses_internal_targets_with_the_reason() {
        let none = AllowList::default();
        for (u, says) in [
            ("http://127.0.0.1:9/x", "loopback"),
            ("http://2130706433/", "loopback"),
            ("http://localhost:80/", "loopback"),
            ("http://0.0.0.0/", "unspecified"),
            ("http://192.168.0.10/", "private"),
            ("http://[fe80::1]/", "link-local"),
        ] {
            let e = vet(u, &none).await.unwrap_err().to_string();
            assert!(e.contains(says), "{u}: {e}");
        }
        let allow = AllowList::parse("127.0.0.1:9").unwrap();
        assert_eq!(
            vet("http://127.0.0.1:9/x", &allow).await.unwrap().as_str(),
            "http://127.0.0.1:9/x"
        );
    }
}
