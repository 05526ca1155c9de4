//! Glob patterns of the rule languages (Sentry's `glob_match`).
//!
//! `*` matches any run of characters, `?` one character, `[a-z]` / `[!a-z]` a character class,
//! `\x` the character `x`. In path mode (`stack.abs_path`, `stack.package`) `*` and `?` stop at
//! `/` while `**` crosses it, backslashes in values count as `/`, and matching ignores case.
//!
//! Matching runs in O(value × pattern) time with no backtracking: common shapes (`exact`,
//! `prefix*`, `*suffix`, `*infix*`, `prefix*suffix`) are answered with string searches, the rest
//! by a small NFA simulation over the pattern's tokens.

use std::borrow::Cow;

/// Longest pattern a rule may use, in characters; keeps the NFA small.
pub const MAX_PATTERN_CHARS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`
    AnyChar,
    /// `*`
    Star,
    /// `**` (only distinct from `*` in path mode)
    DoubleStar,
    /// `[...]`
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Shapes answered without the NFA. `star_crosses_slash` is false for a path-mode `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Exact(String),
    Anything { star_crosses_slash: bool },
    Prefix(String, bool),
    Suffix(String, bool),
    Contains(String, bool),
    PrefixSuffix(String, String, bool),
    General,
}

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
    shape: Shape,
    /// The longest literal run of a general pattern: a value without it cannot match.
    required: String,
    path: bool,
    ignore_case: bool,
}

