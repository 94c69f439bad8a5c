//! Who the client is: the socket address, or `X-Forwarded-For` from trusted proxies only.

use std::net::IpAddr;

use ipnet::IpNet;

use super::http::Request;
use super::ApiError;
use crate::config::ThrottleConfig;
use crate::security::throttle::Rate;
use crate::App;

/// Whether `ip` is in one of `nets`. A dual-stack socket reports IPv4 peers
/// as `::ffff:a.b.c.d`: they are matched as the IPv4 address they are.
pub fn is_trusted(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    nets.iter().any(|net| net.contains(&ip))
}

/// The client's address. From a trusted proxy, the rightmost `X-Forwarded-For`
/// entry that is not itself a trusted proxy (entries left of it can be forged
/// by the client); from anyone else, the socket address.
pub fn client_ip(req: &Request, trusted: &[IpNet]) -> IpAddr {
    let peer = req.remote_addr().ip();
    if !is_trusted(trusted, peer) {
        return peer;
    }
    let Some(header) = req.header("X-Forwarded-For") else {
        return peer;
    };
    for entry in header.rsplit(',') {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(trusted, ip) => continue,
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
    let client = throttle_identity(client_ip(req, &app.config.server.trusted_proxies));
    Ok(app.throttle_key(&format!("{scope}:ip:{client}"), rate)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_cidr;

    fn contains(net: IpNet, ip: &str) -> bool {
        is_trusted(&[net], ip.parse().unwrap())
    }

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
        assert!(contains(c, "10.1.2.3"));
        assert!(!contains(c, "11.0.0.1"));
        assert!(contains(parse_cidr("127.0.0.1").unwrap(), "127.0.0.1"));
        assert!(contains(parse_cidr("::1").unwrap(), "::1"));
        // A bare address is that address alone (/32, /128); host bits may be set.
        assert!(!contains(parse_cidr("127.0.0.1").unwrap(), "127.0.0.2"));
        assert!(!contains(parse_cidr("::1").unwrap(), "::2"));
        assert!(contains(parse_cidr("10.9.8.7/8").unwrap(), "10.1.2.3"));
        assert!(contains(
            parse_cidr("127.0.0.0/8").unwrap(),
            "::ffff:127.0.0.1"
        ));
        assert!(contains(parse_cidr("fd00::/8").unwrap(), "fd12::1"));
        assert!(contains(parse_cidr("0.0.0.0/0").unwrap(), "8.8.8.8"));
        for bad in [
            "",
            "10.0.0.0/33",
            "nope",
            "10.0.0.0/x",
            "010.0.0.0/8",
            "10.0.0.0/+8",
            "::1/129",
        ] {
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
