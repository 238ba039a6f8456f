//! Built-in defaults: `chatapp all` needs no configuration at all.

use std::path::PathBuf;

use super::*;

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database: DatabaseSettings::default(),
            all: ListenSettings {
                bind: "127.0.0.1:8080".into(),
            },
            front: FrontSettings::default(),
            auth: AuthSettings::default(),
            jwt: JwtSettings::default(),
            ws: WsSettings::default(),
            http: HttpSettings::default(),
            internal: InternalSettings::default(),
            bus: BusSettings::default(),
            push: PushSettings::default(),
            log: LogSettings::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            pool_size: 8,
            connect_timeout_secs: 5,
        }
    }
}

impl Default for ListenSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
        }
    }
}

impl Default for FrontSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:5000".into(),
            auth_url: None,
            ws_url: None,
            public_ws_url: None,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:5001".into(),
            signing_key_file: None,
            bcrypt_cost: 12,
            access_token_ttl_secs: 300,
            session_ttl_secs: 7 * 24 * 3600,
            free_login_failures: 5,
            requests_per_address_per_minute: 120,
            registration: crate::domain::Registration::Invite,
        }
    }
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            public_key_file: None,
            issuer: "chatapp".into(),
            leeway_secs: 30,
        }
    }
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:5002".into(),
            front_url: None,
            allowed_origins: Vec::new(),
            queue: 1024,
            max_frame_bytes: 32 * 1024,
            frames_per_second: 30,
            burst: 100,
            heartbeat_secs: 30,
            client_timeout_secs: 75,
            max_rooms: 100,
            max_connections_per_user: 32,
            max_connections_per_address: 256,
            max_batch: 256,
            save_lanes: 1,
            save_timeout_secs: 10,
        }
    }
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            subject: None,
            // The push services of Chrome, Edge, Firefox and Safari.
            allowed_hosts: [
                "fcm.googleapis.com",
                "push.services.mozilla.com",
                "notify.windows.com",
                "push.apple.com",
            ]
            .map(String::from)
            .to_vec(),
            allow_http: false,
            queue: 1024,
            pending: 1024,
            concurrency: 16,
            per_endpoint: 8,
            timeout_secs: 10,
            attempts: 4,
            retry_base_ms: 1000,
            retry_max_secs: 60,
            ttl_secs: 4 * 3600,
            max_subscriptions_per_user: 20,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}
