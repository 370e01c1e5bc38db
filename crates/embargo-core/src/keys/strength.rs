//! How strong a passphrase must be to protect the researcher's identity — and with it every
//! draft, receipt and outbox entry.
//!
//! The identity's secret keys stay protected with OpenPGP's iterated and salted S2K (SHA-256,
//! the most iterations the format allows: ≈45 ms per guess on one core, some 2·10⁴ guesses per
//! second on one GPU), not Argon2: the README's recovery path is `gpg --import` of the exported
//! identity, and the gpg that Debian and Ubuntu ship (2.2, 2.4) cannot unlock an Argon2-protected
//! key. A memory-hard S2K would slow a GPU by orders of magnitude more, at the price of a vault
//! only embargo itself (and sequoia's `sq`) can open. So the passphrase carries the weight: its
//! strength is estimated with zxcvbn (dictionaries, names, keyboard patterns, dates, the user
//! ID itself) and anything estimated below 10¹⁰ guesses (zxcvbn's top score) is refused — at
//! that floor, one GPU needs about six days on average, a rack of a hundred about an hour and a
//! half; four random words are far beyond it.

use sequoia_openpgp::crypto::Password;
use zxcvbn::Score;

/// Guesses per second one GPU makes against the identity's S2K (the security review's figure).
pub const GPU_GUESSES_PER_SECOND: f64 = 2e4;
/// The least estimated guesses accepted: zxcvbn's score 4.
pub const MIN_GUESSES_LOG10: f64 = 10.0;

/// A passphrase estimated too weak.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("this passphrase is too weak to protect your drafts: it would fall after about 10^{guesses_log10:.0} guesses, {gpu_time} for one GPU against the vault's key protection; at least 10^10 are needed.{warning} {advice}")]
pub struct WeakPassphrase {
    /// zxcvbn's estimate of the guesses needed, as a power of ten.
    pub guesses_log10: f64,
    /// How long one GPU needs for that many guesses, in words.
    pub gpu_time: String,
    /// What zxcvbn found (" This is a very common password.") or empty.
    pub warning: String,
    /// What to do instead.
    pub advice: String,
}

/// Seconds in words, roughly: "2 seconds", "3 hours", "5 days", "40 years".
fn duration_words(seconds: f64) -> String {
    let units = [
        (365.25 * 86400.0, "year"),
        (86400.0, "day"),
        (3600.0, "hour"),
        (60.0, "minute"),
        (1.0, "second"),
    ];
    for (size, name) in units {
        if seconds >= size {
            let n = (seconds / size).round() as u64;
            return format!("{n} {name}{}", if n == 1 { "" } else { "s" });
        }
    }
    "an instant".to_owned()
}

/// Refuses a passphrase zxcvbn estimates below [`MIN_GUESSES_LOG10`]; `context` are words an
/// attacker would try first (the user ID's name and address).
pub fn check_passphrase(passphrase: &Password, context: &[&str]) -> Result<(), WeakPassphrase> {
    passphrase.map(|bytes| {
        let text = String::from_utf8_lossy(bytes);
        // zxcvbn looks at the first 100 characters; a longer passphrase is long enough.
        let head: String = text.chars().take(100).collect();
        let estimate = zxcvbn::zxcvbn(&head, context);
        let guesses_log10 = estimate.guesses_log10();
        if estimate.score() == Score::Four && guesses_log10 >= MIN_GUESSES_LOG10 {
            return Ok(());
        }
        let feedback = estimate.feedback();
        let warning = feedback
            .and_then(|f| f.warning())
            .map(|w| format!(" {w}."))
            .unwrap_or_default()
            .replace("..", ".");
        let seconds = 10f64.powf(guesses_log10) / GPU_GUESSES_PER_SECOND;
        Err(WeakPassphrase {
            guesses_log10,
            gpu_time: duration_words(seconds),
            warning,
            advice: "Use four or more random words (or a long sentence only you would write)."
                .to_owned(),
        })
    })
}

/// [`check_passphrase`] with the words of these user IDs as what an attacker tries first.
pub fn check_for_user_ids<'a>(
    passphrase: &Password,
    user_ids: impl IntoIterator<Item = &'a str>,
) -> Result<(), WeakPassphrase> {
    let words: Vec<String> = user_ids.into_iter().flat_map(user_id_words).collect();
    let context: Vec<&str> = words.iter().map(String::as_str).collect();
    check_passphrase(passphrase, &context)
}

/// The words of a user ID ("Ada Lovelace <ada@example.org>" → Ada, Lovelace, ada, example.org…).
pub fn user_id_words(userid: &str) -> Vec<String> {
    userid
        .split(|c: char| c.is_whitespace() || "<>@()\"".contains(c))
        .filter(|w| w.len() >= 2)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str, context: &[&str]) -> Result<(), WeakPassphrase> {
        check_passphrase(&Password::from(p), context)
    }

    #[test]
    fn weak_passphrases_are_refused_with_the_reason() {
        for weak in [
            "ab",
            "password1",
            "qwertyuiop",
            "correct horse",
            "2026-12-06",
        ] {
            let e = check(weak, &[]).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("too weak") && text.contains("at least 10^10"),
                "{weak}: {text}"
            );
            assert!(text.contains("random words"), "{text}");
        }
        let e = check("ab", &[]).unwrap_err();
        assert!(
            e.gpu_time == "an instant" || e.gpu_time.ends_with("second"),
            "{}",
            e.gpu_time
        );
        // The user ID counts against it.
        let words = user_id_words("Ada Lovelace <ada.lovelace@example.org>");
        let context: Vec<&str> = words.iter().map(String::as_str).collect();
        assert!(check("AdaLovelace1815", &[]).is_ok());
        assert!(check("AdaLovelace1815", &context).is_err());
        assert!(check("ada.lovelace@example.org", &context).is_err());
    }

    #[test]
    fn strong_passphrases_pass() {
        for strong in [
            "correct horse battery staple",
            "plinth marmot quarry fable",
            "Mein Kater schläft nie vor drei Uhr früh",
        ] {
            check(strong, &[]).unwrap_or_else(|e| panic!("{strong}: {e}"));
        }
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(duration_words(0.5), "an instant");
        assert_eq!(duration_words(1.0), "1 second");
        assert_eq!(duration_words(7200.0), "2 hours");
        assert_eq!(duration_words(6.0 * 86400.0), "6 days");
    }
}
