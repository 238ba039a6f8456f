//! A push service on 127.0.0.1 that is also the browser behind it: the test peer of Web
//! Push. It accepts a push only as a real one would and as the browser's keys allow:
//!
//! - `Authorization: vapid t=<JWT>, k=<key>` (RFC 8292): `k` must be the key the test got
//!   from `GET /api/push/key` (403 otherwise), the JWT must be ES256, verify against `k`,
//!   name this service's origin as `aud`, expire within 24 hours and carry a `sub` (401);
//! - `Content-Encoding: aes128gcm` (415), a `TTL` (400), a valid `Urgency` if any (400);
//! - the body must decrypt (RFC 8291, RFC 8188) with the private key and authentication
//!   secret the test made for that device, as a browser makes them, and the plaintext must
//!   be JSON (400).
//!
//! Only then does it answer as told for that device (201, a status, or slowly) and record
//! the payload. Every request is counted and timed; every refusal is kept with its reason.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use serde_json::{Value, json};
use sha2::Sha256;

/// What the service answers for a device once a push passed every check.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// 201 Created.
    Accept,
    /// This status, with `Retry-After: <secs>` if given.
    Status(u16, Option<u64>),
    /// 201 after this long (past the sender's time-out, it has given up by then).
    Slow(Duration),
}

/// A browser's subscription keys, made as a browser makes them.
#[derive(Clone)]
pub struct Device {
    secret: SecretKey,
    auth: [u8; 16],
}

impl Device {
    pub fn new() -> Self {
        Self {
            secret: SecretKey::random(&mut rand::rngs::OsRng),
            auth: rand::random(),
        }
    }

    /// A device with these keys (a private scalar, a 16-byte secret), e.g. RFC 8291's.
    pub fn from_parts(private_key: &[u8], auth: &[u8]) -> Self {
        Self {
            secret: SecretKey::from_slice(private_key).expect("a P-256 private key"),
            auth: auth.try_into().expect("16 bytes"),
        }
    }

    /// `keys.p256dh`: the uncompressed public point, base64url.
    pub fn p256dh(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.secret.public_key().to_encoded_point(false).as_bytes())
    }

    /// `keys.auth`: the 16-byte secret, base64url.
    pub fn auth(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.auth)
    }

    /// Decrypts an `aes128gcm` body addressed to this device (RFC 8291 §3.4, RFC 8188 §2).
    pub fn decrypt(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        if body.len() < 21 {
            return Err("shorter than the aes128gcm header".into());
        }
        let salt = &body[..16];
        let rs = u32::from_be_bytes([body[16], body[17], body[18], body[19]]) as usize;
        let id_len = body[20] as usize;
        if rs < 18 {
            return Err(format!("record size {rs} is below 18"));
        }
        if id_len != 65 || body.len() < 21 + id_len {
            return Err(format!("key id of {id_len} bytes, not a P-256 public key"));
        }
        let as_public = PublicKey::from_sec1_bytes(&body[21..21 + id_len])
            .map_err(|_| "the key id is not a P-256 point".to_string())?;
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), as_public.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(self.secret.public_key().to_encoded_point(false).as_bytes());
        info.extend_from_slice(&body[21..21 + id_len]);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes())
            .expand(&info, &mut ikm)
            .map_err(|e| e.to_string())?;
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        let mut base_nonce = [0u8; 12];
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .map_err(|e| e.to_string())?;
        prk.expand(b"Content-Encoding: nonce\0", &mut base_nonce)
            .map_err(|e| e.to_string())?;
        let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|e| e.to_string())?;

        let records: Vec<&[u8]> = body[21 + id_len..].chunks(rs).collect();
        if records.is_empty() {
            return Err("no record".into());
        }
        let mut plaintext = Vec::new();
        for (seq, record) in records.iter().enumerate() {
            let mut nonce = base_nonce;
            for (i, b) in (seq as u64).to_be_bytes().iter().enumerate() {
                nonce[4 + i] ^= b;
            }
            let mut clear = cipher
                .decrypt(&Nonce::from(nonce), *record)
                .map_err(|_| format!("record {seq} does not decrypt"))?;
            // Padding: zeros after the delimiter, 2 for the last record, 1 before it.
            let end = clear
                .iter()
                .rposition(|&b| b != 0)
                .ok_or_else(|| format!("record {seq} has no delimiter"))?;
            let want = if seq + 1 == records.len() { 2 } else { 1 };
            if clear[end] != want {
                return Err(format!("record {seq} ends with delimiter {}", clear[end]));
            }
            clear.truncate(end);
            plaintext.extend_from_slice(&clear);
        }
        Ok(plaintext)
    }
}