impl Glob {
    /// Compiles a pattern. `path`: path semantics (see the module docs); `ignore_case`: compare
    /// case-insensitively (implied by `path`).
    pub fn new(pattern: &str, path: bool, ignore_case: bool) -> Result<Glob, String> {
        if pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(format!(
                "pattern too long (at most {MAX_PATTERN_CHARS} characters)"
            ));
        }
        let ignore_case = ignore_case || path;
        let pattern: Cow<'_, str> = if path {
            Cow::Owned(pattern.replace('\\', "/"))
        } else {
            Cow::Borrowed(pattern)
        };
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            let token = match c {
                '*' => {
                    if chars.peek() == Some(&'*') {
                        while chars.peek() == Some(&'*') {
                            chars.next();
                        }
                        Token::DoubleStar
                    } else {
                        Token::Star
                    }
                }
                '?' => Token::AnyChar,
                '\\' if !path => match chars.next() {
                    Some(escaped) => Token::Literal(escaped),
                    None => Token::Literal('\\'),
                },
                '[' => {
                    let mut negated = false;
                    if matches!(chars.peek(), Some('!' | '^')) {
                        negated = true;
                        chars.next();
                    }
                    let mut ranges = Vec::new();
                    let mut first = true;
                    loop {
                        let Some(c) = chars.next() else {
                            return Err("unclosed \"[\" in pattern".to_owned());
                        };
                        // A `]` first in the class is a literal, as in fnmatch.
                        if c == ']' && !first {
                            break;
                        }
                        first = false;
                        let low = fold(c, ignore_case);
                        let mut lookahead = chars.clone();
                        if lookahead.next() == Some('-')
                            && let Some(high) = lookahead.next().filter(|h| *h != ']')
                        {
                            chars.next();
                            chars.next();
                            ranges.push((low, fold(high, ignore_case)));
                        } else {
                            ranges.push((low, low));
                        }
                    }
                    Token::Class { negated, ranges }
                }
                other => Token::Literal(fold(other, ignore_case)),
            };
            // Consecutive stars mean the widest of them.
            match (tokens.last_mut(), &token) {
                (Some(Token::Star | Token::DoubleStar), Token::DoubleStar) => {
                    if let Some(last) = tokens.last_mut() {
                        *last = Token::DoubleStar;
                    }
                }
                (Some(Token::Star | Token::DoubleStar), Token::Star) => {}
                _ => tokens.push(token),
            }
        }
        let shape = shape_of(&tokens, path);
        let mut required = String::new();
        let mut run = String::new();
        for token in tokens.iter().chain(std::iter::once(&Token::Star)) {
            match token {
                Token::Literal(c) => run.push(*c),
                _ => {
                    if run.len() > required.len() {
                        required = std::mem::take(&mut run);
                    }
                    run.clear();
                }
            }
        }
        Ok(Glob {
            tokens,
            shape,
            required,
            path,
            ignore_case,
        })
    }

    /// Whether the whole value matches.
    pub fn is_match(&self, value: &str) -> bool {
        let value = self.prepare(value);
        self.matches_prepared(&value)
    }

    /// Matches a value that is already lowercased and `/`-normalized when the glob needs it
    /// (path matchers prepare each frame's path once, not once per rule).
    pub fn matches_prepared(&self, value: &str) -> bool {
        let allowed = |text: &str, crosses: bool| crosses || !text.contains('/');
        match &self.shape {
            Shape::Exact(text) => value == text,
            Shape::Anything { star_crosses_slash } => allowed(value, *star_crosses_slash),
            Shape::Prefix(prefix, crosses) => value
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| allowed(rest, *crosses)),
            Shape::Suffix(suffix, crosses) => value
                .strip_suffix(suffix.as_str())
                .is_some_and(|rest| allowed(rest, *crosses)),
            Shape::Contains(infix, crosses) => {
                if *crosses {
                    value.contains(infix.as_str())
                } else {
                    // Without `/` on either side: the value minus one occurrence has no `/`,
                    // i.e. the value's only slashes are inside the infix.
                    value.match_indices(infix.as_str()).any(|(at, _)| {
                        allowed(&value[..at], false) && allowed(&value[at + infix.len()..], false)
                    })
                }
            }
            Shape::PrefixSuffix(prefix, suffix, crosses) => {
                value.len() >= prefix.len() + suffix.len()
                    && value.starts_with(prefix.as_str())
                    && value.ends_with(suffix.as_str())
                    && allowed(&value[prefix.len()..value.len() - suffix.len()], *crosses)
            }
            Shape::General => value.contains(self.required.as_str()) && self.nfa_match(value),
        }
    }

    /// Lowercases and normalizes separators as this glob compares.
    pub fn prepare<'v>(&self, value: &'v str) -> Cow<'v, str> {
        prepare_value(value, self.path, self.ignore_case)
    }

    fn nfa_match(&self, value: &str) -> bool {
        let n = self.tokens.len();
        let mut current = vec![false; n + 1];
        let mut next = vec![false; n + 1];
        current[0] = true;
        self.close(&mut current);
        for c in value.chars() {
            next.iter_mut().for_each(|s| *s = false);
            let mut any = false;
            for (i, token) in self.tokens.iter().enumerate() {
                if !current[i] {
                    continue;
                }
                let (stay, advance) = match token {
                    Token::Literal(l) => (false, *l == c),
                    Token::AnyChar => (false, !(self.path && c == '/')),
                    Token::Class { negated, ranges } => {
                        let inside = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c));
                        (false, inside != *negated)
                    }
                    Token::Star => (!(self.path && c == '/'), false),
                    Token::DoubleStar => (true, false),
                };
                if stay {
                    next[i] = true;
                    any = true;
                }
                if advance {
                    next[i + 1] = true;
                    any = true;
                }
            }
            if !any {
                return false;
            }
            self.close(&mut next);
            std::mem::swap(&mut current, &mut next);
        }
        current[n]
    }

    /// Stars match the empty string: a state before a star also stands after it.
    fn close(&self, states: &mut [bool]) {
        for (i, token) in self.tokens.iter().enumerate() {
            if states[i] && matches!(token, Token::Star | Token::DoubleStar) {
                states[i + 1] = true;
            }
        }
    }
}

/// The value as a glob with these options compares it.
pub fn prepare_value(value: &str, path: bool, ignore_case: bool) -> Cow<'_, str> {
    let needs_case = ignore_case && value.chars().any(char::is_uppercase);
    let needs_slash = path && value.contains('\\');
    if !needs_case && !needs_slash {
        return Cow::Borrowed(value);
    }
    let mut out: String = if needs_case {
        value.to_lowercase()
    } else {
        value.to_owned()
    };
    if needs_slash {
        out = out.replace('\\', "/");
    }
    Cow::Owned(out)
}

