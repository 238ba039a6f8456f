//! The pieces `Application::build` wires together: database, keys, accounts, the ws
//! options and store, and the shutdown hook.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};

use super::Role;
use crate::accounts::{Accounts, LimitSettings, LoginLimits, PasswordHasher, TokenLifetimes};
use crate::clients::HttpStoreConnector;
use crate::config::Settings;
use crate::http::client_ip::TrustedProxies;
use crate::storage::{Backend, Db, migrations};
use crate::tokens::{self, KeyPair, TokenSigner, TokenVerifier};
use crate::ws::{ConnCaps, ConnLimits, PersistSettings, RedisOptions, WsOptions, WsState};

/// Opens the pool. `all` brings the schema up to date itself; the split roles refuse a
/// schema that is behind and say to run `chatapp migrate`.
pub(super) async fn open_database(role: Role, settings: &Settings) -> anyhow::Result<Db> {
    let url = settings.database_url();
    let pool_size = settings.database.pool_size;
    let timeout = settings.database_timeout();
    let shown = url.redacted();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Db> {
        let db = Db::connect(&url, pool_size, timeout)
            .with_context(|| format!("cannot open the database {}", url.redacted()))?;
        let mut conn = db.get()?;
        if role == Role::All {
            for name in migrations::run_pending(&mut conn)? {
                tracing::info!(migration = %name, "applied migration");
            }
        } else {
            migrations::ensure_current(&mut conn)?;
        }
        Ok(db)
    })
    .await
    .context("database start-up was cancelled")?
    .inspect(|db| tracing::info!(database = %shown, backend = %db.backend(), "database ready"))
}

/// `ws` apart from `front`: store through front's internal API.
pub(super) fn http_store(settings: &Settings) -> anyhow::Result<HttpStoreConnector> {
    let base = settings.ws.front_url.clone().ok_or_else(|| {
        anyhow!(
            "configuration key `ws.front_url` is not set: `ws` stores messages through \
             front's internal API (e.g. CHATAPP__WS__FRONT_URL=http://10.0.0.1:5000)"
        )
    })?;
    let token = settings.internal.token.clone().ok_or_else(|| {
        anyhow!(
            "configuration key `internal.token` is not set: `ws` needs the service \
             credential that front accepts (CHATAPP__INTERNAL__TOKEN, same on both)"
        )
    })?;
    Ok(HttpStoreConnector {
        base,
        token,
        timeout: std::time::Duration::from_secs(settings.ws.save_timeout_secs),
    })
}

/// `backend` is the database of this process (inside `all`), if any: SQLite writes one
/// transaction at a time, so more than one save lane would only make lanes wait for its lock.
pub(super) fn ws_options(settings: &Settings, backend: Option<Backend>) -> WsOptions {
    let ws = &settings.ws;
    let lanes = if backend == Some(Backend::Sqlite) {
        1
    } else {
        ws.save_lanes
    };
    WsOptions {
        redis: settings.bus.redis_url.as_ref().map(|url| {
            use secrecy::ExposeSecret;
            RedisOptions {
                url: url.expose_secret().to_owned(),
                prefix: settings.bus.channel.clone(),
                presence_ttl: std::time::Duration::from_secs(settings.bus.presence_ttl_secs),
            }
        }),
        limits: ConnLimits {
            max_text_bytes: ws.max_frame_bytes,
            frames_per_second: ws.frames_per_second,
            burst: ws.burst,
            heartbeat: std::time::Duration::from_secs(ws.heartbeat_secs),
            client_timeout: std::time::Duration::from_secs(ws.client_timeout_secs),
            max_rooms: ws.max_rooms,
            abuse_limit: ws.burst.saturating_mul(2),
        },
        queue: ws.queue,
        persist: PersistSettings {
            max_batch: ws.max_batch,
            lanes,
            retry_delays: vec![
                std::time::Duration::from_millis(100),
                std::time::Duration::from_millis(400),
            ],
        },
        allowed_origins: ws.allowed_origins.clone(),
        internal_token: settings.internal.token.clone(),
        caps: ConnCaps {
            per_user: ws.max_connections_per_user,
            per_address: ws.max_connections_per_address,
        },
        trusted_proxies: TrustedProxies::new(settings.http.trusted_proxies.clone()),
    }
}

