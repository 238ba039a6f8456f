//! Opaque secrets: session ids, reset-link tokens, recovery codes. Random from the
//! operating system; where a secret must be recognised later, only its SHA-256 is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::TokenError;

/// `bytes` random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> Result<String, TokenError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| TokenError::Signing(format!("no randomness for a secret: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// The SHA-256 of a secret, in hex: what the database keeps of it.
pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token(32).expect("token");
        let b = random_token(32).expect("token");
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(digest("abc").len(), 64);
        assert_eq!(digest("abc"), digest("abc"));
    }
}