fn fold(c: char, ignore_case: bool) -> char {
    if ignore_case {
        c.to_lowercase().next().unwrap_or(c)
    } else {
        c
    }
}

fn shape_of(tokens: &[Token], path: bool) -> Shape {
    // Literal runs separated by stars, if the pattern is only that.
    let mut parts: Vec<Option<String>> = Vec::new();
    let mut crosses = true;
    for token in tokens {
        match token {
            Token::Literal(c) => match parts.last_mut() {
                Some(Some(text)) => text.push(*c),
                _ => parts.push(Some(c.to_string())),
            },
            Token::Star => {
                crosses &= !path;
                parts.push(None);
            }
            Token::DoubleStar => parts.push(None),
            _ => return Shape::General,
        }
    }
    // Mixed `*` and `**` in path mode need the NFA to know which star may cross a slash.
    if path && tokens.contains(&Token::Star) && tokens.contains(&Token::DoubleStar) {
        return Shape::General;
    }
    match parts.as_slice() {
        [] => Shape::Exact(String::new()),
        [Some(text)] => Shape::Exact(text.clone()),
        [None] => Shape::Anything {
            star_crosses_slash: crosses,
        },
        [Some(prefix), None] => Shape::Prefix(prefix.clone(), crosses),
        [None, Some(suffix)] => Shape::Suffix(suffix.clone(), crosses),
        [None, Some(infix), None] => Shape::Contains(infix.clone(), crosses),
        [Some(prefix), None, Some(suffix)] => {
            Shape::PrefixSuffix(prefix.clone(), suffix.clone(), crosses)
        }
        _ => Shape::General,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, value: &str) -> bool {
        Glob::new(pattern, false, false).unwrap().is_match(value)
    }

    fn p(pattern: &str, value: &str) -> bool {
        Glob::new(pattern, true, true).unwrap().is_match(value)
    }

    #[test]
    fn plain_globs() {
        assert!(m("DatabaseError", "DatabaseError"));
        assert!(!m("DatabaseError", "databaseerror"));
        assert!(m("log_*", "log_info"));
        assert!(m("*Error", "KeyError"));
        assert!(m("*conn*refused*", "db: connection refused"));
        assert!(m("core::panicking::*", "core::panicking::panic_fmt"));
        assert!(m("a*b", "a/x/b"), "outside paths a star crosses slashes");
        assert!(m("f?o", "foo"));
        assert!(!m("f?o", "fo"));
        assert!(m("?[[]Sentry*", "-[SentryClient send]"));
        assert!(m("[!a-c]x", "dx"));
        assert!(!m("[!a-c]x", "bx"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(
            Glob::new("*ERROR*", false, true)
                .unwrap()
                .is_match("an error here")
        );
        assert!(Glob::new("[abc", false, false).is_err());
    }

    #[test]
    fn path_globs() {
        assert!(p(
            "**/node_modules/**",
            "/app/node_modules/express/index.js"
        ));
        assert!(p("/usr/lib/**", "/usr/lib/x86_64/libc.so.6"));
        assert!(
            !p("/usr/lib/*", "/usr/lib/x86_64/libc.so.6"),
            "* stops at /"
        );
        assert!(p("/usr/lib/*", "/usr/lib/libc.so.6"));
        assert!(p("C:/Windows/**", "c:\\windows\\system32\\ntdll.dll"));
        assert!(p("**/Site-Packages/*/x.py", "/v/site-packages/pkg/x.py"));
        assert!(!p("**/site-packages/*/x.py", "/v/site-packages/a/b/x.py"));
        assert!(p("*.so", "libfoo.so"));
        assert!(!p("*.so", "lib/libfoo.so"));
    }

    #[test]
    fn long_inputs_stay_cheap() {
        let g = Glob::new("*a?b*c[xy]d*", false, false).unwrap();
        let value = "a".repeat(100_000);
        assert!(!g.is_match(&value));
        assert!(Glob::new(&"a".repeat(MAX_PATTERN_CHARS + 1), false, false).is_err());
    }
}
