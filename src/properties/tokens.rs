//! The token verifier ([`TokenVerifier::verify`]) against arbitrary strings and against
//! tokens signed by a fixed test key, then mutated: bits flipped, bytes cut or inserted,
//! segments swapped between tokens, claims rewritten (expired, another audience or
//! issuer, a `sub` that is not a number), headers rewritten (`alg` none, HS256, another
//! `kid`), and tokens forged outright (signed by another Ed25519 key under the test key's
//! `kid`, or with HS256 keyed by the public key).
//!
//! Properties:
//! - `verify` never panics, and never fails with a signing error;
//! - it accepts nothing that the test key did not sign: an accepted token's signature
//!   checks (strictly, with ed25519-dalek rather than jsonwebtoken) over its exact signed
//!   part (`header.payload`), and its claims are the payload's, of the audience asked for
//!   and the expected issuer, with a numeric `sub`.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::Source;
use crate::tokens::{Claims, KeyPair, TokenError, TokenKind, TokenSigner, TokenVerifier};

const ISSUER: &str = "chatapp";
/// Far enough ahead for any run.
const TTL: u64 = 100 * 365 * 24 * 3600;

struct Fixture {
    verifier: TokenVerifier,
    key: VerifyingKey,
    kid: String,
    /// Tokens the test key signed.
    signed: Vec<String>,
    /// Their signed parts (`header.payload`) and claims.
    claims: HashMap<String, Claims>,
    /// Another Ed25519 key, to forge with.
    foreign: EncodingKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let pair = KeyPair::from_seed([7; 32]);
        let signer = TokenSigner::new(&pair, ISSUER).expect("signer");
        let mut signed = Vec::new();
        for kind in [TokenKind::Access, TokenKind::Session] {
            for sid in [None, Some("c2lk")] {
                signed.push(signer.issue_in(kind, 42, "alice", sid, TTL).expect("sign"));
            }
        }
        signed.push(
            signer
                .issue(TokenKind::Access, 7, "bob", TTL)
                .expect("sign"),
        );
        let claims = signed
            .iter()
            .map(|t| (signed_part(t).to_owned(), payload_claims(t)))
            .collect();
        let foreign = KeyPair::from_seed([9; 32]);
        let foreign = EncodingKey::from_ed_pem(foreign.private_pem().expect("pem").as_bytes())
            .expect("foreign key");
        Fixture {
            verifier: TokenVerifier::new(&[pair.verifying_key()], ISSUER, 0),
            key: pair.verifying_key(),
            kid: pair.key_id(),
            signed,
            claims,
            foreign,
        }
    })
}

fn signed_part(token: &str) -> &str {
    token.rsplit_once('.').map_or(token, |(part, _)| part)
}

fn payload_claims(token: &str) -> Claims {
    let payload = token.split('.').nth(1).expect("payload");
    let json = URL_SAFE_NO_PAD.decode(payload).expect("base64");
    serde_json::from_slice(&json).expect("claims")
}

pub fn check(data: &[u8]) {
    let fx = fixture();
    let mut src = Source::new(data);
    let token = match src.u8() % 4 {
        0 => String::from_utf8_lossy(src.rest()).into_owned(),
        1 => forged(fx, &mut src),
        _ => {
            let mut token = src.pick(&fx.signed);
            for _ in 0..1 + src.below(3) {
                token = mutated(fx, &mut src, token);
            }
            token
        }
    };
    for kind in [TokenKind::Access, TokenKind::Session] {
        verdict(fx, &token, kind);
    }
}

fn verdict(fx: &Fixture, token: &str, kind: TokenKind) {
    let claims = match fx.verifier.verify(token, kind) {
        Ok(claims) => claims,
        Err(TokenError::Signing(e)) => panic!("verify failed with a signing error: {e}"),
        Err(_) => return,
    };
    let part = signed_part(token);
    let signature = token
        .rsplit_once('.')
        .and_then(|(_, sig)| URL_SAFE_NO_PAD.decode(sig).ok())
        .and_then(|sig| Signature::from_slice(&sig).ok())
        .unwrap_or_else(|| panic!("accepted a token without a signature: {token:?}"));
    assert!(
        fx.key.verify_strict(part.as_bytes(), &signature).is_ok(),
        "accepted a token the key did not sign: {token:?}"
    );
    // The key signs nothing but the fixture's tokens (and the seed corpus's, made with
    // the same key by fuzz/make_seeds.py).
    if let Some(signed) = fx.claims.get(part) {
        assert_eq!(
            &claims, signed,
            "accepted claims that are not the signed ones"
        );
    }
    assert_eq!(
        claims,
        payload_claims(token),
        "accepted claims that are not the payload's"
    );
    assert_eq!(
        claims.aud,
        kind.audience(),
        "accepted a token of another audience"
    );
    assert_eq!(claims.iss, ISSUER);
    assert!(claims.user_id().is_ok());
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// Claims as an attacker would like them.
fn claims(src: &mut Source<'_>) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut claims = json!({"sub": "42", "username": "alice", "iat": now, "exp": now + TTL,
        "aud": "chatapp:access", "iss": ISSUER});
    match src.u8() % 9 {
        0 => claims["exp"] = json!(now.saturating_sub(3600)),
        1 => claims["aud"] = json!(src.pick(&["chatapp:session", "chatapp", "", "CHATAPP:ACCESS"])),
        2 => claims["aud"] = json!(["chatapp:access", "chatapp:session"]),
        3 => claims["iss"] = json!(src.pick(&["someone-else", "", "chatapp "])),
        4 => claims["sub"] = json!(src.pick(&["x", "", "42 ", "-1", "1e3"])),
        5 => claims["sub"] = json!(42),
        6 => {
            if let Some(map) = claims.as_object_mut() {
                map.remove(src.pick(&["exp", "iat", "aud", "iss", "sub", "username"]));
            }
        }
        7 => claims["exp"] = json!(src.pick(&["9999999999", "-1"])),
        _ => claims["username"] = json!("root"),
    }
    claims
}

