//! Ed25519 key pairs in PEM files: made by `chatapp keygen`, read by `auth` (private) and
//! by `front` and `ws` (public).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

pub const PRIVATE_KEY_FILE: &str = "jwt_ed25519.pem";
pub const PUBLIC_KEY_FILE: &str = "jwt_ed25519.pub.pem";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an Ed25519 {kind} key in PEM form")]
    Format { path: PathBuf, kind: &'static str },
    #[error("{0} exists already; refusing to overwrite a key (use --force to replace it)")]
    Exists(PathBuf),
    #[error("the system random source failed: {0}")]
    Random(String),
}

/// An Ed25519 key pair. The private half never leaves this type except as a PEM file.
pub struct KeyPair {
    signing: SigningKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair(kid={})", self.key_id())
    }
}

impl KeyPair {
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// A pair made from a fixed seed, for tests and fuzz targets that need the same key on
    /// every run. Not compiled into the server.
    #[cfg(any(test, fuzzing))]
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The key id put in token headers: derived from the public key, so it needs no storage.
    pub fn key_id(&self) -> String {
        key_id(&self.verifying_key())
    }

    pub fn private_pem(&self) -> Result<String, KeyError> {
        self.signing
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|_| KeyError::Format {
                path: PathBuf::new(),
                kind: "private",
            })
    }

    pub fn public_pem(&self) -> Result<String, KeyError> {
        public_pem(&self.verifying_key())
    }

    /// Writes `jwt_ed25519.pem` (mode 0600) and `jwt_ed25519.pub.pem` into `dir`.
    pub fn write_to(&self, dir: &Path, overwrite: bool) -> Result<(PathBuf, PathBuf), KeyError> {
        fs::create_dir_all(dir).map_err(|source| KeyError::Write {
            path: dir.to_owned(),
            source,
        })?;
        let private = dir.join(PRIVATE_KEY_FILE);
        let public = dir.join(PUBLIC_KEY_FILE);
        if !overwrite {
            for path in [&private, &public] {
                if path.exists() {
                    return Err(KeyError::Exists(path.clone()));
                }
            }
        }
        write_file(&private, self.private_pem()?.as_bytes(), 0o600)?;
        write_file(&public, self.public_pem()?.as_bytes(), 0o644)?;
        Ok((private, public))
    }
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

pub fn public_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|_| KeyError::Format {
            path: PathBuf::new(),
            kind: "public",
        })
}

fn read(path: &Path) -> Result<String, KeyError> {
    fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads a PKCS#8 PEM private key.
pub fn load_signing_key(path: &Path) -> Result<KeyPair, KeyError> {
    let signing = SigningKey::from_pkcs8_pem(&read(path)?).map_err(|_| KeyError::Format {
        path: path.to_owned(),
        kind: "private",
    })?;
    Ok(KeyPair { signing })
}

/// Reads a SubjectPublicKeyInfo PEM public key.
pub fn load_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_public_key_pem(&read(path)?).map_err(|_| KeyError::Format {
        path: path.to_owned(),
        kind: "public",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_round_trips_through_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pair = KeyPair::generate().expect("generate");
        let (private, public) = pair.write_to(dir.path(), false).expect("write");
        let loaded = load_signing_key(&private).expect("load private");
        assert_eq!(loaded.key_id(), pair.key_id());
        assert_eq!(
            load_public_key(&public).expect("load public"),
            pair.verifying_key()
        );
        assert!(matches!(
            pair.write_to(dir.path(), false),
            Err(KeyError::Exists(_))
        ));
        assert!(load_signing_key(&public).is_err());
        assert!(format!("{pair:?}").starts_with("KeyPair(kid="));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&private).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
