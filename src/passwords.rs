//! bcrypt password hashes (shared by `auth` and the `seed` command). CPU-heavy: call from
//! blocking threads only.

/// Hashes a password at the given cost.
pub fn hash(password: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    bcrypt::hash(password, cost)
}

/// Checks a password against a stored hash; a malformed hash counts as a mismatch.
pub fn verify(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
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
}
