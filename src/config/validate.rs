//! Checks that every setting makes sense, naming the key of the first that does not.

use secrecy::ExposeSecret;

use super::{ConfigError, Settings, check_http_url, invalid, parse_bind};
use crate::storage::DbUrl;

impl Settings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, bind) in [
            ("all.bind", &self.all.bind),
            ("front.bind", &self.front.bind),
            ("auth.bind", &self.auth.bind),
            ("ws.bind", &self.ws.bind),
        ] {
            parse_bind(bind).map_err(|m| invalid(key, m))?;
        }
        if self.database.pool_size == 0 {
            return Err(invalid("database.pool_size", "must be at least 1"));
        }
        if self.database.connect_timeout_secs == 0 {
            return Err(invalid(
                "database.connect_timeout_secs",
                "must be at least 1",
            ));
        }
        if let Some(url) = &self.database.url {
            DbUrl::parse(url.expose_secret()).map_err(|m| invalid("database.url", m))?;
        }
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            return Err(invalid(
                "auth.bcrypt_cost",
                format!("must be between 4 and 31 (got {})", self.auth.bcrypt_cost),
            ));
        }
        if self.auth.access_token_ttl_secs < 30 {
            return Err(invalid("auth.access_token_ttl_secs", "must be at least 30"));
        }
        if self.auth.session_ttl_secs < self.auth.access_token_ttl_secs {
            return Err(invalid(
                "auth.session_ttl_secs",
                "must be at least auth.access_token_ttl_secs",
            ));
        }
        if self.auth.requests_per_address_per_minute == 0 {
            return Err(invalid(
                "auth.requests_per_address_per_minute",
                "must be at least 1",
            ));
        }
        for (key, value, min) in [
            ("ws.queue", self.ws.queue as u64, 16),
            ("ws.max_frame_bytes", self.ws.max_frame_bytes as u64, 1024),
            (
                "ws.frames_per_second",
                u64::from(self.ws.frames_per_second),
                1,
            ),
            ("ws.burst", u64::from(self.ws.burst), 1),
            ("ws.heartbeat_secs", self.ws.heartbeat_secs, 1),
            ("ws.max_rooms", self.ws.max_rooms as u64, 1),
            (
                "ws.max_connections_per_user",
                self.ws.max_connections_per_user as u64,
                1,
            ),
            (
                "ws.max_connections_per_address",
                self.ws.max_connections_per_address as u64,
                1,
            ),
            ("ws.max_batch", self.ws.max_batch as u64, 1),
            ("ws.save_lanes", self.ws.save_lanes as u64, 1),
            ("ws.save_timeout_secs", self.ws.save_timeout_secs, 1),
        ] {
            if value < min {
                return Err(invalid(key, format!("must be at least {min}")));
            }
        }
        if self.ws.save_lanes > 64 {
            return Err(invalid("ws.save_lanes", "must be at most 64"));
        }
        if self.ws.client_timeout_secs <= self.ws.heartbeat_secs {
            return Err(invalid(
                "ws.client_timeout_secs",
                "must be longer than ws.heartbeat_secs",
            ));
        }
        for (key, url) in [
            ("front.auth_url", &self.front.auth_url),
            ("front.ws_url", &self.front.ws_url),
            ("ws.front_url", &self.ws.front_url),
        ] {
            if let Some(url) = url {
                check_http_url(url).map_err(|m| invalid(key, m))?;
            }
        }
        if let Some(url) = &self.front.public_ws_url
            && !(url.starts_with("ws://") || url.starts_with("wss://"))
        {
            return Err(invalid(
                "front.public_ws_url",
                "must be a ws:// or wss:// URL",
            ));
        }
        if let Some(token) = &self.internal.token
            && token.expose_secret().len() < 16
        {
            return Err(invalid("internal.token", "must be at least 16 characters"));
        }
        if let Some(url) = &self.bus.redis_url {
            let ok = url.expose_secret().starts_with("redis://")
                || url.expose_secret().starts_with("rediss://");
            if !ok {
                return Err(invalid(
                    "bus.redis_url",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        if self.bus.channel.is_empty() || self.bus.channel.contains(char::is_whitespace) {
            return Err(invalid(
                "bus.channel",
                "must be a non-empty name without spaces",
            ));
        }
        if !(1..=3600).contains(&self.bus.presence_ttl_secs) {
            return Err(invalid(
                "bus.presence_ttl_secs",
                "must be between 1 and 3600 seconds",
            ));
        }
        self.validate_push()?;
        if self.jwt.issuer.is_empty() {
            return Err(invalid("jwt.issuer", "must not be empty"));
        }
        Ok(())
    }
}

impl Settings {
    fn validate_push(&self) -> Result<(), ConfigError> {
        let push = &self.push;
        for (key, value, min) in [
            ("push.queue", push.queue as u64, 1),
            ("push.pending", push.pending as u64, 1),
            ("push.concurrency", push.concurrency as u64, 1),
            ("push.per_endpoint", push.per_endpoint as u64, 1),
            ("push.timeout_secs", push.timeout_secs, 1),
            ("push.attempts", u64::from(push.attempts), 1),
            ("push.retry_max_secs", push.retry_max_secs, 1),
            (
                "push.max_subscriptions_per_user",
                push.max_subscriptions_per_user as u64,
                1,
            ),
        ] {
            if value < min {
                return Err(invalid(key, format!("must be at least {min}")));
            }
        }
        if push.attempts > 20 {
            return Err(invalid("push.attempts", "must be at most 20"));
        }
        // RFC 8030: a push service may cap the TTL; 28 days is the longest any keeps.
        if push.ttl_secs > 28 * 24 * 3600 {
            return Err(invalid(
                "push.ttl_secs",
                "must be at most 2419200 (28 days)",
            ));
        }
        if let Some(subject) = &push.subject {
            let ok = subject
                .strip_prefix("mailto:")
                .is_some_and(|rest| rest.contains('@'))
                || url::Url::parse(subject).is_ok_and(|u| u.scheme() == "https");
            if !ok {
                return Err(invalid(
                    "push.subject",
                    "must be a mailto: address or an https:// URL (RFC 8292)",
                ));
            }
        }
        if let Some(bad) = push
            .allowed_hosts
            .iter()
            .find(|h| h.is_empty() || h.contains(['/', ':', ' ']))
        {
            return Err(invalid(
                "push.allowed_hosts",
                format!("must hold host names only (got {bad:?})"),
            ));
        }
        Ok(())
    }
}
