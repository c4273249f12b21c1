//! Password hashing (argon2id at OWASP's parameters) and the password policy.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// OWASP Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 256;

/// ASVS 6.2: length is what counts; no composition rules; refuse the most guessed passwords.
pub fn check_policy(password: &str, email: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(format!("use at least {MIN_LENGTH} characters"));
    }
    if chars > MAX_LENGTH {
        return Err(format!("use at most {MAX_LENGTH} characters"));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Err("this password is among the most commonly used; choose another".into());
    }
    if !email.is_empty() && lower == email.to_lowercase() {
        return Err("the password must not be your e-mail address".into());
    }
    Ok(())
}

/// A short list of passwords that attackers try first.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "qwerty123",
    "iloveyou",
    "11111111",
    "00000000",
    "abc12345",
    "abcd1234",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "welcome1",
    "superman",
    "letmein1",
    "trustno1",
    "passw0rd",
    "p@ssw0rd",
    "changeme",
    "administrator",
    "switchyard",
    "qwertyui",
    "asdfghjk",
    "zaq12wsx",
    "1q2w3e4r",
    "1qaz2wsx",
    "starwars",
    "whatever",
    "dragon12",
    "master12",
    "welcome123",
    "admin123",
    "admin1234",
    "monkey12",
    "computer",
    "internet",
    "michelle",
    "jennifer",
    "12341234",
    "87654321",
    "88888888",
    "99999999",
    "q1w2e3r4",
    "secret12",
];

pub fn hash(password: &str) -> Result<String, anyhow::Error> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("could not hash the password: {e}"))
}

pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so that unknown e-mails take as
/// long as wrong passwords and the answer does not reveal which accounts exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("not-a-real-password-ever").unwrap_or_default())
}

/// Hashing is CPU-heavy; keep it off the async workers.
pub async fn hash_blocking(password: String) -> Result<String, anyhow::Error> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

pub async fn verify_blocking(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &stored))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters_with_unique_salts() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
    }

    #[test]
    fn policy_is_about_length_and_common_passwords() {
        assert!(check_policy("short7!", "").is_err());
        assert!(check_policy("eightchr", "").is_ok());
        assert!(check_policy(&"x".repeat(128), "").is_ok());
        assert!(check_policy("Password123", "").is_err());
        assert!(check_policy("ünïcødé-pass", "").is_ok());
        assert!(check_policy("me@example.com", "ME@example.com").is_err());
    }
}
