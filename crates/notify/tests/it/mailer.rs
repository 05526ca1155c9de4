//! The mailer against a real SMTP server on loopback (aiosmtpd, see `errhound_test_utils::smtp`).
//!
//! TLS: each sink's certificate comes from a CA of its own. A mailer given that CA
//! (`mail.ca_file`) delivers over STARTTLS, required by the sink, with AUTH, and over `smtps://`;
//! one that does not trust it, or trusts another sink's CA, fails verification.

use std::path::Path;

use errhound_config::{MailConfig, SecretUrl};
use errhound_notify::{Mail, MailError, Mailer};
use errhound_test_utils::smtp::MAIL_WAIT;
use errhound_test_utils::{SinkTls, SmtpSink, SmtpSinkOptions};

const FROM: &str = "Errhound <errhound@example.com>";

fn mailer(url: &str) -> Mailer {
    mailer_trusting(url, None)
}

/// A mailer that trusts the CA in `ca_file` besides the system's roots.
fn mailer_trusting(url: &str, ca_file: Option<&Path>) -> Mailer {
    Mailer::from_config(&MailConfig {
        url: Some(SecretUrl::new(url)),
        from: Some(FROM.to_owned()),
        ca_file: ca_file.map(Path::to_path_buf),
    })
    .unwrap()
    .expect("mail is configured")
}

fn mail(to: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "New issue: ZeroDivisionError".to_owned(),
        text: "division by zero\nin app.py".to_owned(),
        html: None,
    }
}

#[tokio::test]
async fn a_plain_text_mail_arrives_with_its_envelope_and_headers() {
    let Some(mut sink) = SmtpSink::start(SmtpSinkOptions::default()) else {
        return;
    };
    // smtp:// against a server that offers no STARTTLS: opportunistic TLS stays plain.
    let mailer = mailer(&sink.url("smtp"));
    mailer
        .send(&Mail {
            subject: "Régression: café ☕".to_owned(),
            ..mail("Dev Person <dev@example.com>")
        })
        .await
        .unwrap();
    let received = sink.next_mail(MAIL_WAIT).await;
    assert_eq!(received.mail_from, "errhound@example.com");
    assert_eq!(received.rcpt_tos, ["dev@example.com"]);
    assert_eq!(received.header("From"), Some(FROM));
    assert_eq!(received.header("To"), Some("Dev Person <dev@example.com>"));
    assert_eq!(received.header("Subject"), Some("Régression: café ☕"));
    assert!(received.header("Message-ID").is_some(), "{received:?}");
    assert!(received.header("Date").is_some(), "{received:?}");
    assert_eq!(received.content_type, "text/plain");
    assert_eq!(
        received.part("text/plain").map(str::trim_end),
        Some("division by zero\nin app.py")
    );
    assert_eq!((received.login.as_deref(), received.tls), (None, false));
}

#[tokio::test]
async fn an_html_mail_is_multipart_alternative_and_the_pool_is_reused() {
    let Some(mut sink) = SmtpSink::start(SmtpSinkOptions::default()) else {
        return;
    };
    let mailer = mailer(&sink.url("smtp+plain"));
    let html = "<p>division by <b>zero</b></p>";
    for to in ["a@example.com", "b@example.com"] {
        // A clone shares the pool.
        mailer
            .clone()
            .send(&Mail {
                html: Some(html.to_owned()),
                ..mail(to)
            })
            .await
            .unwrap();
    }
    for to in ["a@example.com", "b@example.com"] {
        let received = sink.next_mail(MAIL_WAIT).await;
        assert_eq!(received.rcpt_tos, [to]);
        assert_eq!(received.content_type, "multipart/alternative");
        let types: Vec<&str> = received
            .parts
            .iter()
            .map(|p| p.content_type.as_str())
            .collect();
        assert_eq!(types, ["text/plain", "text/html"]);
        assert_eq!(received.part("text/html").map(str::trim_end), Some(html));
    }
}

#[tokio::test]
async fn smtp_plain_logs_in_with_the_url_credentials() {
    let Some(mut sink) = SmtpSink::start(SmtpSinkOptions {
        user: Some(("bot".to_owned(), "s3cr:t@pw".to_owned())),
        ..SmtpSinkOptions::default()
    }) else {
        return;
    };
    // The password needs percent-encoding in the URL.
    let url = format!("smtp+plain://bot:s3cr%3At%40pw@127.0.0.1:{}", sink.port());
    mailer(&url).send(&mail("dev@example.com")).await.unwrap();
    let received = sink.next_mail(MAIL_WAIT).await;
    assert_eq!(received.login.as_deref(), Some("bot"));
    assert_eq!(received.rcpt_tos, ["dev@example.com"]);
}

