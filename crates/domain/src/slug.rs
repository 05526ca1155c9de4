//! URL names (slugs) of organizations, projects and teams, with Sentry's rule.

/// Longest slug (Sentry's limit).
pub const MAX_SLUG_CHARS: usize = 50;

/// What an invalid slug is told (Sentry's message).
pub const INVALID_SLUG_MESSAGE: &str = "Enter a valid slug consisting of lowercase letters, \
    numbers, underscores or hyphens. It cannot be entirely numeric.";

/// Whether `slug` is valid: 1 to [`MAX_SLUG_CHARS`] lowercase ASCII letters, digits, `-` and
/// `_`, not only digits (an all-digit slug could not be told from an id).
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= MAX_SLUG_CHARS
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !slug.bytes().all(|b| b.is_ascii_digit())
}

/// A slug made from a display name: lowercase, runs of other characters become one `-`, cut to
/// [`MAX_SLUG_CHARS`].
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-')
        .chars()
        .take(MAX_SLUG_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentry_slug_rule() {
        assert!(is_valid_slug("backend-2_x"));
        assert!(!is_valid_slug(""));
        assert!(!is_valid_slug("123"));
        assert!(!is_valid_slug("Backend"));
        assert!(!is_valid_slug("a b"));
        assert!(is_valid_slug(&"a".repeat(MAX_SLUG_CHARS)));
        assert!(!is_valid_slug(&"a".repeat(MAX_SLUG_CHARS + 1)));
    }

    #[test]
    fn slugs_from_names() {
        assert_eq!(slugify("Backend Team"), "backend-team");
        assert_eq!(slugify("  Ops / SRE "), "ops-sre");
        assert!(is_valid_slug(&slugify(&"Long name ".repeat(20))));
    }
}
