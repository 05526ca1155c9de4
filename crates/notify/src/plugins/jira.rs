//! `jira` (issue tracking): creates Jira issues and links existing ones, over Jira's REST API
//! version 2 or 3 with basic authentication (the user's e-mail and an API token).
//!
//! * `create_ticket`: `POST {instance}/rest/api/{v}/issue` with the project key, issue type,
//!   summary (the title, at most 255 characters) and description (the caller's text followed by
//!   a link to the Errhound issue: plain text in v2, an Atlassian Document in v3); Jira answers
//!   201 with the new key.
//! * `find_ticket`: `GET {instance}/rest/api/{v}/issue/{key}?fields=summary`, to link an
//!   existing issue.
//! * 401 says the user or token is wrong, 403 that the user may not, 404 that there is no such
//!   issue (or project) the user may see, 400 carries Jira's own messages; none is retried.
//!   The ticket's page is `{instance}/browse/{key}`.

use errhound_domain::plugin::{
    BoxFuture, IssueTrackingPlugin, Notification, PluginDescription, PluginError, PluginKind,
    SettingErrors, SettingKind, SettingSpec, SettingValues, Ticket,
};
use serde_json::{Value, json};

use super::{VERSION, required, truncate};
use crate::http::{HttpClient, Request, Response};

/// The plugin's id.
pub const ID: &str = "jira";

/// The Jira plugin.
#[derive(Debug, Clone)]
pub struct JiraPlugin {
    http: HttpClient,
    description: PluginDescription,
}

impl JiraPlugin {
    /// The plugin over the shared client.
    pub fn new(http: HttpClient) -> JiraPlugin {
        JiraPlugin {
            http,
            description: PluginDescription {
                id: ID.to_owned(),
                title: "Jira".to_owned(),
                version: VERSION.to_owned(),
                kind: PluginKind::IssueTracking,
                project_settings: vec![
                    SettingSpec::new(
                        "instance_url",
                        "Jira URL",
                        SettingKind::Url,
                        true,
                        "Your Jira, e.g. https://acme.atlassian.net.",
                    ),
                    SettingSpec::new(
                        "username",
                        "User",
                        SettingKind::Email,
                        true,
                        "The e-mail of the Jira account that creates issues.",
                    ),
                    SettingSpec::new(
                        "api_token",
                        "API token",
                        SettingKind::Secret,
                        true,
                        "An API token of that account (stored encrypted).",
                    ),
                    SettingSpec::new(
                        "project_key",
                        "Project key",
                        SettingKind::Text,
                        true,
                        "The Jira project new issues go to, e.g. OPS.",
                    ),
                    SettingSpec::new(
                        "issue_type",
                        "Issue type",
                        SettingKind::Text,
                        false,
                        "Default Bug.",
                    ),
                    SettingSpec::new(
                        "api_version",
                        "REST API version",
                        SettingKind::Choice(vec!["2".to_owned(), "3".to_owned()]),
                        false,
                        "3 for Jira Cloud's current API; 2 (the default) for Jira Server and Data Center.",
                    ),
                ],
                user_settings: vec![],
            },
        }
    }
}

