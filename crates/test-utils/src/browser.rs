//! A browser over raw HTTP for the login tests: it keeps every cookie it is given (the session
//! and single sign-on's binding cookie), sends them back, follows no redirects (the test follows
//! them, to see each hop), and says where a POST comes from with `Origin` as browsers do.

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};

/// A browser's cookies against one server.
pub struct Browser {
    client: reqwest::Client,
    /// The server, `http://127.0.0.1:<port>`.
    pub base: String,
    /// The cookies it holds, by name.
    pub cookies: HashMap<String, String>,
}

/// A response read completely.
#[derive(Debug)]
pub struct Page {
    /// The status.
    pub status: u16,
    /// The `Location` header, or empty.
    pub location: String,
    /// The body.
    pub body: String,
}

impl Browser {
    /// A browser without cookies, against `base`.
    pub fn new(base: &str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .expect("an HTTP client"),
            base: base.trim_end_matches('/').to_owned(),
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request
            .header(COOKIE, cookie)
            .send()
            .await
            .expect("a response");
        for set in response.headers().get_all(SET_COOKIE) {
            let text = set.to_str().unwrap_or("");
            let pair = text.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        read(response).await
    }

    /// `url` if absolute, else `path` on the server.
    fn target(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// A GET of `path` (or an absolute URL, e.g. a redirect's), with the cookies of this
    /// server: a browser does not send them elsewhere, and nor does this one.
    pub async fn get(&mut self, path: &str) -> Page {
        let url = self.target(path);
        if !url.starts_with(&self.base) {
            let response = self.client.get(url).send().await.expect("a response");
            return read(response).await;
        }
        let request = self.client.get(url);
        self.send(request).await
    }

    /// Logs in on the login form with a password; the answer (a 303 when it worked).
    pub async fn log_in(&mut self, email: &str, password: &str) -> Page {
        let page = self.get("/auth/login/").await;
        let csrf = field_of(&page.body, "csrf").unwrap_or_default();
        self.post(
            "/auth/login/",
            &[("csrf", &csrf), ("email", email), ("password", password)],
            None,
        )
        .await
    }

    /// Logs in as the test server's administrator (a superuser); fails unless it worked.
    pub async fn log_in_as_admin(&mut self) {
        let login = self
            .log_in(crate::server::ADMIN_EMAIL, crate::server::ADMIN_PASSWORD)
            .await;
        assert_eq!(
            login.status, 303,
            "the administrator's login: {}",
            login.body
        );
    }

    /// A form POST from `origin` (this server's own pages when `None`).
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        let origin = origin.map_or(self.base.clone(), str::to_owned);
        let request = self
            .client
            .post(self.target(path))
            .header(ORIGIN, origin)
            .form(form);
        self.send(request).await
    }
}

async fn read(response: reqwest::Response) -> Page {
    Page {
        status: response.status().as_u16(),
        location: response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        body: response.text().await.unwrap_or_default(),
    }
}

/// The value of the hidden field `name` in `html`.
pub fn field_of(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let at = html.find(&needle)? + needle.len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_owned())
}

/// Where a page that goes on by itself (`<meta http-equiv="refresh" content="0; url=...">`)
/// sends the browser, unescaped.
pub fn refresh_target(html: &str) -> Option<String> {
    let at = html.find("http-equiv=\"refresh\"")?;
    let rest = &html[at..];
    let url_at = rest.find("url=")? + 4;
    let end = rest[url_at..].find('"')?;
    Some(unescape(&rest[url_at..url_at + end]))
}

/// `text` with HTML's character references for `&`, `<`, `>`, `"` and `'` decoded (named, or
/// numeric as askama writes them).
pub fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}
