//! The server's VAPID identity (RFC 8292): a P-256 key pair, kept in the database so
//! every `front` process on it signs with the same key, and the `Authorization` header
//! each push carries.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::json;

use crate::storage::push::StoredKey;

/// How long a VAPID token is good for: RFC 8292 allows at most 24 hours.
const TOKEN_LIFETIME_SECS: u64 = 12 * 3600;

pub struct VapidKey {
    signing: SigningKey,
    /// The uncompressed public point, base64url: the page's `applicationServerKey` and
    /// the `k` of every `Authorization` header.
    public: String,
}

impl VapidKey {
    /// A new key pair, in the form it is stored.
    pub fn generate() -> StoredKey {
        let signing = SigningKey::random(&mut rand::rngs::OsRng);
        StoredKey {
            private_key: URL_SAFE_NO_PAD.encode(signing.to_bytes()),
            public_key: public_of(&signing),
        }
    }

    /// The stored pair, checked: its public half must be the private half's.
    pub fn from_stored(stored: &StoredKey) -> anyhow::Result<Self> {
        let bytes = URL_SAFE_NO_PAD
            .decode(&stored.private_key)
            .map_err(|e| anyhow::anyhow!("the stored VAPID key is not base64url: {e}"))?;
        let signing = SigningKey::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("the stored VAPID key is not a P-256 key: {e}"))?;
        let public = public_of(&signing);
        if public != stored.public_key {
            anyhow::bail!("the stored VAPID public key does not match its private key");
        }
        Ok(Self { signing, public })
    }

    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// `Authorization: vapid t=<JWT>, k=<public key>` for a push to `endpoint`: an ES256
    /// token whose `aud` is the endpoint's origin, expiring 12 hours after `now` (Unix
    /// seconds), with `sub` when one is configured.
    pub fn authorization(&self, endpoint: &url::Url, subject: Option<&str>, now: u64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let mut claims = json!({
            "aud": endpoint.origin().ascii_serialization(),
            "exp": now + TOKEN_LIFETIME_SECS,
        });
        if let Some(sub) = subject {
            claims["sub"] = json!(sub);
        }
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{claims}");
        // JWS ES256: the signature is r || s, 32 bytes each (RFC 7518 §3.4).
        let signature: Signature = self.signing.sign(input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        format!("vapid t={input}.{signature}, k={}", self.public)
    }
}

fn public_of(signing: &SigningKey) -> String {
    URL_SAFE_NO_PAD.encode(
        signing
            .verifying_key()
            .as_affine()
            .to_encoded_point(false)
            .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    use super::*;

    #[test]
    fn stored_keys_round_trip_and_are_checked() {
        let stored = VapidKey::generate();
        let key = VapidKey::from_stored(&stored).expect("load");
        assert_eq!(key.public_key(), stored.public_key);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(key.public_key()).expect("b64").len(),
            65
        );
        let other = VapidKey::generate();
        let mixed = StoredKey {
            private_key: stored.private_key.clone(),
            public_key: other.public_key,
        };
        assert!(VapidKey::from_stored(&mixed).is_err());
        let garbage = StoredKey {
            private_key: "not base64!".into(),
            public_key: stored.public_key,
        };
        assert!(VapidKey::from_stored(&garbage).is_err());
    }

    #[test]
    fn the_token_names_the_origin_and_verifies_with_the_public_key() {
        let key = VapidKey::from_stored(&VapidKey::generate()).expect("key");
        let endpoint = url::Url::parse("https://push.example.net:8443/send/abc?x=1").expect("url");
        let header = key.authorization(&endpoint, Some("mailto:ops@example.com"), 1_000);
        let rest = header.strip_prefix("vapid t=").expect("scheme");
        let (token, k) = rest.split_once(", k=").expect("k");
        assert_eq!(k, key.public_key());
        let (input, signature) = token.rsplit_once('.').expect("signature");
        let (_, claims) = input.split_once('.').expect("claims");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("b64")).expect("json");
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["exp"], 1_000 + 12 * 3600);
        assert_eq!(claims["sub"], "mailto:ops@example.com");

        let public = URL_SAFE_NO_PAD.decode(k).expect("b64");
        let verifying = VerifyingKey::from_sec1_bytes(&public).expect("point");
        let signature =
            Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).expect("b64")).expect("sig");
        assert!(verifying.verify(input.as_bytes(), &signature).is_ok());
        assert!(verifying.verify(b"something else", &signature).is_err());

        let without = key.authorization(&endpoint, None, 1_000);
        let claims = without
            .strip_prefix("vapid t=")
            .and_then(|t| t.split('.').nth(1))
            .expect("claims");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("b64")).expect("json");
        assert!(claims.get("sub").is_none(), "no sub claim when none is set");
    }
}