#[tokio::test]
async fn a_wrong_password_or_none_is_an_auth_error_without_the_password() {
    let Some(sink) = SmtpSink::start(SmtpSinkOptions {
        user: Some(("bot".to_owned(), "right".to_owned())),
        ..SmtpSinkOptions::default()
    }) else {
        return;
    };
    let url = format!("smtp+plain://bot:hunter2@127.0.0.1:{}", sink.port());
    let err = mailer(&url)
        .send(&mail("dev@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Auth { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    assert!(!err.is_retryable());

    // No credentials for a server that requires a login: refused at MAIL FROM with 530.
    let url = format!("smtp+plain://127.0.0.1:{}", sink.port());
    let err = mailer(&url)
        .send(&mail("dev@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Auth { .. }), "{err:?}");
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn a_rejected_recipient_is_named_and_permanent() {
    let Some(mut sink) = SmtpSink::start(SmtpSinkOptions {
        reject: vec!["gone@example.com".to_owned()],
        ..SmtpSinkOptions::default()
    }) else {
        return;
    };
    let mailer = mailer(&sink.url("smtp+plain"));
    let err = mailer.send(&mail("gone@example.com")).await.unwrap_err();
    match &err {
        MailError::Rejected {
            to,
            detail,
            permanent,
            ..
        } => {
            assert_eq!(to, "gone@example.com");
            assert!(detail.contains("550"), "{detail}");
            assert!(*permanent);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(!err.is_retryable());
    // The pooled connection is still good for the next mail.
    mailer.send(&mail("dev@example.com")).await.unwrap();
    assert_eq!(
        sink.next_mail(MAIL_WAIT).await.rcpt_tos,
        ["dev@example.com"]
    );
}

#[tokio::test]
async fn nothing_listening_is_a_connection_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    // The listener is closed again: connecting is refused at once.
    let err = mailer(&format!("smtp+plain://u:hunter2@127.0.0.1:{port}"))
        .send(&mail("dev@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Connection { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("smtp+plain://127.0.0.1:{port}")),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn required_starttls_with_auth_delivers_when_the_ca_is_trusted() {
    let Some(mut sink) = SmtpSink::start(SmtpSinkOptions {
        user: Some(("bot".to_owned(), "s3cret".to_owned())),
        tls: Some(SinkTls::RequiredStartTls),
        ..SmtpSinkOptions::default()
    }) else {
        return;
    };
    let mailer = mailer_trusting(&sink.url("smtp"), sink.ca_file());
    for to in ["a@example.com", "b@example.com"] {
        mailer.send(&mail(to)).await.unwrap();
    }
    for to in ["a@example.com", "b@example.com"] {
        let received = sink.next_mail(MAIL_WAIT).await;
        assert_eq!(received.rcpt_tos, [to]);
        assert_eq!(
            (received.login.as_deref(), received.tls),
            (Some("bot"), true)
        );
        assert_eq!(
            received.part("text/plain").map(str::trim_end),
            Some("division by zero\nin app.py")
        );
    }
}

#[tokio::test]
async fn smtps_delivers_when_the_ca_is_trusted() {
    let Some(mut sink) = SmtpSink::start(SmtpSinkOptions {
        user: Some(("bot".to_owned(), "s3cret".to_owned())),
        tls: Some(SinkTls::Implicit),
        ..SmtpSinkOptions::default()
    }) else {
        return;
    };
    mailer_trusting(&sink.url("smtps"), sink.ca_file())
        .send(&mail("dev@example.com"))
        .await
        .unwrap();
    let received = sink.next_mail(MAIL_WAIT).await;
    assert_eq!(
        (received.login.as_deref(), received.tls),
        (Some("bot"), true)
    );
}

#[tokio::test]
async fn smtps_and_starttls_verify_the_certificate() {
    // The CA of another sink: trusting some CA is not trusting every certificate.
    let Some(other) = SmtpSink::start(SmtpSinkOptions {
        tls: Some(SinkTls::StartTls),
        ..SmtpSinkOptions::default()
    }) else {
        return;
    };
    for (tls, scheme) in [
        (SinkTls::Implicit, "smtps"),
        (SinkTls::StartTls, "smtp"),
        (SinkTls::RequiredStartTls, "smtp"),
    ] {
        let Some(sink) = SmtpSink::start(SmtpSinkOptions {
            tls: Some(tls),
            ..SmtpSinkOptions::default()
        }) else {
            return;
        };
        for trusted in [None, other.ca_file()] {
            let err = mailer_trusting(&sink.url(scheme), trusted)
                .send(&mail("dev@example.com"))
                .await
                .unwrap_err();
            assert!(
                matches!(err, MailError::Tls { .. }),
                "{tls:?}, trusting {trusted:?}: {err:?}"
            );
        }
        assert_eq!(sink.count(), 0, "{tls:?}");
    }
}

#[tokio::test]
async fn smtp_plain_is_refused_where_starttls_is_required() {
    let Some(sink) = SmtpSink::start(SmtpSinkOptions {
        tls: Some(SinkTls::RequiredStartTls),
        ..SmtpSinkOptions::default()
    }) else {
        return;
    };
    let result = mailer(&sink.url("smtp+plain"))
        .send(&mail("dev@example.com"))
        .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn smtp_plain_never_upgrades_even_when_starttls_is_offered() {
    let Some(mut sink) = SmtpSink::start(SmtpSinkOptions {
        tls: Some(SinkTls::StartTls),
        ..SmtpSinkOptions::default()
    }) else {
        return;
    };
    mailer(&sink.url("smtp+plain"))
        .send(&mail("dev@example.com"))
        .await
        .unwrap();
    assert!(!sink.next_mail(MAIL_WAIT).await.tls);
}

#[tokio::test]
async fn line_breaks_in_the_subject_cannot_add_headers() {
    let Some(mut sink) = SmtpSink::start(SmtpSinkOptions::default()) else {
        return;
    };
    // Subjects come from event data, which anyone with a DSN controls.
    mailer(&sink.url("smtp+plain"))
        .send(&Mail {
            subject: "boom\r\nBcc: evil@example.com\r\n\r\nbody".to_owned(),
            ..mail("dev@example.com")
        })
        .await
        .unwrap();
    let received = sink.next_mail(MAIL_WAIT).await;
    assert_eq!(received.rcpt_tos, ["dev@example.com"]);
    assert_eq!(received.header("Bcc"), None, "{received:?}");
    let subject = received.header("Subject").unwrap_or_default();
    assert!(subject.starts_with("boom"), "{subject:?}");
    assert_eq!(
        received.part("text/plain").map(str::trim_end),
        Some("division by zero\nin app.py")
    );
}