fn header(fx: &Fixture, src: &mut Source<'_>) -> Value {
    let alg = src.pick(&[
        "EdDSA", "none", "None", "HS256", "ES256", "RS256", "eddsa", "",
    ]);
    let mut header = json!({"alg": alg, "typ": "JWT"});
    match src.u8() % 5 {
        0 => {}
        1 => header["kid"] = json!(src.pick(&["", "00", "ffffffffffffffff"])),
        2 => header["kid"] = json!(format!("{} ", fx.kid)),
        _ => header["kid"] = json!(fx.kid),
    }
    if src.u8().is_multiple_of(4) {
        header["crit"] = json!(["exp"]);
    }
    header
}

/// A token made without the test key.
fn forged(fx: &Fixture, src: &mut Source<'_>) -> String {
    let claims = claims(src);
    match src.u8() % 4 {
        // Another Ed25519 key, under the test key's kid.
        0 => {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(fx.kid.clone());
            jsonwebtoken::encode(&header, &claims, &fx.foreign).unwrap_or_default()
        }
        // HS256 keyed by the public key (the classic confusion).
        1 => {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(fx.kid.clone());
            let key = EncodingKey::from_secret(fx.key.as_bytes());
            jsonwebtoken::encode(&header, &claims, &key).unwrap_or_default()
        }
        // Any header, with a signature of a signed token or none.
        _ => {
            let sig = match src.u8() % 3 {
                0 => String::new(),
                1 => src
                    .pick(&fx.signed)
                    .rsplit_once('.')
                    .map(|(_, s)| s.to_owned())
                    .unwrap_or_default(),
                _ => URL_SAFE_NO_PAD.encode(src.bytes(64)),
            };
            format!("{}.{}.{sig}", b64(&header(fx, src)), b64(&claims))
        }
    }
}

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// One mutation of a token.
fn mutated(fx: &Fixture, src: &mut Source<'_>, token: String) -> String {
    let mut bytes = token.into_bytes();
    let at = src.below(bytes.len() + 1);
    match src.u8() % 10 {
        0 if at < bytes.len() => bytes[at] ^= 1 << (src.u8() % 8),
        1 if at < bytes.len() => bytes[at] = src.pick(B64URL),
        2 => {
            let end = (at + 1 + src.below(8)).min(bytes.len());
            bytes.drain(at..end);
        }
        3 => {
            let n = src.below(8);
            bytes.splice(at..at, src.bytes(n).iter().copied());
        }
        4 => {
            // Segments of two signed tokens mixed.
            let token = String::from_utf8_lossy(&bytes).into_owned();
            let other = src.pick(&fx.signed);
            let mine: Vec<&str> = token.split('.').collect();
            let theirs: Vec<&str> = other.split('.').collect();
            let i = src.below(3);
            let mixed: Vec<&str> = (0..3)
                .map(|j| {
                    if j == i {
                        theirs.get(j).copied().unwrap_or("")
                    } else {
                        mine.get(j).copied().unwrap_or("")
                    }
                })
                .collect();
            return mixed.join(".");
        }
        5 | 6 => {
            // Claims or header rewritten, the signature kept.
            let token = String::from_utf8_lossy(&bytes).into_owned();
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            parts.resize(3, String::new());
            if src.bool() {
                parts[1] = b64(&claims(src));
            } else {
                parts[0] = b64(&header(fx, src));
            }
            return parts.join(".");
        }
        7 => {
            // Padding, or a non-canonical last character.
            let token = String::from_utf8_lossy(&bytes).into_owned();
            return match src.u8() % 3 {
                0 => format!("{token}="),
                1 => token.replace('.', "=."),
                _ => {
                    let mut t = token;
                    if let Some(last) = t.pop() {
                        let i = B64URL
                            .iter()
                            .position(|&c| char::from(c) == last)
                            .unwrap_or(0);
                        t.push(char::from(B64URL[i ^ 1]));
                    }
                    t
                }
            };
        }
        8 => {
            let token = String::from_utf8_lossy(&bytes).into_owned();
            return src
                .pick(&[" {}", "{} ", "Bearer {}", "{}.", "{}\n", ".{}"])
                .replace("{}", &token);
        }
        _ => bytes.truncate(at),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_verifier_holds_its_properties() {
        super::super::runner::check("token_verifier", 400, check);
    }

    #[test]
    fn the_fixtures_tokens_are_accepted() {
        let fx = fixture();
        for token in &fx.signed {
            let claims = payload_claims(token);
            let kind = if claims.aud == TokenKind::Access.audience() {
                TokenKind::Access
            } else {
                TokenKind::Session
            };
            assert_eq!(fx.verifier.verify(token, kind).as_ref(), Ok(&claims));
        }
    }
}
