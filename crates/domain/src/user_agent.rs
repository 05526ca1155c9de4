//! A short, human summary of a `User-Agent` ("Firefox 128 on Linux") for the list of a user's
//! sessions. A guess from well-known tokens, never a security decision: the header is whatever
//! the client chose to send.

/// Browsers in the order their tokens must be tried: Edge and Opera also say `Chrome/`, Chrome
/// also says `Safari/`.
const BROWSERS: [(&str, &str); 8] = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("CriOS/", "Chrome"),
    ("FxiOS/", "Firefox"),
];

/// Systems in the order their tokens must be tried: Android also says `Linux`, iOS also says
/// `Mac OS X`.
const SYSTEMS: [(&str, &str); 8] = [
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
];

/// Longest summary of an agent none of the known tokens describe.
const MAX_UNKNOWN_CHARS: usize = 40;

/// The major version after `token` (`Firefox/128.0` -> `128`), if it starts with a digit.
fn major(ua: &str, token: &str) -> Option<String> {
    let rest = &ua[ua.find(token)? + token.len()..];
    let version: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!version.is_empty()).then_some(version)
}

fn browser(ua: &str) -> Option<String> {
    for (token, name) in BROWSERS {
        if ua.contains(token) {
            return Some(match major(ua, token) {
                Some(version) => format!("{name} {version}"),
                None => name.to_owned(),
            });
        }
    }
    if ua.contains("Safari/") {
        return Some(match major(ua, "Version/") {
            Some(version) => format!("Safari {version}"),
            None => "Safari".to_owned(),
        });
    }
    // Command-line clients name themselves first: `curl/8.5.0`, `python-requests/2.31`.
    let first = ua.split_whitespace().next()?;
    let (name, version) = first.split_once('/')?;
    let is_name = !name.is_empty()
        && name != "Mozilla"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    is_name.then(|| {
        let major: String = version.chars().take_while(char::is_ascii_digit).collect();
        if major.is_empty() {
            name.to_owned()
        } else {
            format!("{name} {major}")
        }
    })
}

fn system(ua: &str) -> Option<&'static str> {
    SYSTEMS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name)
}

/// "Browser version on system", as far as the agent tells; `"Unknown browser"` for an empty one.
pub fn summary(user_agent: &str) -> String {
    let ua = user_agent.trim();
    if ua.is_empty() {
        return "Unknown browser".to_owned();
    }
    match (browser(ua), system(ua)) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser,
        (None, Some(system)) => format!("A browser on {system}"),
        (None, None) => {
            let mut cut: String = ua.chars().take(MAX_UNKNOWN_CHARS).collect();
            if ua.chars().count() > MAX_UNKNOWN_CHARS {
                cut.push('…');
            }
            cut
        }
    }
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn real_agents_are_summarized() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox 128 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
                "Edge 120 on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, \
                 like Gecko) Version/17.2 Safari/605.1.15",
                "Safari 17 on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
                "Safari 17 on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/120.0.6099.144 Mobile Safari/537.36",
                "Chrome 120 on Android",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 HeadlessChrome/131.0.6778.85 Safari/537.36",
                "Headless Chrome 131 on Linux",
            ),
            ("curl/8.5.0", "curl 8"),
            ("", "Unknown browser"),
            ("Mozilla/5.0 (X11; Linux x86_64)", "A browser on Linux"),
            (
                "<script>something entirely unknown and rather long indeed</script>",
                "<script>something entirely unknown and r…",
            ),
        ];
        for (ua, expected) in cases {
            assert_eq!(summary(ua), expected, "{ua}");
        }
    }
}
