//! The webhook, signed-chat, Slack and Discord plugins against real HTTP receivers on
//! 127.0.0.1 that check each signature, and the SSRF guard.

use std::time::Duration;

use errhound_domain::plugin::{NotificationPlugin, PluginError};
use errhound_notify::HttpClient;
use errhound_notify::plugins::{discord, signed_chat, slack, webhooks};
use errhound_notify::registry::Plugin;
use errhound_test_utils::{HttpReceiver, Verify};
use std::sync::Arc;

use crate::support::{ISSUE_URL, body, notification, recipient, settings};

const WAIT: Duration = Duration::from_secs(10);

/// A client that may reach 127.0.0.1, as the tests' receivers are there.
fn loopback_client() -> HttpClient {
    HttpClient::new(true).unwrap()
}

fn refused_for_good(err: &PluginError, status: &str) {
    assert!(
        matches!(err, PluginError::Refused { retry: false, detail } if detail.contains(status)),
        "{err:?}"
    );
}

#[tokio::test]
async fn webhooks_post_sentrys_payload_signed_and_a_wrong_secret_is_refused_for_good() {
    let mut receiver = HttpReceiver::start(Verify::BodyHmac {
        header: "Sentry-Hook-Signature".to_owned(),
        secret: "s3cret".to_owned(),
    })
    .await;
    let plugin = webhooks::WebhooksPlugin::new(loopback_client());
    let url = receiver.url("/hooks/errhound?team=ops");
    let good = settings(&[("urls", &format!("{url}\n")), ("secret", "s3cret")]);
    plugin
        .notify(&notification(&[42]), &good, &[], "delivery-1")
        .await
        .unwrap();
    let request = receiver.next(WAIT).await;
    assert!(request.verified);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/errhound?team=ops");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("idempotency-key"), Some("delivery-1"));
    assert_eq!(request.header("sentry-hook-resource"), Some("event_alert"));
    let payload = request.json();
    assert_eq!(payload["id"], "42");
    assert_eq!(payload["project"], "shop");
    assert_eq!(payload["project_slug"], "shop");
    assert_eq!(payload["project_name"], "Shop");
    assert_eq!(payload["level"], "error");
    assert_eq!(payload["logger"], "root");
    assert_eq!(payload["culprit"], "app.checkout in <total>");
    assert_eq!(payload["url"], ISSUE_URL);
    assert_eq!(payload["triggering_rules"][0], "New issue -> mail");
    assert!(
        payload["message"]
            .as_str()
            .unwrap()
            .starts_with("ZeroDivisionError")
    );
    assert_eq!(payload["event"]["event_id"], "a".repeat(32));
    assert_eq!(payload["event"]["tags"][0][0], "logger");

    // The receiver refuses a body signed with another secret: 401, not worth retrying.
    let wrong = settings(&[("urls", &url), ("secret", "guessed")]);
    let err = plugin
        .notify(&notification(&[42]), &wrong, &[], "delivery-2")
        .await
        .unwrap_err();
    refused_for_good(&err, "401");
    assert!(!receiver.next(WAIT).await.verified);

    // A receiver in trouble is retried later.
    receiver.answer(503);
    let err = plugin
        .notify(&notification(&[42]), &good, &[], "delivery-3")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn a_webhook_digest_posts_one_request_per_issue_to_every_url() {
    let secret = "digest-secret";
    let verify = || Verify::BodyHmac {
        header: "Sentry-Hook-Signature".to_owned(),
        secret: secret.to_owned(),
    };
    let mut first = HttpReceiver::start(verify()).await;
    let mut second = HttpReceiver::start(verify()).await;
    let plugin = webhooks::WebhooksPlugin::new(loopback_client());
    let urls = format!("{}\n\n{}", first.url("/a"), second.url("/b"));
    plugin
        .notify(
            &notification(&[1, 2, 3]),
            &settings(&[("urls", &urls), ("secret", secret)]),
            &[],
            "d",
        )
        .await
        .unwrap();
    for receiver in [&mut first, &mut second] {
        let mut ids = Vec::new();
        for _ in 0..3 {
            let request = receiver.next(WAIT).await;
            assert!(request.verified);
            ids.push(request.json()["id"].as_str().unwrap().to_owned());
            let key = request.header("idempotency-key").unwrap().to_owned();
            assert_eq!(key, format!("d.{}", ids.last().unwrap()));
        }
        assert_eq!(ids, ["1", "2", "3"]);
    }
}

#[tokio::test]
async fn the_ssrf_guard_refuses_loopback_unless_allowed() {
    let receiver = HttpReceiver::start(Verify::Nothing).await;
    let guarded = HttpClient::new(false).unwrap();
    let plugin = webhooks::WebhooksPlugin::new(guarded.clone());
    let port = receiver.url("").rsplit(':').next().unwrap().to_owned();
    for url in [
        receiver.url("/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
    ] {
        let err = plugin
            .notify(&notification(&[1]), &settings(&[("urls", &url)]), &[], "k")
            .await
            .unwrap_err();
        assert!(matches!(err, PluginError::Config(_)), "{url}: {err:?}");
        assert!(err.to_string().contains("allow_private_targets"), "{err}");
        assert!(!err.is_retryable());
    }
    // The same through Slack and Discord: one client guards every plugin.
    for plugin in [
        Arc::new(slack::SlackPlugin::new(guarded.clone())) as Arc<dyn NotificationPlugin>,
        Arc::new(discord::DiscordPlugin::new(guarded.clone())),
    ] {
        let err = plugin
            .notify(
                &notification(&[1]),
                &settings(&[("webhook", &receiver.url("/x"))]),
                &[],
                "k",
            )
            .await
            .unwrap_err();
        assert!(matches!(err, PluginError::Config(_)), "{err:?}");
    }
    assert!(receiver.requests().is_empty(), "nothing reached 127.0.0.1");
}

#[tokio::test]
async fn nothing_listening_is_retried_later() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let plugin = slack::SlackPlugin::new(loopback_client());
    let err = plugin
        .notify(
            &notification(&[1]),
            &settings(&[(
                "webhook",
                &format!("http://127.0.0.1:{port}/services/T/B/secret-path"),
            )]),
            &[],
            "k",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PluginError::Unreachable(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(
        !err.to_string().contains("secret-path"),
        "no URL path in messages: {err}"
    );
}

#[tokio::test]
async fn signed_chat_signs_every_request_and_sends_each_recipient_the_alert() {
    let names = ["X-Corp-Key", "X-Corp-Time", "X-Corp-Nonce", "X-Corp-Sign"].map(str::to_owned);
    let mut receiver = HttpReceiver::start(Verify::SignedChat {
        app_key: "app-1".to_owned(),
        secret: "chat-secret".to_owned(),
        headers: names.clone(),
    })
    .await;
    let plugin = signed_chat::SignedChatPlugin::new(loopback_client());
    let url = receiver.url("/open-api/message/send?v=2");
    let options = [
        ("url", url.as_str()),
        ("app_key", "app-1"),
        ("app_secret", "chat-secret"),
        ("key_header", "X-Corp-Key"),
        ("timestamp_header", "X-Corp-Time"),
        ("nonce_header", "X-Corp-Nonce"),
        ("signature_header", "X-Corp-Sign"),
    ];
    // The settings go through the plugin's own checks, as the API's PUT does.
    let configured = Plugin::Notification(Arc::new(plugin.clone()))
        .configure(&Default::default(), &body(&options))
        .await
        .unwrap();
    let recipients = [
        recipient(1, "alice@example.com", settings(&[])),
        recipient(
            2,
            "bob@example.com",
            settings(&[("handle", "bob.the.builder")]),
        ),
    ];
    plugin
        .notify(&notification(&[42]), &configured, &recipients, "delivery-9")
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let request = receiver.next(WAIT).await;
        assert!(request.verified, "{request:?}");
        assert_eq!(request.path, "/open-api/message/send?v=2");
        let body = request.json();
        assert_eq!(body["project"], "Shop");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("ZeroDivisionError")
        );
        assert_eq!(body["url"], ISSUE_URL);
        let text = body["text"].as_str().unwrap();
        assert!(
            text.contains("[Shop]") && text.contains(ISSUE_URL),
            "{text}"
        );
        seen.push((
            body["recipient"].as_str().unwrap().to_owned(),
            request.header("idempotency-key").unwrap().to_owned(),
        ));
    }
    assert_eq!(
        seen,
        [
            ("alice".to_owned(), "delivery-9.1".to_owned()),
            ("bob.the.builder".to_owned(), "delivery-9.2".to_owned())
        ]
    );

    // A wrong secret: the receiver refuses, and retrying would not help.
    let mut wrong = configured.clone();
    wrong.0.insert("app_secret".to_owned(), "not-it".into());
    let err = plugin
        .notify(
            &notification(&[42]),
            &wrong,
            &recipients[..1],
            "delivery-10",
        )
        .await
        .unwrap_err();
    refused_for_good(&err, "401");

    // A header name that is no header name is refused when configured.
    let err = Plugin::Notification(Arc::new(plugin))
        .configure(&configured, &body(&[("nonce_header", "X Nonce:")]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nonce_header"), "{err}");
}

#[tokio::test]
async fn signed_chat_uses_default_header_names() {
    let mut receiver = HttpReceiver::start(Verify::SignedChat {
        app_key: "k".to_owned(),
        secret: "s".to_owned(),
        headers: ["X-App-Key", "X-Timestamp", "X-Nonce", "X-Signature"].map(str::to_owned),
    })
    .await;
    let plugin = signed_chat::SignedChatPlugin::new(loopback_client());
    let url = receiver.url("/send");
    plugin
        .notify(
            &notification(&[1, 2]),
            &settings(&[("url", &url), ("app_key", "k"), ("app_secret", "s")]),
            &[recipient(5, "carol@example.com", settings(&[]))],
            "digest-1",
        )
        .await
        .unwrap();
    let request = receiver.next(WAIT).await;
    assert!(request.verified);
    let body = request.json();
    assert_eq!(body["message"], "2 new alerts from Shop");
    assert_eq!(body["issues"].as_array().unwrap().len(), 2);
    assert_eq!(request.header("idempotency-key"), Some("digest-1"));
}

#[tokio::test]
async fn slack_sends_blocks_with_its_markup_escaped() {
    let mut receiver = HttpReceiver::start(Verify::Nothing).await;
    let plugin = slack::SlackPlugin::new(loopback_client());
    let url = receiver.url("/services/T000/B000/XXXX");
    plugin
        .notify(
            &notification(&[42]),
            &settings(&[("webhook", &url)]),
            &[],
            "k1",
        )
        .await
        .unwrap();
    let message = receiver.next(WAIT).await.json();
    let section = message["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(section.starts_with(&format!("*<{ISSUE_URL}|")), "{section}");
    assert!(
        section.contains("&lt;b&gt;boom&lt;/b&gt; &amp; &lt;!channel&gt;"),
        "{section}"
    );
    assert!(!section.contains("<!channel>"), "{section}");
    assert!(message["text"].as_str().unwrap().contains("[Shop]"));

    // A digest is one message.
    plugin
        .notify(
            &notification(&[1, 2, 3]),
            &settings(&[("webhook", &url)]),
            &[],
            "k2",
        )
        .await
        .unwrap();
    let digest = receiver.next(WAIT).await.json();
    assert_eq!(
        digest["blocks"][0]["text"]["text"],
        "3 new alerts from Shop"
    );
    assert_eq!(digest["blocks"].as_array().unwrap().len(), 4);

    receiver.answer(429);
    let err = plugin
        .notify(
            &notification(&[1]),
            &settings(&[("webhook", &url)]),
            &[],
            "k3",
        )
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    receiver.answer(404);
    let err = plugin
        .notify(
            &notification(&[1]),
            &settings(&[("webhook", &url)]),
            &[],
            "k4",
        )
        .await
        .unwrap_err();
    refused_for_good(&err, "404");
}

#[tokio::test]
async fn discord_sends_embeds_that_ping_nobody() {
    let mut receiver = HttpReceiver::start(Verify::Nothing).await;
    receiver.answer(204);
    let plugin = discord::DiscordPlugin::new(loopback_client());
    let url = receiver.url("/api/webhooks/1/token");
    plugin
        .notify(
            &notification(&[42]),
            &settings(&[("webhook", &url)]),
            &[],
            "k",
        )
        .await
        .unwrap();
    let message = receiver.next(WAIT).await.json();
    assert_eq!(message["allowed_mentions"]["parse"], serde_json::json!([]));
    let embed = &message["embeds"][0];
    assert_eq!(embed["url"], ISSUE_URL);
    let title = embed["title"].as_str().unwrap();
    assert!(
        title.contains("\\<b\\>boom\\<") && title.contains("\\@everyone"),
        "{title}"
    );

    let ids: Vec<i64> = (1..=12).collect();
    plugin
        .notify(
            &notification(&ids),
            &settings(&[("webhook", &url)]),
            &[],
            "k2",
        )
        .await
        .unwrap();
    let digest = receiver.next(WAIT).await.json();
    assert_eq!(digest["embeds"].as_array().unwrap().len(), 10);
    assert!(
        digest["content"]
            .as_str()
            .unwrap()
            .contains("12 new alerts"),
        "{digest}"
    );
}
