//! Sentry's short issue ids (`SHOP-1A`), shown in the UI and in notifications.

/// Sentry's short id: the project slug upper-cased and the per-project number in base 32
/// (Crockford's alphabet), e.g. `SHOP-1A`.
pub fn short_id(project_slug: &str, number: i64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut n = number.max(0) as u64;
    let mut digits = Vec::new();
    loop {
        digits.push(ALPHABET[(n % 32) as usize]);
        n /= 32;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    format!(
        "{}-{}",
        project_slug.to_uppercase(),
        String::from_utf8_lossy(&digits)
    )
}

/// Parses a short id's number part (inverse of [`short_id`]).
pub fn parse_short_id(text: &str) -> Option<(String, i64)> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let (slug, number) = text.rsplit_once('-')?;
    let mut n: i64 = 0;
    for c in number.to_ascii_uppercase().bytes() {
        let digit = ALPHABET.iter().position(|&a| a == c)? as i64;
        n = n.checked_mul(32)?.checked_add(digit)?;
    }
    Some((slug.to_lowercase(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_round_trip() {
        assert_eq!(short_id("shop", 1), "SHOP-1");
        assert_eq!(short_id("shop", 42), "SHOP-1A");
        assert_eq!(parse_short_id("SHOP-1A"), Some(("shop".to_owned(), 42)));
        assert_eq!(parse_short_id("shop-1a"), Some(("shop".to_owned(), 42)));
        assert_eq!(parse_short_id("nodash"), None);
    }
}
