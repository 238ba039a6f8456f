//! Two-factor sign-in with TOTP (RFC 6238 through `totp-rs`: SHA-1, 6 digits, 30 s steps,
//! one step of clock skew either way), its enrolment QR code (`qrcode`, as SVG), and
//! recovery codes. Pure: the database keeps the secret, the last accepted step and the
//! recovery codes' digests (`storage::totp`).

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use super::AccountError;
use crate::tokens::opaque;

const DIGITS: usize = 6;
const STEP_SECS: u64 = 30;
const RECOVERY_CODES: usize = 10;

/// A new secret: 160 random bits, base32 (what authenticator apps are given).
pub fn new_secret() -> Result<String, AccountError> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)
        .map_err(|e| AccountError::Internal(format!("no randomness for a secret: {e}")))?;
    Ok(Secret::Raw(bytes.to_vec()).to_encoded().to_string())
}

fn totp(secret: &str, issuer: &str, account: &str) -> Result<TOTP, AccountError> {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().map_err(|e| {
        AccountError::Internal(format!("a stored TOTP secret is not base32: {e:?}"))
    })?;
    // The issuer and label may not hold ':' (the otpauth URL's separator).
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        bytes,
        Some(issuer),
        account,
    )
    .map_err(|e| AccountError::Internal(format!("TOTP: {e}")))
}

/// What an authenticator app is shown at enrolment: the `otpauth://` URL and its QR code.
pub struct Provisioning {
    pub url: String,
    pub qr_svg: String,
}

pub fn provisioning(
    secret: &str,
    issuer: &str,
    account: &str,
) -> Result<Provisioning, AccountError> {
    let url = totp(secret, issuer, account)?.get_url();
    let qr = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| AccountError::Internal(format!("QR code: {e}")))?;
    let qr_svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(Provisioning { url, qr_svg })
}

/// The time step whose code `code` is, within one step of `now_secs`; `None` when it is
/// none of them (or not six digits).
pub fn matching_step(secret: &str, code: &str, now_secs: u64) -> Result<Option<i64>, AccountError> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = totp(secret, "chatapp", "user")?;
    let step = now_secs / STEP_SECS;
    let mut found = None;
    for candidate in [step.saturating_sub(1), step, step + 1] {
        let expected = totp.generate(candidate * STEP_SECS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = i64::try_from(candidate).ok();
        }
    }
    Ok(found)
}

/// Whether what was typed looks like a TOTP code (else it is tried as a recovery code).
pub fn looks_like_code(typed: &str) -> bool {
    let typed = typed.trim();
    typed.len() == DIGITS && typed.bytes().all(|b| b.is_ascii_digit())
}

/// Ten new recovery codes, `xxxxx-xxxxx` of `[a-z0-9]` (50 bits each).
pub fn new_recovery_codes() -> Result<Vec<String>, AccountError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut bytes = [0u8; 10];
        getrandom::fill(&mut bytes)
            .map_err(|e| AccountError::Internal(format!("no randomness for a code: {e}")))?;
        let chars: String = bytes
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect();
        codes.push(format!("{}-{}", &chars[..5], &chars[5..]));
    }
    Ok(codes)
}

/// The digest a recovery code is kept and found by: letter case, spaces and dashes aside.
pub fn recovery_digest(typed: &str) -> String {
    let normal: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    opaque::digest(&normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_only() {
        let secret = new_secret().expect("secret");
        let t = totp(&secret, "chatapp", "ann").expect("totp");
        let now = 1_800_000_000;
        let code = t.generate(now);
        assert_eq!(
            matching_step(&secret, &code, now).expect("check"),
            Some(i64::try_from(now / 30).expect("step"))
        );
        // Thirty seconds either way still works; two minutes later it does not.
        assert!(
            matching_step(&secret, &code, now + 30)
                .expect("check")
                .is_some()
        );
        assert!(
            matching_step(&secret, &code, now + 120)
                .expect("check")
                .is_none()
        );
        assert!(
            matching_step(&secret, "12345", now)
                .expect("check")
                .is_none()
        );
        assert!(
            matching_step(&secret, "abcdef", now)
                .expect("check")
                .is_none()
        );
    }

    #[test]
    fn provisioning_gives_an_otpauth_url_and_an_svg() {
        let secret = new_secret().expect("secret");
        let p = provisioning(&secret, "chat:app", "ann").expect("provisioning");
        assert!(p.url.starts_with("otpauth://totp/"), "{}", p.url);
        assert!(p.url.contains(&secret));
        assert!(p.qr_svg.contains("<svg"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_typed_loosely() {
        let codes = new_recovery_codes().expect("codes");
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        let code = &codes[0];
        assert_eq!(
            recovery_digest(code),
            recovery_digest(&format!(" {} ", code.to_uppercase().replace('-', "")))
        );
    }
}
