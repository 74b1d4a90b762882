//! The password policy: long enough, not guessable, not built from the user's own details.

use super::msg::Msg;

/// Shortest accepted password; NIST SP 800-63B asks for at least 8, we ask a little more for admin accounts.
pub const MIN_LEN: usize = 10;
/// Longest accepted password: argon2 hashes anything, but a megabyte "password" is an attack, not a secret.
pub const MAX_LEN: usize = 256;
/// zxcvbn score (0–4) a password must reach: 3 is "safely unguessable: moderate protection from offline attacks".
const MIN_SCORE: u8 = 3;

/// Checks a new password; `user_inputs` are the user's email, name and the site name, which must not make it up.
pub fn check(password: &str, user_inputs: &[&str]) -> Result<(), Msg> {
    let length = password.chars().count();
    if length < MIN_LEN {
        return Err(Msg::with("password.too_short", &[("min", MIN_LEN.to_string())]));
    }
    if length > MAX_LEN {
        return Err(Msg::with("password.too_long", &[("max", MAX_LEN.to_string())]));
    }
    let inputs: Vec<&str> = user_inputs.iter().copied().filter(|s| !s.is_empty()).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if u8::from(estimate.score()) < MIN_SCORE {
        let hint = estimate.feedback().and_then(|f| f.warning()).map(|w| w.to_string()).unwrap_or_default();
        return Err(Msg::with("password.too_weak", &[("hint", hint)]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_common_and_personal_passwords_are_refused() {
        assert_eq!(check("short", &[]).unwrap_err().key, "password.too_short");
        assert_eq!(check("password123", &[]).unwrap_err().key, "password.too_weak");
        assert_eq!(check("aaaaaaaaaaaa", &[]).unwrap_err().key, "password.too_weak");
        assert_eq!(check("jane.doe@acme.example", &["jane.doe@acme.example"]).unwrap_err().key, "password.too_weak");
        assert_eq!(check(&"x".repeat(300), &[]).unwrap_err().key, "password.too_long");
    }

    #[test]
    fn a_passphrase_passes() {
        check("correct horse battery staple", &["admin@acme.example"]).unwrap();
        check("Tr0ub4dor&3-river-lamp", &[]).unwrap();
    }
}
