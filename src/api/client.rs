//! Who the client is: the socket address, or `X-Forwarded-For` from trusted proxies only.

use std::net::IpAddr;

use super::http::Request;
use super::ApiError;
use crate::config::ThrottleConfig;
use crate::security::throttle::Rate;
use crate::App;

/// An address range: an IP with a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Whether `ip` is inside the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`.
pub fn parse_cidr(s: &str) -> Result<Cidr, String> {
    let s = s.trim();
    let bad =
        || format!("expected an IP address or CIDR range such as \"10.0.0.0/8\", found {s:?}");
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
        None => max,
    };
    Ok(Cidr { addr, bits })
}

/// The client's address. From a trusted proxy, the rightmost `X-Forwarded-For`
/// entry that is not itself a trusted proxy (entries left of it can be forged
/// by the client); from anyone else, the socket address.
pub fn client_ip(req: &Request, trusted: &[Cidr]) -> IpAddr {
    let peer = req.remote_addr().ip();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(header) = req.header("X-Forwarded-For") else {
        return peer;
    };
    for entry in header.rsplit(',') {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

/// What throttling counts a client as: an IPv4 address, or the /64 of an
/// IPv6 address (one subscriber usually holds a whole /64, so counting single
/// IPv6 addresses would give an attacker unlimited counters). IPv4-mapped
/// IPv6 addresses count as their IPv4 address.
pub fn throttle_identity(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let net = u128::from(v6) & (u128::MAX << 64);
                format!("{}/64", std::net::Ipv6Addr::from(net))
            }
        },
    }
}

/// Counts a request from this client under `rate` (the scope names the
/// counter): 429 once over it.
pub fn throttle_client(
    app: &App,
    req: &Request,
    scope: &str,
    rate: impl Fn(&ThrottleConfig) -> Rate,
) -> Result<(), ApiError> {
    let client = throttle_identity(client_ip(req, &app.trusted_proxies));
    Ok(app.throttle_key(&format!("{scope}:ip:{client}"), rate)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_per_64() {
        let id = |s: &str| throttle_identity(s.parse().unwrap());
        assert_eq!(id("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(id("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(id("2001:db8:1:3::1"), id("2001:db8:1:2::1"));
        assert_eq!(id("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(id("192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn cidr_ranges() {
        let c = parse_cidr("10.0.0.0/8").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(parse_cidr("127.0.0.1")
            .unwrap()
            .contains("127.0.0.1".parse().unwrap()));
        assert!(parse_cidr("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(parse_cidr("127.0.0.0/8")
            .unwrap()
            .contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(parse_cidr("fd00::/8")
            .unwrap()
            .contains("fd12::1".parse().unwrap()));
        assert!(parse_cidr("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "nope", "10.0.0.0/x"] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_only_from_trusted_peers() {
        let req = |xff: &str| {
            Request::new(
                "GET",
                "/",
                vec![("x-forwarded-for".into(), xff.into())],
                vec![],
                "127.0.0.1:5000".parse().unwrap(),
            )
        };
        let trusted = [parse_cidr("127.0.0.1").unwrap()];
        assert_eq!(
            client_ip(&req("1.1.1.1, 2.2.2.2"), &trusted),
            "2.2.2.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(&req("1.1.1.1, 127.0.0.1"), &trusted),
            "1.1.1.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(&req("garbage"), &trusted),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(&req("1.1.1.1"), &[]),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
    }
}
