//! The mail plugin through a real SMTP server on loopback that requires STARTTLS and a login,
//! with a certificate from its own CA, which the mailer is told to trust (`mail.ca_file`).

use errhound_config::{MailConfig, SecretUrl};
use errhound_domain::plugin::NotificationPlugin;
use errhound_notify::Mailer;
use errhound_notify::plugins::mail::MailPlugin;
use errhound_test_utils::smtp::MAIL_WAIT;
use errhound_test_utils::{SinkTls, SmtpSink, SmtpSinkOptions};

use crate::support::{ISSUE_URL, notification, recipient, settings};

#[tokio::test]
async fn one_mail_per_recipient_with_both_bodies_the_link_and_threading_headers() {
    let Some(mut sink) = SmtpSink::start(SmtpSinkOptions {
        user: Some(("bot".to_owned(), "pw".to_owned())),
        tls: Some(SinkTls::RequiredStartTls),
        ..SmtpSinkOptions::default()
    }) else {
        return;
    };
    let mailer = Mailer::from_config(&MailConfig {
        url: Some(SecretUrl::new(sink.url("smtp"))),
        from: Some("Errhound <errhound@example.com>".to_owned()),
        ca_file: sink.ca_file().map(ToOwned::to_owned),
    })
    .unwrap();
    let plugin = MailPlugin::new(mailer);
    let recipients = [
        recipient(1, "alice@example.com", settings(&[])),
        recipient(
            2,
            "bob@example.com",
            settings(&[("email", "bob-alerts@example.com")]),
        ),
    ];
    plugin
        .notify(&notification(&[42]), &settings(&[]), &recipients, "job-77")
        .await
        .unwrap();
    let mut threads = Vec::new();
    for (to, user) in [("alice@example.com", 1), ("bob-alerts@example.com", 2)] {
        let mail = sink.next_mail(MAIL_WAIT).await;
        assert_eq!((mail.login.as_deref(), mail.tls), (Some("bot"), true));
        assert_eq!(mail.rcpt_tos, [to]);
        assert_eq!(
            mail.header("Subject"),
            Some("[Shop] ERROR: ZeroDivisionError: <b>boom</b> & <!channel> @everyone #42")
        );
        assert_eq!(
            mail.header("List-Id"),
            Some("\"Shop\" <shop.acme.errhound.example.com>")
        );
        assert_eq!(
            mail.header("Message-ID").map(str::to_owned),
            Some(format!("<job-77.{user}@errhound.example.com>"))
        );
        assert_eq!(
            mail.header("In-Reply-To"),
            Some("<issue-42@errhound.example.com>")
        );
        assert_eq!(
            mail.header("References"),
            Some("<issue-42@errhound.example.com>")
        );
        assert_eq!(mail.header("Auto-Submitted"), Some("auto-generated"));
        threads.push(mail.header("References").unwrap().to_owned());

        let text = mail.part("text/plain").unwrap();
        for expected in [
            "ERROR: ZeroDivisionError: <b>boom</b>",
            "app.checkout in <total>",
            "New issue in project Shop, environment production, release shop@1.2.3. Seen 3 times.",
            "total in app/checkout.py:17",
            "browser = <script>alert(1)</script>",
            &format!("SHOP-42: {ISSUE_URL}"),
        ] {
            assert!(text.contains(expected), "{expected:?} in {text}");
        }
        let html = mail.part("text/html").unwrap();
        assert!(
            html.contains(&format!("<a href=\"{ISSUE_URL}\">")),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;boom&lt;/b&gt; &amp;"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            !html.contains("<script>") && !html.contains("<b>boom"),
            "{html}"
        );
        assert!(html.contains("total in app/checkout.py:17"), "{html}");
    }
    assert_eq!(threads[0], threads[1]);

    // A digest: one mail listing every issue, in no issue's thread.
    plugin
        .notify(
            &notification(&[1, 2, 3]),
            &settings(&[("subject_prefix", "[Prod]")]),
            &recipients[..1],
            "job-78",
        )
        .await
        .unwrap();
    let digest = sink.next_mail(MAIL_WAIT).await;
    assert_eq!(
        digest.header("Subject"),
        Some("[Prod] 3 new alerts from Shop")
    );
    assert_eq!(digest.header("In-Reply-To"), None);
    let text = digest.part("text/plain").unwrap();
    for id in 1..=3 {
        assert!(
            text.contains(&ISSUE_URL.replace("42", &id.to_string())),
            "{text}"
        );
    }
}

#[tokio::test]
async fn without_mail_configured_the_plugin_says_so() {
    let err = MailPlugin::new(None)
        .notify(
            &notification(&[1]),
            &settings(&[]),
            &[recipient(1, "a@example.com", settings(&[]))],
            "k",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("[mail]"), "{err}");
    assert!(!err.is_retryable());
}
