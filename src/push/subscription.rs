//! A browser's `PushSubscription`, parsed once: an endpoint the server may POST to and the
//! keys to encrypt for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::PushSettings;
use crate::domain::ValidationError;

/// The longest endpoint accepted (the push services' are a few hundred characters).
const MAX_ENDPOINT_BYTES: usize = 2048;

/// A subscription that passed every check, keys in canonical base64url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// Which endpoints the server will POST to.
#[derive(Debug, Clone)]
pub struct EndpointRules {
    allowed_hosts: Vec<String>,
    allow_http: bool,
}

impl EndpointRules {
    pub fn new(settings: &PushSettings) -> Self {
        Self {
            allowed_hosts: settings
                .allowed_hosts
                .iter()
                .map(|h| h.trim_matches('.').to_ascii_lowercase())
                .collect(),
            allow_http: settings.allow_http,
        }
    }

    /// The endpoint, if the server may push to it: `https://` (or `http://` when
    /// `push.allow_http`), no credentials in it, and a host from `push.allowed_hosts` (or
    /// a subdomain of one). The allow-list is what keeps a user from making the server
    /// POST to addresses of its own network.
    pub fn endpoint(&self, raw: &str) -> Result<url::Url, ValidationError> {
        let bad = |m: &str| ValidationError::new("endpoint", m);
        if raw.len() > MAX_ENDPOINT_BYTES {
            return Err(bad("must be at most 2048 bytes"));
        }
        let url = url::Url::parse(raw).map_err(|_| bad("must be a URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            _ => return Err(bad("must be an https:// URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry credentials"));
        }
        if url.fragment().is_some() {
            return Err(bad("must not have a fragment"));
        }
        let host = url.host_str().ok_or_else(|| bad("must name a host"))?;
        let allowed = self.allowed_hosts.is_empty()
            || self.allowed_hosts.iter().any(|h| {
                host == h
                    || host
                        .strip_suffix(h.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            });
        if !allowed {
            return Err(bad("is not the address of a known push service"));
        }
        Ok(url)
    }

    /// Checks a subscription's three parts (`keys.p256dh`, `keys.auth` as the browser's
    /// `PushSubscription.toJSON()` gives them: base64url, padding tolerated).
    pub fn subscription(
        &self,
        endpoint: Option<&str>,
        p256dh: Option<&str>,
        auth: Option<&str>,
    ) -> Result<NewSubscription, ValidationError> {
        let endpoint = endpoint.ok_or_else(|| ValidationError::new("endpoint", "is required"))?;
        let endpoint = self.endpoint(endpoint)?;
        let p256dh = p256dh.ok_or_else(|| ValidationError::new("keys.p256dh", "is required"))?;
        let auth = auth.ok_or_else(|| ValidationError::new("keys.auth", "is required"))?;
        let p256dh = public_key(p256dh)
            .map_err(|m| ValidationError::new("keys.p256dh", m))?
            .1;
        let auth = auth_secret(auth)
            .map_err(|m| ValidationError::new("keys.auth", m))?
            .1;
        Ok(NewSubscription {
            endpoint: endpoint.into(),
            p256dh,
            auth,
        })
    }
}

fn decode(raw: &str) -> Result<Vec<u8>, &'static str> {
    URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|_| "must be base64url")
}

/// A browser's public key: an uncompressed P-256 point (65 bytes), on the curve. Returns
/// the key and its canonical text.
pub fn public_key(raw: &str) -> Result<(p256::PublicKey, String), &'static str> {
    let bytes = decode(raw)?;
    if bytes.len() != 65 || bytes[0] != 4 {
        return Err("must be an uncompressed P-256 public key (65 bytes)");
    }
    let key = p256::PublicKey::from_sec1_bytes(&bytes).map_err(|_| "is not a P-256 point")?;
    Ok((key, URL_SAFE_NO_PAD.encode(&bytes)))
}