/// Stops accepting, lets `ws` answer every write it took and close its sockets with 1012
/// (clients reconnect at once), then stops the server gracefully: in-flight requests (a
/// `ws` node's last saves, inside `all` too) finish.
pub(super) async fn stop(server: &actix_web::dev::ServerHandle, ws: Option<&WsState>) {
    // No new connections: clients told to reconnect must go to another node (or wait).
    server.pause().await;
    if let Some(ws) = ws {
        ws.shut_down().await;
    }
    server.stop(true).await;
}

/// On SIGTERM or SIGINT: [`stop`].
pub(super) fn stop_on_signal(server: actix_web::dev::ServerHandle, ws: Option<WsState>) {
    actix_web::rt::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!(
            "shutting down: answering pending writes, then closing WebSockets with 1012"
        );
        stop(&server, ws.as_ref()).await;
    });
}

pub(super) fn verifier_for(
    keys: &[ed25519_dalek::VerifyingKey],
    settings: &Settings,
) -> TokenVerifier {
    TokenVerifier::new(keys, &settings.jwt.issuer, settings.jwt.leeway_secs)
}

/// `front` and `ws` apart from `auth`: verify with the public key only.
pub(super) fn public_key_verifier(settings: &Settings) -> anyhow::Result<TokenVerifier> {
    let path = settings.jwt.public_key_file.as_ref().ok_or_else(|| {
        anyhow!(
            "configuration key `jwt.public_key_file` is not set: point it at the public half \
             of auth's key pair (DIR/{} from `chatapp keygen DIR`)",
            tokens::PUBLIC_KEY_FILE
        )
    })?;
    let key = tokens::load_public_key(path)?;
    tracing::info!(kid = %tokens::key_id(&key), "loaded the token-verification key");
    Ok(verifier_for(&[key], settings))
}

pub(super) fn accounts(
    pair: &KeyPair,
    db: Db,
    verifier: TokenVerifier,
    settings: &Settings,
) -> anyhow::Result<Arc<Accounts>> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hasher = PasswordHasher::new(settings.auth.bcrypt_cost, cores)?;
    let signer = TokenSigner::new(pair, &settings.jwt.issuer)?;
    let limits = LoginLimits::new(LimitSettings {
        free_login_failures: settings.auth.free_login_failures,
        requests_per_address_per_minute: settings.auth.requests_per_address_per_minute,
    });
    let lifetimes = TokenLifetimes {
        access_secs: settings.auth.access_token_ttl_secs,
        session_secs: settings.auth.session_ttl_secs,
    };
    Ok(Accounts::new(
        db,
        hasher,
        signer,
        verifier,
        limits,
        lifetimes,
        settings.auth.registration,
    ))
}

/// The token-signing key. `auth` must be given one; `all` makes one in the data directory
/// on first start.
pub(super) fn signing_key(role: Role, settings: &Settings) -> anyhow::Result<KeyPair> {
    let configured = settings.auth.signing_key_file.clone();
    let path: PathBuf = match (&configured, role) {
        (Some(path), _) => path.clone(),
        (None, Role::All) => settings.data_dir.join(tokens::PRIVATE_KEY_FILE),
        (None, _) => {
            return Err(anyhow!(
                "configuration key `auth.signing_key_file` is not set: create a key pair with \
                 `chatapp keygen DIR` and set CHATAPP__AUTH__SIGNING_KEY_FILE=DIR/{}",
                tokens::PRIVATE_KEY_FILE
            ));
        }
    };
    if configured.is_none() && !path.exists() {
        let pair = KeyPair::generate()?;
        let (private, _) = pair.write_to(&settings.data_dir, false)?;
        tracing::info!(path = %private.display(), kid = %pair.key_id(), "created a token-signing key");
        return Ok(pair);
    }
    let pair = tokens::load_signing_key(&path)?;
    tracing::info!(kid = %pair.key_id(), "loaded the token-signing key");
    Ok(pair)
}

#[cfg(test)]
mod tests {
    use super::ws_options;
    use crate::config::Settings;
    use crate::storage::Backend;

    #[test]
    fn sqlite_inside_the_process_gets_one_save_lane() {
        let mut settings = Settings::default();
        settings.ws.save_lanes = 6;
        assert_eq!(
            ws_options(&settings, Some(Backend::Sqlite)).persist.lanes,
            1
        );
        assert_eq!(
            ws_options(&settings, Some(Backend::Postgres)).persist.lanes,
            6
        );
        assert_eq!(ws_options(&settings, None).persist.lanes, 6);
    }
}