/// Whether `key` is a Jira project key (`OPS`, `WEB2`).
fn is_project_key(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Whether `key` is a Jira issue key (`OPS-12`).
pub fn is_issue_key(key: &str) -> bool {
    match key.rsplit_once('-') {
        Some((project, number)) => {
            is_project_key(project)
                && !number.is_empty()
                && number.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// The settings a request needs.
struct Site<'a> {
    base: String,
    user: &'a str,
    token: &'a str,
    version: &'a str,
}

impl<'a> Site<'a> {
    fn from(settings: &'a SettingValues) -> Result<Site<'a>, PluginError> {
        Ok(Site {
            base: required(settings, "instance_url", ID)?
                .trim_end_matches('/')
                .to_owned(),
            user: required(settings, "username", ID)?,
            token: required(settings, "api_token", ID)?,
            version: match settings.text("api_version") {
                Some("3") => "3",
                _ => "2",
            },
        })
    }

    fn api(&self, path: &str) -> String {
        format!("{}/rest/api/{}/{path}", self.base, self.version)
    }

    fn browse(&self, key: &str) -> String {
        format!("{}/browse/{key}", self.base)
    }
}

/// The error of a Jira answer that is not a success.
fn jira_error(response: &Response, user: &str, what: &str) -> PluginError {
    let detail = match response.status {
        401 => format!(
            "Jira refused the user {user} and API token (401): check both in the plugin settings"
        ),
        403 => format!("Jira does not let {user} {what} (403)"),
        404 => format!("Jira has no {what} that {user} may see (404)"),
        _ => {
            let mut messages: Vec<String> = Vec::new();
            if let Some(body) = response.json() {
                if let Some(list) = body["errorMessages"].as_array() {
                    messages.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
                }
                if let Some(fields) = body["errors"].as_object() {
                    messages.extend(
                        fields
                            .iter()
                            .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default())),
                    );
                }
            }
            if messages.is_empty() {
                return response.refusal("Jira");
            }
            format!("Jira answered {}: {}", response.status, messages.join("; "))
        }
    };
    let retry = response.status == 429 || response.status >= 500;
    PluginError::Refused { detail, retry }
}

/// The description in Atlassian Document Format (API v3): one paragraph per paragraph of
/// `text`, then a link to the issue.
pub fn adf(text: &str, link_text: &str, url: &str) -> Value {
    let mut content: Vec<Value> = text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|paragraph| {
            let mut inline = Vec::new();
            for (i, line) in paragraph.lines().enumerate() {
                if i > 0 {
                    inline.push(json!({"type": "hardBreak"}));
                }
                if !line.is_empty() {
                    inline.push(json!({"type": "text", "text": line}));
                }
            }
            json!({"type": "paragraph", "content": inline})
        })
        .collect();
    content.push(json!({"type": "paragraph", "content": [{
        "type": "text",
        "text": link_text,
        "marks": [{"type": "link", "attrs": {"href": url}}],
    }]}));
    json!({"type": "doc", "version": 1, "content": content})
}

impl IssueTrackingPlugin for JiraPlugin {
    fn describe(&self) -> &PluginDescription {
        &self.description
    }

    fn validate<'a>(
        &'a self,
        settings: &'a SettingValues,
    ) -> BoxFuture<'a, Result<SettingErrors, PluginError>> {
        let mut errors = SettingErrors::default();
        if let Some(key) = settings.text("project_key")
            && !is_project_key(key)
        {
            errors.0.insert(
                "project_key".to_owned(),
                "Must be a Jira project key: capital letters, digits and _, like OPS.".to_owned(),
            );
        }
        Box::pin(std::future::ready(Ok(errors)))
    }

    fn create_ticket<'a>(
        &'a self,
        issue: &'a Notification,
        settings: &'a SettingValues,
        title: &'a str,
        description: &'a str,
    ) -> BoxFuture<'a, Result<Ticket, PluginError>> {
        Box::pin(async move {
            let site = Site::from(settings)?;
            let project_key = required(settings, "project_key", ID)?;
            let issue_type = settings.text("issue_type").unwrap_or("Bug");
            let (link_text, url) = match issue.issues.first() {
                Some(i) => (format!("Errhound issue {}", i.short_id), i.url.clone()),
                None => (String::new(), String::new()),
            };
            let description = if site.version == "3" {
                adf(description, &link_text, &url)
            } else {
                Value::String(format!("{description}\n\n[{link_text}|{url}]"))
            };
            let body = json!({"fields": {
                "project": {"key": project_key},
                "issuetype": {"name": issue_type},
                "summary": truncate(&title.replace(['\r', '\n'], " "), 255),
                "description": description,
            }});
            let api = site.api("issue");
            let mut request = Request::post_json(&api, body.to_string().into_bytes())
                .header("Accept", "application/json");
            request.basic_auth = Some((site.user, site.token));
            let response = self.http.send(request).await?;
            if !response.is_success() {
                return Err(jira_error(
                    &response,
                    site.user,
                    &format!("project {project_key} to create issues in"),
                ));
            }
            let key = response
                .json()
                .and_then(|b| b["key"].as_str().map(str::to_owned))
                .filter(|k| is_issue_key(k))
                .ok_or_else(|| PluginError::Refused {
                    detail: format!("Jira answered {} without an issue key", response.status),
                    retry: false,
                })?;
            Ok(Ticket {
                url: site.browse(&key),
                key,
            })
        })
    }

    fn find_ticket<'a>(
        &'a self,
        settings: &'a SettingValues,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Ticket, PluginError>> {
        Box::pin(async move {
            let site = Site::from(settings)?;
            let key = key.trim().to_ascii_uppercase();
            if !is_issue_key(&key) {
                return Err(PluginError::Refused {
                    detail: format!("{key:?} is not a Jira issue key like OPS-12"),
                    retry: false,
                });
            }
            let api = site.api(&format!("issue/{key}?fields=summary"));
            let mut request = Request::get(&api).header("Accept", "application/json");
            request.basic_auth = Some((site.user, site.token));
            let response = self.http.send(request).await?;
            if !response.is_success() {
                return Err(jira_error(&response, site.user, &format!("issue {key}")));
            }
            let found = response
                .json()
                .and_then(|b| b["key"].as_str().map(str::to_owned))
                .unwrap_or(key);
            Ok(Ticket {
                url: site.browse(&found),
                key: found,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_before_they_reach_a_path() {
        assert!(is_issue_key("OPS-12") && is_issue_key("WEB_2-1"));
        for bad in ["OPS", "ops-1", "OPS-", "OPS-1/../x", "-1", "OPS-1a"] {
            assert!(!is_issue_key(bad), "{bad}");
        }
    }
}
