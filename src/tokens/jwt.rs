//! EdDSA-signed JWTs. Only `auth` signs ([`TokenSigner`]); `front` and `ws` verify
//! ([`TokenVerifier`]) with the public key. Each kind of token has its own audience, and
//! verification pins the algorithm, the issuer and the audience.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::VerifyingKey;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::{KeyPair, key_id};

/// The kinds of token chatapp issues, each with its own audience so one can never stand
/// in for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Short-lived; `Authorization: Bearer` on the REST API and `?token=` on the WebSocket.
    Access,
    /// Longer-lived; only ever in the HttpOnly session cookie of the web UI.
    Session,
}

impl TokenKind {
    pub fn audience(self) -> &'static str {
        match self {
            TokenKind::Access => "chatapp:access",
            TokenKind::Session => "chatapp:session",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string.
    pub sub: String,
    pub username: String,
    pub iat: u64,
    pub exp: u64,
    pub aud: String,
    pub iss: String,
    /// The server-side session the token belongs to (`sessions.id`); tokens without one
    /// (from before sessions were kept) are honoured until they expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl Claims {
    /// The user id in `sub`; a token whose `sub` is not a number is refused.
    pub fn user_id(&self) -> Result<i64, TokenError> {
        self.sub.parse().map_err(|_| TokenError::Invalid)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
    #[error("the token could not be signed: {0}")]
    Signing(String),
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs tokens. Built from the private key: exists only where `auth` runs.
pub struct TokenSigner {
    key: EncodingKey,
    kid: String,
    issuer: String,
}

impl TokenSigner {
    pub fn new(pair: &KeyPair, issuer: &str) -> Result<Self, TokenError> {
        let pem = pair
            .private_pem()
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        let key = EncodingKey::from_ed_pem(pem.as_bytes())
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(Self {
            key,
            kid: pair.key_id(),
            issuer: issuer.to_owned(),
        })
    }

    /// Signs a token of `kind` for a user, valid for `ttl_secs`, outside any session.
    pub fn issue(
        &self,
        kind: TokenKind,
        user_id: i64,
        username: &str,
        ttl_secs: u64,
    ) -> Result<String, TokenError> {
        self.issue_in(kind, user_id, username, None, ttl_secs)
    }

    /// Signs a token of `kind` for a user in session `sid`, valid for `ttl_secs`.
    pub fn issue_in(
        &self,
        kind: TokenKind,
        user_id: i64,
        username: &str,
        sid: Option<&str>,
        ttl_secs: u64,
    ) -> Result<String, TokenError> {
        let iat = now_secs();
        let claims = Claims {
            sub: user_id.to_string(),
            username: username.to_owned(),
            iat,
            exp: iat + ttl_secs,
            aud: kind.audience().to_owned(),
            iss: self.issuer.clone(),
            sid: sid.map(str::to_owned),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }
}

/// Verifies tokens with one or more public keys, chosen by the `kid` header.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: HashMap<String, (DecodingKey, VerifyingKey)>,
    issuer: String,
    leeway_secs: u64,
}

impl TokenVerifier {
    /// `keys`: the current public key first, then any still accepted during a rotation.
    pub fn new(keys: &[VerifyingKey], issuer: &str, leeway_secs: u64) -> Self {
        let keys = keys
            .iter()
            .map(|k| (key_id(k), (DecodingKey::from_ed_der(k.as_bytes()), *k)))
            .collect();
        Self {
            keys,
            issuer: issuer.to_owned(),
            leeway_secs,
        }
    }

    /// Checks signature, algorithm (EdDSA only), issuer, audience and expiry.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let (key, _) = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[kind.audience()]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
        validation.leeway = self.leeway_secs;
        validation.validate_exp = true;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| match e
            .kind()
        {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        data.claims.user_id()?;
        Ok(data.claims)
    }

    /// The public keys as a JWK set, for `GET /auth/api/jwks.json`.
    pub fn jwks(&self) -> JwkSet {
        let mut keys: Vec<Jwk> = self
            .keys
            .iter()
            .map(|(kid, (_, vk))| {
                let mut jwk = Jwk {
                    common: Default::default(),
                    algorithm: jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(
                        jsonwebtoken::jwk::OctetKeyPairParameters {
                            key_type: jsonwebtoken::jwk::OctetKeyPairType::OctetKeyPair,
                            curve: jsonwebtoken::jwk::EllipticCurve::Ed25519,
                            x: base64_url(vk.as_bytes()),
                        },
                    ),
                };
                jwk.common.key_id = Some(kid.clone());
                jwk.common.key_algorithm = Some(KeyAlgorithm::EdDSA);
                jwk.common.public_key_use = Some(PublicKeyUse::Signature);
                jwk
            })
            .collect();
        keys.sort_by(|a, b| a.common.key_id.cmp(&b.common.key_id));
        JwkSet { keys }
    }
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (KeyPair, TokenSigner, TokenVerifier) {
        let pair = KeyPair::generate().expect("key");
        let signer = TokenSigner::new(&pair, "chatapp").expect("signer");
        let verifier = TokenVerifier::new(&[pair.verifying_key()], "chatapp", 0);
        (pair, signer, verifier)
    }

    #[test]
    fn round_trip_and_audiences() {
        let (_, signer, verifier) = setup();
        let token = signer
            .issue(TokenKind::Access, 42, "alice", 60)
            .expect("sign");
        let claims = verifier.verify(&token, TokenKind::Access).expect("verify");
        assert_eq!(
            (claims.user_id(), claims.username.as_str()),
            (Ok(42), "alice")
        );
        assert_eq!(claims.aud, "chatapp:access");
        assert_eq!(
            verifier.verify(&token, TokenKind::Session),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn foreign_keys_and_issuers_are_refused() {
        let (_, signer, _) = setup();
        let (_, _, other_verifier) = setup();
        let token = signer.issue(TokenKind::Access, 1, "bob", 60).expect("sign");
        assert_eq!(
            other_verifier.verify(&token, TokenKind::Access),
            Err(TokenError::Invalid)
        );

        let pair = KeyPair::generate().expect("key");
        let signer = TokenSigner::new(&pair, "someone-else").expect("signer");
        let verifier = TokenVerifier::new(&[pair.verifying_key()], "chatapp", 0);
        let token = signer.issue(TokenKind::Access, 1, "bob", 60).expect("sign");
        assert_eq!(
            verifier.verify(&token, TokenKind::Access),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn jwks_lists_the_key() {
        let (pair, _, verifier) = setup();
        let set = verifier.jwks();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(
            set.keys[0].common.key_id.as_deref(),
            Some(pair.key_id().as_str())
        );
        let decoded = DecodingKey::from_jwk(&set.keys[0]);
        assert!(decoded.is_ok());
    }
}
