//! API tokens (`mlvet_<public id>_<secret>`, only the SHA-256 of the secret is stored), session
//! secrets and argon2id password hashes.
//!
//! Token secrets carry ~238 bits of randomness, so a fast hash is enough and every API call
//! can afford it; argon2id (memory-hard, ~20–30 ms) is kept for human passwords.

use sha2::{Digest, Sha256};

use crate::StoreError;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `len` characters from the OS random source, alphanumeric (lower case only for public ids).
pub fn random_alnum(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    // Without an OS random source nothing secure can be made: fail loudly, never weakly.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    let alphabet = if len <= 12 { &ALPHABET[..36] } else { ALPHABET };
    // 256 is not a multiple of 62 or 36: reject the biased tail instead of folding it in.
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    let mut pool = bytes;
    loop {
        for byte in &pool {
            if usize::from(*byte) < limit {
                out.push(char::from(alphabet[usize::from(*byte) % alphabet.len()]));
                if out.len() == len {
                    return out;
                }
            }
        }
        pool = vec![0u8; len];
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut pool).expect("the operating system's random source is unavailable");
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// `mlvet_<public id>_<secret>` → (public id, secret), `None` when not shaped like a token.
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("mlvet_")?;
    let (public_id, secret) = rest.split_once('_')?;
    let plain =
        |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (plain(public_id) && plain(secret)).then_some((public_id, secret))
}

/// Compares without an early exit, so the time taken does not tell how much matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An argon2id hash (PHC string) of `password` with a random salt.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    use argon2::PasswordHasher;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| StoreError::Config(format!("no random source: {e}")))?;
    let salt = argon2::password_hash::SaltString::encode_b64(&salt)
        .map_err(|e| StoreError::Config(format!("salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::Config(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::password_hash::PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A valid argon2id hash of a random password, verified against when an email is unknown.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3mRrJcS9R0Wc1cEE9uEvDdcqT0lmfZ4e2QHk1rQ2Nqs";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_and_compare() {
        assert_eq!(
            split_token("mlvet_abc123_SeCrEt"),
            Some(("abc123", "SeCrEt"))
        );
        for bad in [
            "",
            "mlvet_",
            "mlvet_abc",
            "mlvet__x",
            "x_abc_def",
            "mlvet_a_b_c",
            "mlvet_a'_b",
        ] {
            assert_eq!(split_token(bad), None, "{bad}");
        }
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        let public = random_alnum(12);
        assert!(
            public
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_ne!(random_alnum(40), random_alnum(40));
    }

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password("x", DUMMY_HASH));
    }
}