/// A subscription's authentication secret: 16 bytes. Returns it and its canonical text.
pub fn auth_secret(raw: &str) -> Result<([u8; 16], String), &'static str> {
    let bytes = decode(raw)?;
    let secret: [u8; 16] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| "must be 16 bytes")?;
    Ok((secret, URL_SAFE_NO_PAD.encode(secret)))
}

#[cfg(test)]
mod tests {
    use p256::elliptic_curve::sec1::ToEncodedPoint;

    use super::*;

    const P256DH: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    fn rules(hosts: &[&str], allow_http: bool) -> EndpointRules {
        let settings = PushSettings {
            allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            allow_http,
            ..PushSettings::default()
        };
        EndpointRules::new(&settings)
    }

    fn field(r: Result<NewSubscription, ValidationError>) -> &'static str {
        r.err().map_or("ok", |e| e.field)
    }

    #[test]
    fn endpoints_of_the_known_push_services_only() {
        let r = EndpointRules::new(&PushSettings::default());
        for ok in [
            "https://fcm.googleapis.com/fcm/send/abc:def",
            "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
            "https://web.push.apple.com/QGuQ",
            "https://wns2-par02p.notify.windows.com/w/?token=AwY",
        ] {
            assert!(r.endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://fcm.googleapis.com/fcm/send/abc",
            "https://evilfcm.googleapis.com.example.org/x",
            "https://notfcm.googleapis.com.evil/x",
            "https://xfcm.googleapis.com/x",
            "https://10.0.0.1/x",
            "https://user:pw@fcm.googleapis.com/x",
            "https://fcm.googleapis.com/x#frag",
            "ftp://fcm.googleapis.com/x",
            "not a url",
        ] {
            assert!(r.endpoint(bad).is_err(), "{bad}");
        }
        let long = format!("https://fcm.googleapis.com/{}", "a".repeat(2048));
        assert!(r.endpoint(&long).is_err());
    }

    #[test]
    fn http_only_when_allowed_and_any_host_when_the_list_is_empty() {
        assert!(
            rules(&["127.0.0.1"], true)
                .endpoint("http://127.0.0.1:9/x")
                .is_ok()
        );
        assert!(
            rules(&["127.0.0.1"], false)
                .endpoint("http://127.0.0.1:9/x")
                .is_err()
        );
        assert!(
            rules(&[], false)
                .endpoint("https://push.example.org/x")
                .is_ok()
        );
    }

    #[test]
    fn keys_are_checked_and_made_canonical() {
        let r = rules(&[], false);
        let ep = Some("https://push.example.org/x");
        let ok = r
            .subscription(ep, Some(&format!("{P256DH}=")), Some(&format!("{AUTH}==")))
            .expect("valid");
        assert_eq!((ok.p256dh.as_str(), ok.auth.as_str()), (P256DH, AUTH));
        assert_eq!(
            field(r.subscription(None, Some(P256DH), Some(AUTH))),
            "endpoint"
        );
        assert_eq!(field(r.subscription(ep, None, Some(AUTH))), "keys.p256dh");
        assert_eq!(field(r.subscription(ep, Some(P256DH), None)), "keys.auth");
        assert_eq!(
            field(r.subscription(ep, Some("!!"), Some(AUTH))),
            "keys.p256dh"
        );
        // Compressed (33 bytes), or 65 bytes that are not a point on the curve.
        let point = p256::PublicKey::from_sec1_bytes(&decode(P256DH).expect("b64")).expect("pt");
        let compressed = URL_SAFE_NO_PAD.encode(point.to_encoded_point(true).as_bytes());
        assert_eq!(
            field(r.subscription(ep, Some(&compressed), Some(AUTH))),
            "keys.p256dh"
        );
        let mut off_curve = decode(P256DH).expect("b64");
        off_curve[64] ^= 1;
        let off_curve = URL_SAFE_NO_PAD.encode(off_curve);
        assert_eq!(
            field(r.subscription(ep, Some(&off_curve), Some(AUTH))),
            "keys.p256dh"
        );
        assert_eq!(
            field(r.subscription(ep, Some(P256DH), Some("BTBZMqHH6r4Tts7J"))),
            "keys.auth"
        );
    }
}
