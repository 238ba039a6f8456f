//! bcrypt password hashes (shared by `auth` and the `seed` command). CPU-heavy: call from
//! blocking threads only.

//!
//! bcrypt reads at most 72 bytes of a password. Nothing longer reaches it: hashing refuses
//! one, and checking one is a mismatch, so two passwords that share their first 72 bytes are
//! never the same password.

use crate::domain::Password;

/// Hashes a password at the given cost; one over 72 bytes is refused, never cut.
pub fn hash(password: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    if password.len() > Password::MAX_BYTES {
        return Err(bcrypt::BcryptError::Truncation(password.len()));
    }
    bcrypt::hash(password, cost)
}

/// Checks a password against a stored hash; a malformed hash, or a password over 72 bytes
/// (which no stored hash can stand for), counts as a mismatch.
pub fn verify(password: &str, hash: &str) -> bool {
    password.len() <= Password::MAX_BYTES && bcrypt::verify(password, hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_then_verify() {
        let h = super::hash("correct horse", 4).expect("hash");
        assert!(h.starts_with("$2b$04$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong horse", &h));
        assert!(!super::verify("correct horse", "not a hash"));
    }

    #[test]
    fn nothing_over_72_bytes_is_cut() {
        let long = "x".repeat(72);
        let h = super::hash(&long, 4).expect("72 bytes hash");
        assert!(super::verify(&long, &h));
        // bcrypt itself would call these the same password.
        assert!(!super::verify(&format!("{long}y"), &h));
        assert!(super::hash(&format!("{long}y"), 4).is_err());
    }
}
