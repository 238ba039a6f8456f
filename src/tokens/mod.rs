//! Token keys and EdDSA JWTs: signing (only `auth`) and verification (`front`, `ws`).

mod jwt;
mod keys;
pub mod opaque;

pub use jwt::{Claims, TokenError, TokenKind, TokenSigner, TokenVerifier};
pub use keys::{
    KeyError, KeyPair, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, key_id, load_public_key,
    load_signing_key, public_pem,
};
