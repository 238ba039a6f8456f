//! The client's address: the peer's, unless the peer is a trusted proxy, in which case the
//! nearest untrusted address in `X-Forwarded-For`. Headers from anyone else are ignored.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::HttpRequest;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<Vec<IpAddr>>);

impl TrustedProxies {
    pub fn new(proxies: Vec<IpAddr>) -> Self {
        Self(Arc::new(proxies))
    }

    fn trusts(&self, ip: &IpAddr) -> bool {
        self.0.contains(ip)
    }

    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        self.client_ip_of(req.peer_addr()?.ip(), req.headers())
    }

    /// The client address of a request from `peer` with these headers (for the WebSocket
    /// upgrade, which sees the request before actix-web does).
    pub fn client_ip_of(
        &self,
        peer: IpAddr,
        headers: &actix_web::http::header::HeaderMap,
    ) -> Option<IpAddr> {
        if !self.trusts(&peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse().ok())
            .collect();
        // Walk from the nearest hop outwards; the first address not ours is the client.
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|ip| !self.trusts(ip))
                .unwrap_or(peer),
        )
    }
}

/// The address a per-client limit counts: an IPv6 address by its /64 (one host's usual
/// share), an IPv4 one (also when mapped into IPv6) as it is.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

/// The client address of a request, from the role's [`TrustedProxies`] (none: the peer).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    match req.app_data::<actix_web::web::Data<TrustedProxies>>() {
        Some(proxies) => proxies.client_ip(req),
        None => req.peer_addr().map(|a| a.ip()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(address_key(ip("::ffff:192.0.2.9")), ip("192.0.2.9"));
        assert_eq!(address_key(ip("192.0.2.9")), ip("192.0.2.9"));
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxies = TrustedProxies::new(vec![ip("127.0.0.1")]);
        let spoofed = TestRequest::default()
            .peer_addr("203.0.113.9:5000".parse().expect("addr"))
            .insert_header(("x-forwarded-for", "10.0.0.1"))
            .to_http_request();
        assert_eq!(proxies.client_ip(&spoofed), Some(ip("203.0.113.9")));

        let proxied = TestRequest::default()
            .peer_addr("127.0.0.1:5000".parse().expect("addr"))
            .insert_header(("x-forwarded-for", "10.0.0.1, 198.51.100.7"))
            .to_http_request();
        assert_eq!(proxies.client_ip(&proxied), Some(ip("198.51.100.7")));

        let direct = TestRequest::default()
            .peer_addr("127.0.0.1:5000".parse().expect("addr"))
            .to_http_request();
        assert_eq!(proxies.client_ip(&direct), Some(ip("127.0.0.1")));
    }
}
