//! The Jira plugin against a stand-in that follows Jira's REST API v2 and v3 shapes.

use errhound_domain::plugin::{IssueTrackingPlugin, PluginError};
use errhound_notify::HttpClient;
use errhound_notify::plugins::jira::JiraPlugin;
use errhound_test_utils::JiraStandIn;

use crate::support::{ISSUE_URL, notification, settings};

fn jira_settings(url: &str, token: &str, version: &str) -> errhound_domain::plugin::SettingValues {
    settings(&[
        ("instance_url", url),
        ("username", "bot@example.com"),
        ("api_token", token),
        ("project_key", "OPS"),
        ("api_version", version),
    ])
}

#[tokio::test]
async fn tickets_are_created_and_found_through_v2_and_v3() {
    let jira = JiraStandIn::start("bot@example.com", "tok-123", &["OPS"]).await;
    let plugin = JiraPlugin::new(HttpClient::new(true).unwrap());
    let base = format!("{}/", jira.url());

    let v2 = plugin
        .create_ticket(
            &notification(&[42]),
            &jira_settings(&base, "tok-123", "2"),
            "ZeroDivisionError\nin total",
            "It broke.",
        )
        .await
        .unwrap();
    assert_eq!(v2.key, "OPS-1");
    assert_eq!(v2.url, format!("{}/browse/OPS-1", jira.url()));
    let v3 = plugin
        .create_ticket(
            &notification(&[42]),
            &jira_settings(&base, "tok-123", "3"),
            "ZeroDivisionError",
            "First line.\n\nSecond.",
        )
        .await
        .unwrap();
    assert_eq!(v3.key, "OPS-2");

    let issues = jira.issues();
    assert_eq!(issues[0].version, "2");
    assert_eq!(issues[0].fields["summary"], "ZeroDivisionError in total");
    assert_eq!(issues[0].fields["issuetype"]["name"], "Bug");
    let description = issues[0].fields["description"].as_str().unwrap();
    assert!(
        description.starts_with("It broke.") && description.contains(ISSUE_URL),
        "{description}"
    );
    assert_eq!(issues[1].version, "3");
    let doc = &issues[1].fields["description"];
    assert_eq!(doc["type"], "doc");
    assert_eq!(doc["content"].as_array().unwrap().len(), 3, "{doc}");
    assert_eq!(
        doc["content"][2]["content"][0]["marks"][0]["attrs"]["href"],
        ISSUE_URL
    );

    let found = plugin
        .find_ticket(&jira_settings(&base, "tok-123", "3"), "ops-2")
        .await
        .unwrap();
    assert_eq!(
        (found.key.as_str(), found.url.as_str()),
        ("OPS-2", v3.url.as_str())
    );
}

#[tokio::test]
async fn jira_refusals_say_what_is_wrong_and_are_not_retried() {
    let jira = JiraStandIn::start("bot@example.com", "tok-123", &["OPS"]).await;
    let plugin = JiraPlugin::new(HttpClient::new(true).unwrap());
    let url = jira.url();

    let err = plugin
        .create_ticket(
            &notification(&[1]),
            &jira_settings(&url, "wrong", "2"),
            "t",
            "d",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::Refused { retry: false, detail } if detail.contains("401") && detail.contains("bot@example.com")),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains("wrong"),
        "no token in messages: {err}"
    );

    let err = plugin
        .find_ticket(&jira_settings(&url, "tok-123", "2"), "OPS-99")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::Refused { retry: false, detail } if detail.contains("OPS-99") && detail.contains("404")),
        "{err:?}"
    );

    let mut other_project = jira_settings(&url, "tok-123", "2");
    other_project.0.insert("project_key".into(), "NOPE".into());
    let err = plugin
        .create_ticket(&notification(&[1]), &other_project, "t", "d")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("project: valid project is required"),
        "{err}"
    );

    // Keys are checked before they reach a URL.
    let err = plugin
        .find_ticket(&jira_settings(&url, "tok-123", "2"), "OPS-1/../../admin")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a Jira issue key"), "{err}");
    assert!(jira.issues().is_empty());
}
