//! Address classes and protocol names: one place decides what a private address is and
//! how a protocol is spelled, for the aggregator (which peers are VPC peers), the
//! proposer (which peers are on the internet) and every export.

use std::net::IpAddr;

/// Whether `addr` is not an internet address: RFC 1918 and the shared address space
/// 100.64.0.0/10 (carrier-grade NAT, which EKS custom networking uses for pods), IPv6
/// unique local addresses (fc00::/7), and loopback and link-local addresses (they never
/// leave a host or its link, so no internet gateway carries them).
pub fn is_private(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let [first, second, ..] = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || first == 100 && (64..128).contains(&second)
        }
        IpAddr::V6(a) => {
            let first = a.segments()[0];
            (first & 0xfe00) == 0xfc00 || a.is_loopback() || (first & 0xffc0) == 0xfe80
        }
    }
}

/// A protocol as the AWS API spells it: `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all), or
/// its number.
pub fn protocol_name(p: i32) -> String {
    match p {
        -1 => "-1".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        58 => "icmpv6".into(),
        n => n.to_string(),
    }
}

/// A protocol and port for people: `tcp 443`, `udp 53`, or `icmp` (ICMP has no port).
pub fn port_name(protocol: u8, port: u16) -> String {
    match protocol {
        1 | 58 => protocol_name(i32::from(protocol)),
        p => format!("{} {port}", protocol_name(i32::from(p))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_public_loopback_and_link_local() {
        let private = |s: &str| is_private(s.parse().unwrap());
        for p in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
            "fd00::1",
            "fc00::1",
            "::1",
            "fe80::1",
        ] {
            assert!(private(p), "{p}");
        }
        for p in [
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "52.95.0.1",
            "2600:1f18::1",
            "fec0::1",
        ] {
            assert!(!private(p), "{p}");
        }
    }

    #[test]
    fn protocols_are_spelled_as_aws_does() {
        assert_eq!(
            [-1, 6, 17, 1, 58, 47].map(protocol_name),
            ["-1", "tcp", "udp", "icmp", "icmpv6", "47"]
        );
        assert_eq!(port_name(6, 443), "tcp 443");
        assert_eq!(port_name(1, 0), "icmp");
    }
}