/// A push the service accepted and the device decrypted.
#[derive(Debug, Clone)]
pub struct Received {
    pub device: String,
    pub payload: Value,
    pub ttl: u32,
    pub urgency: Option<String>,
    pub sub: String,
}

#[derive(Default)]
struct State {
    vapid_key: Option<String>,
    devices: HashMap<String, Device>,
    behaviour: HashMap<String, Behaviour>,
    /// When each request for a device came, refused or not.
    attempts: HashMap<String, Vec<Instant>>,
    /// Requests for a device being answered (a slow one sleeping).
    in_flight: HashMap<String, usize>,
    received: Vec<Received>,
    rejected: Vec<(String, u16, String)>,
}

pub struct PushReceiver {
    /// `http://127.0.0.1:<port>`: the `aud` every VAPID token must name.
    pub origin: String,
    state: Arc<Mutex<State>>,
}

impl PushReceiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the push service");
        let origin = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = web::Data::from(state.clone());
        let expected_origin = origin.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(web::Data::new(expected_origin.clone()))
                .route("/push/{device}", web::post().to(push))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        Self { origin, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("receiver state")
    }

    /// The VAPID public key every push must carry and be signed with.
    pub fn expect_vapid_key(&self, key: &str) {
        self.lock().vapid_key = Some(key.to_owned());
    }

    /// A new device (browser) known to the service as `name`.
    pub fn device(&self, name: &str) -> Device {
        let device = Device::new();
        self.lock().devices.insert(name.to_owned(), device.clone());
        device
    }

    /// Decrypts `name`'s pushes with `device`'s keys from now on (a test that subscribed
    /// with other keys gets refusals).
    pub fn set_device_keys(&self, name: &str, device: &Device) {
        self.lock().devices.insert(name.to_owned(), device.clone());
    }

    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/push/{name}", self.origin)
    }

    /// The `PushSubscription.toJSON()` a browser would post for this device.
    pub fn subscription(&self, name: &str, device: &Device) -> Value {
        json!({"endpoint": self.endpoint(name), "expirationTime": null,
            "keys": {"p256dh": device.p256dh(), "auth": device.auth()}})
    }

    pub fn behave(&self, name: &str, behaviour: Behaviour) {
        self.lock().behaviour.insert(name.to_owned(), behaviour);
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    pub fn received_by(&self, name: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.device == name)
            .collect()
    }

    pub fn attempts(&self, name: &str) -> Vec<Instant> {
        self.lock().attempts.get(name).cloned().unwrap_or_default()
    }

    pub fn in_flight(&self, name: &str) -> usize {
        self.lock().in_flight.get(name).copied().unwrap_or(0)
    }

    /// `(device, status, reason)` of every push refused by the checks.
    pub fn rejected(&self) -> Vec<(String, u16, String)> {
        self.lock().rejected.clone()
    }

    /// Waits (polling) until `done` holds, or panics after `timeout` naming `what`.
    pub async fn wait_until(&self, what: &str, timeout: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting until {what}; received {:?}, rejected {:?}",
                self.received(),
                self.rejected()
            );
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// `POST /push/{device}`: checks, decrypts, then answers as told.
async fn push(
    req: HttpRequest,
    device: web::Path<String>,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
    origin: web::Data<String>,
) -> HttpResponse {
    let device = device.into_inner();
    let (vapid_key, keys, behaviour) = {
        let mut state = state.lock().expect("state");
        state
            .attempts
            .entry(device.clone())
            .or_default()
            .push(Instant::now());
        (
            state.vapid_key.clone(),
            state.devices.get(&device).cloned(),
            state
                .behaviour
                .get(&device)
                .copied()
                .unwrap_or(Behaviour::Accept),
        )
    };
    let checked = check(&req, &body, vapid_key.as_deref(), keys.as_ref(), &origin);
    let received = match checked {
        Ok((payload, ttl, urgency, sub)) => Received {
            device: device.clone(),
            payload,
            ttl,
            urgency,
            sub,
        },
        Err((status, reason)) => {
            state
                .lock()
                .expect("state")
                .rejected
                .push((device, status, reason.clone()));
            return HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).expect("status"),
            )
            .body(reason);
        }
    };
    match behaviour {
        Behaviour::Accept => {
            state.lock().expect("state").received.push(received);
            HttpResponse::Created().finish()
        }
        Behaviour::Status(status, retry_after) => {
            let mut response =
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"));
            if let Some(secs) = retry_after {
                response.insert_header(("Retry-After", secs.to_string()));
            }
            response.finish()
        }
        Behaviour::Slow(delay) => {
            *state
                .lock()
                .expect("state")
                .in_flight
                .entry(device.clone())
                .or_default() += 1;
            actix_web::rt::time::sleep(delay).await;
            let mut state = state.lock().expect("state");
            *state.in_flight.entry(device).or_default() -= 1;
            state.received.push(received);
            HttpResponse::Created().finish()
        }
    }
}

