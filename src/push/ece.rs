//! Message encryption for Web Push (RFC 8291): ECDH on P-256 with the browser's key, HKDF
//! mixed with its authentication secret, then one `aes128gcm` record (RFC 8188).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The record size written in the header: the whole body is one record of at most this.
const RECORD_SIZE: u32 = 4096;
/// salt (16) + record size (4) + key id length (1) + key id (65, our public key).
const HEADER_LEN: usize = 86;
/// The AES-GCM tag and the last-record delimiter.
const RECORD_OVERHEAD: usize = 17;
/// The largest plaintext that keeps the body within the 4096 bytes every push service
/// must accept (RFC 8030 §7.2): 3993 bytes.
pub const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - HEADER_LEN - RECORD_OVERHEAD;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EceError {
    #[error("the payload is {0} bytes, over the {MAX_PLAINTEXT} a push may carry")]
    TooLarge(usize),
    #[error("encryption failed")]
    Cipher,
}

/// Encrypts `plaintext` for the browser whose subscription gave `ua_public` (p256dh) and
/// `auth`, with a fresh key pair and salt: the request body, `Content-Encoding: aes128gcm`.
pub fn encrypt(
    plaintext: &[u8],
    ua_public: &PublicKey,
    auth: &[u8; 16],
) -> Result<Vec<u8>, EceError> {
    let mut rng = rand::rngs::OsRng;
    let as_secret = SecretKey::random(&mut rng);
    let salt: [u8; 16] = rand::random();
    encrypt_with(plaintext, ua_public, auth, &as_secret, &salt)
}

/// [`encrypt`] with the application server's key pair and the salt given: RFC 8291's
/// example is reproduced with it.
fn encrypt_with(
    plaintext: &[u8],
    ua_public: &PublicKey,
    auth: &[u8; 16],
    as_secret: &SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, EceError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(EceError::TooLarge(plaintext.len()));
    }
    let ua_point = ua_public.to_encoded_point(false);
    let as_point = as_secret.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_public.as_affine());

    // RFC 8291 §3.3: IKM = HKDF(auth, ecdh_secret, "WebPush: info" 0 ua_public as_public, 32)
    let mut key_info = Vec::with_capacity(14 + 65 + 65);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_point.as_bytes());
    key_info.extend_from_slice(as_point.as_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| EceError::Cipher)?;

    // RFC 8188 §2.2, 2.3: the content-encryption key and nonce from the salt.
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| EceError::Cipher)?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|_| EceError::Cipher)?;

    // One record, the last: the plaintext, then the delimiter 0x02 and no padding.
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| EceError::Cipher)?;
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), record.as_slice())
        .map_err(|_| EceError::Cipher)?;

    let mut body = Vec::with_capacity(HEADER_LEN + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(as_point.as_bytes());
    body.extend_from_slice(&sealed);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).expect("base64url")
    }

    /// RFC 8291, section 5 and appendix A: the same inputs give the RFC's body, byte for byte.
    #[test]
    fn reproduces_the_rfc_8291_example() {
        let ua_public = PublicKey::from_sec1_bytes(&b64(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        ))
        .expect("ua public");
        let as_secret =
            SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).expect("as");
        let auth: [u8; 16] = b64("BTBZMqHH6r4Tts7J_aSIgg").try_into().expect("16 bytes");
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().expect("16 bytes");
        let body = encrypt_with(
            b"When I grow up, I want to be a watermelon",
            &ua_public,
            &auth,
            &as_secret,
            &salt,
        )
        .expect("encrypt");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn fresh_keys_each_time_and_a_bounded_size() {
        let ua = SecretKey::random(&mut rand::rngs::OsRng).public_key();
        let auth = [7u8; 16];
        let a = encrypt(b"same text", &ua, &auth).expect("a");
        let b = encrypt(b"same text", &ua, &auth).expect("b");
        assert_ne!(a, b, "salt and key must be new for every push");
        assert_eq!(a.len(), HEADER_LEN + 9 + RECORD_OVERHEAD);
        let largest = encrypt(&vec![b'x'; MAX_PLAINTEXT], &ua, &auth).expect("largest");
        assert_eq!(largest.len(), RECORD_SIZE as usize);
        assert_eq!(
            encrypt(&vec![b'x'; MAX_PLAINTEXT + 1], &ua, &auth),
            Err(EceError::TooLarge(MAX_PLAINTEXT + 1))
        );
    }
}
