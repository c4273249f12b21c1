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

/// zxcvbn's estimate below which a password is refused: 10^6 guesses (its score 2). That
/// refuses the common, breached, repeated, sequential and keyboard-walk passwords (NIST SP
/// 800-63B 3.1.1.2) while any 8 random lowercase letters still pass (ASVS 6.2: no composition
/// rules).
const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Two;

/// Words about this installation that every user's password must not lean on.
const SITE_WORDS: &[&str] = &["switchyard"];

/// NIST SP 800-63B and ASVS 6.2: length is what counts (8 to 256, no composition rules), and
/// passwords that are commonly used, breached (the frequency lists zxcvbn compiles into the
/// binary: 30,000 passwords from breaches, names, English words), repetitive, sequential or
/// made of context-specific words are refused, with the reason. `about` holds what is known of
/// the user (the e-mail address, the name).
pub fn check_policy(password: &str, about: &[&str]) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(format!("use at least {MIN_LENGTH} characters"));
    }
    if chars > MAX_LENGTH {
        return Err(format!("use at most {MAX_LENGTH} characters"));
    }
    let context = context_words(about);
    if leans_on_context(password, &context) {
        return Err(
            "do not build the password from your e-mail address, your name or the \
                    word switchyard"
                .into(),
        );
    }
    let words: Vec<&str> = context.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &words);
    if estimate.score() < MIN_SCORE {
        let warning = estimate.feedback().and_then(|f| f.warning());
        return Err(format!(
            "this password is too easy to guess: {}; a few uncommon words make a strong one",
            why_weak(warning)
        ));
    }
    Ok(())
}

fn why_weak(warning: Option<zxcvbn::feedback::Warning>) -> &'static str {
    use zxcvbn::feedback::Warning as W;
    match warning {
        Some(W::ThisIsATop10Password | W::ThisIsATop100Password | W::ThisIsACommonPassword) => {
            "it is a commonly used password"
        }
        Some(W::ThisIsSimilarToACommonlyUsedPassword) => {
            "it is similar to a commonly used password"
        }
        Some(
            W::RepeatsLikeAaaAreEasyToGuess | W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
        ) => "it is made of repeated characters or words",
        Some(W::SequencesLikeAbcAreEasyToGuess) => "it is a sequence like abcd or 1234",
        Some(W::StraightRowsOfKeysAreEasyToGuess | W::ShortKeyboardPatternsAreEasyToGuess) => {
            "it is a pattern of neighbouring keys"
        }
        Some(W::RecentYearsAreEasyToGuess | W::DatesAreOftenEasyToGuess) => {
            "it leans on a date or a year"
        }
        Some(
            W::AWordByItselfIsEasyToGuess
            | W::NamesAndSurnamesByThemselvesAreEasyToGuess
            | W::CommonNamesAndSurnamesAreEasyToGuess,
        ) => "it is a single word or name",
        None => "it is short and predictable",
    }
}

/// The e-mail address, its parts and the name's words (three letters or more), lower-cased,
/// with the site's own words.
fn context_words(about: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = SITE_WORDS.iter().map(|w| w.to_string()).collect();
    for item in about {
        let item = item.trim().to_lowercase();
        let (local, domain) = item.split_once('@').unwrap_or((item.as_str(), ""));
        let labels = domain.split('.').collect::<Vec<_>>();
        // The top-level domain (`com`) says nothing about the user.
        let labels = &labels[..labels.len().saturating_sub(1)];
        let parts = std::iter::once(item.as_str())
            .chain(std::iter::once(local))
            .chain(local.split(|c: char| !c.is_alphanumeric()))
            .chain(labels.iter().copied());
        for w in parts {
            if w.chars().count() >= 3 && !words.iter().any(|x| x == w) {
                words.push(w.to_string());
            }
        }
    }
    words
}

/// True when the password is a context word with little else: what is left once the words
/// are taken out would be refused on its own.
fn leans_on_context(password: &str, context: &[String]) -> bool {
    let lower = password.to_lowercase();
    if !context.iter().any(|w| lower.contains(w.as_str())) {
        return false;
    }
    let mut rest = lower;
    // Longest first, so the whole e-mail goes before its parts.
    let mut words: Vec<&String> = context.iter().collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    for w in words {
        rest = rest.replace(w.as_str(), "");
    }
    rest.chars().count() < MIN_LENGTH || zxcvbn::zxcvbn(&rest, &[]).score() < MIN_SCORE
}

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

    /// Letters from a fixed pseudo-random sequence: long, with no repeats to find.
    fn unpatterned(len: usize) -> String {
        let mut x: u32 = 12345;
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (b'a' + ((x >> 16) % 26) as u8) as char
            })
            .collect()
    }

    #[test]
    fn policy_is_about_length_not_composition() {
        assert!(check_policy("short7!", &[]).is_err());
        assert!(
            check_policy("kqzvbnwt", &[]).is_ok(),
            "8 lowercase letters are enough"
        );
        assert!(check_policy(&unpatterned(128), &[]).is_ok());
        assert!(
            check_policy(&"x7q".repeat(86), &[]).is_err(),
            "over 256 characters"
        );
        assert!(check_policy("ünïcødé-pass", &[]).is_ok());
        assert!(check_policy("quartz-lantern-meadow-49", &["admin@example.com"]).is_ok());
        assert!(check_policy("demo-password-2026", &["alice@demo.example"]).is_ok());
    }

    #[test]
    fn common_repeated_sequential_and_keyboard_passwords_are_refused_with_a_reason() {
        let cases = [
            ("Password1!", "similar to a commonly used password"),
            ("P@ssw0rd123", "similar to a commonly used password"),
            ("12345678", "commonly used password"),
            ("iloveyou2", "commonly used password"),
            ("aaaaaaaa", "repeated"),
            ("        ", "repeated"),
            ("abcdefgh", "sequence"),
            ("qwertyuiop", "commonly used"),
            ("zxcvbnm,./", "neighbouring keys"),
        ];
        for (password, reason) in cases {
            let err = check_policy(password, &[]).expect_err(password);
            assert!(err.contains(reason), "{password:?}: {err}");
        }
    }

    #[test]
    fn passwords_built_from_the_user_or_the_site_are_refused() {
        let about = ["mallory.smith@acme-corp.example", "Mallory Smith"];
        for password in [
            "mallory.smith@acme-corp.example",
            "Mallory2031!",
            "acme-corp-2031",
            "Switchyard2031!",
            "switchyard-admin",
        ] {
            let err = check_policy(password, &about).expect_err(password);
            assert!(err.contains("e-mail address"), "{password:?}: {err}");
        }
        // A context word inside an otherwise strong password is fine.
        assert!(check_policy("mallory-quartz-lantern-meadow", &about).is_ok());
    }
}
