//! The SSRF guard: webhook URLs are user input, and the server must not be made to POST to its
//! own loopback, the private network it sits in, or a cloud metadata service. Addresses are
//! checked after resolution, on the exact list the connector will dial, so a public name that
//! resolves to a private address (DNS rebinding included) is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Why an address is not a public destination, or `None` when it is.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private network"
    } else if ip.is_link_local() {
        // 169.254.0.0/16 holds the cloud metadata endpoint 169.254.169.254.
        "link-local (cloud metadata)"
    } else if ip.is_unspecified() || a == 0 {
        "unspecified"
    } else if a == 100 && (64..128).contains(&b) {
        // Shared address space (CGNAT); 100.100.100.200 is a cloud metadata endpoint.
        "shared address space"
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        "broadcast, multicast or reserved"
    } else if (a == 192 && b == 0 && c == 0) || (a == 198 && (b == 18 || b == 19)) {
        "IETF protocol assignments or benchmarking"
    } else if ip.is_documentation() {
        "documentation"
    } else {
        return None;
    };
    Some(reason)
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    // Addresses embedding an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    let segments = ip.segments();
    if segments[0] == 0x64 && segments[1] == 0xff9b {
        // NAT64 (64:ff9b::/96 and 64:ff9b:1::/48).
        let [.., a, b, c, d] = ip.octets();
        return v4_reason(Ipv4Addr::new(a, b, c, d));
    }
    if segments[0] == 0x2002 {
        // 6to4 embeds the IPv4 address in bits 16..48.
        let octets = ip.octets();
        return v4_reason(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    let reason = if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if segments[0] & 0xfe00 == 0xfc00 {
        // fc00::/7, including the fd00:ec2::254 metadata endpoint.
        "unique local"
    } else if segments[0] & 0xffc0 == 0xfe80 {
        "link-local"
    } else if segments[0] & 0xff00 == 0xff00 {
        "multicast"
    } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        "documentation"
    } else if segments[..6] == [0, 0, 0, 0, 0, 0] {
        // Deprecated IPv4-compatible addresses (::a.b.c.d).
        "IPv4-compatible"
    } else {
        return None;
    };
    Some(reason)
}

/// A resolver that drops every forbidden address (unless `allow_private`) and fails when none
/// is left: ureq's connector dials only what the resolver returns.
#[derive(Debug)]
pub(crate) struct GuardedResolver {
    pub(crate) allow_private: bool,
    inner: DefaultResolver,
}

impl GuardedResolver {
    pub(crate) fn new(allow_private: bool) -> GuardedResolver {
        GuardedResolver {
            allow_private,
            inner: DefaultResolver::default(),
        }
    }
}

/// The message an attempt carries when every address was refused.
pub(crate) const REFUSED: &str = "destination refused by the SSRF guard";

impl Resolver for GuardedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = self.inner.resolve(uri, config, timeout)?;
        if self.allow_private {
            return Ok(resolved);
        }
        let mut kept = self.empty();
        let mut refused: Vec<(SocketAddr, &str)> = Vec::new();
        for addr in resolved.iter() {
            match forbidden_reason(addr.ip()) {
                None => kept.push(*addr),
                Some(reason) => refused.push((*addr, reason)),
            }
        }
        if kept.is_empty() {
            let detail: Vec<String> = refused
                .iter()
                .map(|(addr, reason)| format!("{} ({reason})", addr.ip()))
                .collect();
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{REFUSED}: {}", detail.join(", ")),
            )));
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<&'static str> {
        forbidden_reason(text.parse().expect("ip"))
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::",
            "::127.0.0.1",
            "2001:db8::1",
        ] {
            assert!(reason(ip).is_some(), "{ip} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(reason(ip), None, "{ip} is public");
        }
    }
}
