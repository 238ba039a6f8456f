//! Token keys (and, with the auth role, JWT signing and verification).

mod keys;

pub use keys::{
    KeyError, KeyPair, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, load_public_key, load_signing_key,
};
