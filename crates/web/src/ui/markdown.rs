//! Comments are Markdown (CommonMark via pulldown-cmark), rendered safely by construction:
//!
//! * raw HTML in a comment (blocks and inline) becomes **text**, so the renderer escapes it;
//!   no user-written tag ever reaches the page, so there is nothing to sanitize afterwards;
//! * links keep only `http:`, `https:` and `mailto:` destinations (or relative ones); anything
//!   else (`javascript:`, `data:`, ...) becomes plain text; links get `rel="nofollow noopener"`
//!   through their target being the same window and the page's referrer policy;
//! * images render as links (the CSP would block remote images anyway).

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        // A scheme is whatever precedes the first ':' when no '/', '?' or '#' comes before it.
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => {
            matches!(scheme, "http" | "https" | "mailto")
        }
        _ => !lower.starts_with("//"),
    }
}

/// Renders a comment to HTML that is safe to insert into a page.
pub fn render(text: &str) -> String {
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    // Whether each open link was kept (so its end tag is kept or dropped to match).
    let mut links: Vec<bool> = Vec::new();
    let events = Parser::new_ext(text, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let keep = safe_url(&dest_url);
            links.push(keep);
            keep.then_some(Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }))
        }
        Event::End(TagEnd::Link) => links.pop().unwrap_or(false).then_some(event),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let keep = safe_url(&dest_url);
            links.push(keep);
            keep.then_some(Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }))
        }
        Event::End(TagEnd::Image) => links
            .pop()
            .unwrap_or(false)
            .then_some(Event::End(TagEnd::Link)),
        Event::FootnoteReference(name) => Some(Event::Text(CowStr::from(format!("[^{name}]")))),
        other => Some(other),
    });
    let mut out = String::with_capacity(text.len() * 2);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_markdown() {
        assert_eq!(
            render("**bold** and `code`"),
            "<p><strong>bold</strong> and <code>code</code></p>\n"
        );
        assert!(render("[docs](https://example.org/a)").contains("href=\"https://example.org/a\""));
    }

    #[test]
    fn raw_html_is_text() {
        let out = render("<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)>");
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<img"), "{out}");
        assert!(
            out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{out}"
        );
    }

    #[test]
    fn unsafe_links_become_text() {
        for bad in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](data:text/html,hi)",
            "![x](javascript:alert(1))",
            "<javascript:alert(1)>",
            "[x](//evil.example/)",
        ] {
            let out = render(bad);
            assert!(!out.contains("href"), "{bad}: {out}");
        }
        assert!(
            render("[x](/organizations/a/issues/)").contains("href=\"/organizations/a/issues/\"")
        );
        assert!(render("<https://example.org>").contains("href=\"https://example.org\""));
        assert!(render("![img](https://example.org/i.png)").contains("<a href"));
    }
}
