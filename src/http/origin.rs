//! Whether a browser's request comes from the page's own origin: the one check behind the
//! pages' CSRF defence in depth and the WebSocket handshake.

/// Whether an `Origin` (`scheme://host[:port]`) names `host` (`host[:port]`).
pub fn origin_is_host(origin: &str, host: &str) -> bool {
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_hosts() {
        assert!(origin_is_host(
            "http://chat.example:8080",
            "chat.example:8080"
        ));
        assert!(origin_is_host("https://chat.example/", "chat.example"));
        assert!(!origin_is_host("https://evil.example", "chat.example"));
        assert!(!origin_is_host("chat.example", "chat.example"));
    }
}