type Checked = (Value, u32, Option<String>, String);

fn check(
    req: &HttpRequest,
    body: &[u8],
    vapid_key: Option<&str>,
    device: Option<&Device>,
    origin: &str,
) -> Result<Checked, (u16, String)> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let device = device.ok_or((404, "no such subscription".to_string()))?;
    let sub = check_vapid(header("authorization").as_deref(), vapid_key, origin)?;
    if header("content-encoding").as_deref() != Some("aes128gcm") {
        return Err((415, "Content-Encoding must be aes128gcm".into()));
    }
    let ttl: u32 = header("ttl")
        .and_then(|t| t.parse().ok())
        .ok_or((400, "a TTL header is required".to_string()))?;
    let urgency = header("urgency");
    if let Some(u) = &urgency
        && !["very-low", "low", "normal", "high"].contains(&u.as_str())
    {
        return Err((400, format!("bad Urgency {u:?}")));
    }
    let plaintext = device.decrypt(body).map_err(|e| (400, e))?;
    let payload = serde_json::from_slice(&plaintext)
        .map_err(|e| (400, format!("the plaintext is not JSON: {e}")))?;
    Ok((payload, ttl, urgency, sub))
}

/// RFC 8292 §2, §3: returns the token's `sub`.
fn check_vapid(
    authorization: Option<&str>,
    expected_key: Option<&str>,
    origin: &str,
) -> Result<String, (u16, String)> {
    let unauthorized = |m: &str| (401, m.to_string());
    let params = authorization
        .and_then(|a| a.strip_prefix("vapid "))
        .ok_or_else(|| unauthorized("Authorization must use the vapid scheme"))?;
    let mut token = None;
    let mut key = None;
    for param in params.split(',') {
        match param.trim().split_once('=') {
            Some(("t", v)) => token = Some(v.trim()),
            Some(("k", v)) => key = Some(v.trim()),
            _ => {}
        }
    }
    let (token, key) = token
        .zip(key)
        .ok_or_else(|| unauthorized("vapid needs t= and k="))?;
    let expected = expected_key.ok_or((403, "no VAPID key is expected yet".to_string()))?;
    if key != expected {
        return Err((
            403,
            "k is not the key the subscription was made with".into(),
        ));
    }
    let point = URL_SAFE_NO_PAD
        .decode(key)
        .map_err(|_| unauthorized("k is not base64url"))?;
    if point.len() != 65 || point[0] != 4 {
        return Err(unauthorized("k is not an uncompressed P-256 point"));
    }
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| unauthorized(&format!("JWT: {e}")))?;
    if header.alg != jsonwebtoken::Algorithm::ES256 {
        return Err(unauthorized("the JWT must be ES256"));
    }
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        &URL_SAFE_NO_PAD.encode(&point[1..33]),
        &URL_SAFE_NO_PAD.encode(&point[33..65]),
    )
    .map_err(|e| unauthorized(&format!("k: {e}")))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[origin]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .map_err(|e| unauthorized(&format!("JWT: {e}")))?
        .claims;
    let now = chrono::Utc::now().timestamp();
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp > now + 24 * 3600 {
        return Err(unauthorized("exp is more than 24 hours away"));
    }
    let sub = claims["sub"]
        .as_str()
        .filter(|s| s.starts_with("mailto:") || s.starts_with("https:"))
        .ok_or_else(|| unauthorized("sub must be a mailto: or https: contact"))?;
    Ok(sub.to_owned())
}
