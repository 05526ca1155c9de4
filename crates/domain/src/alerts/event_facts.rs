//! What alerting reads from a stored (normalized) event: the values rule filters test and the
//! summary a notification shows. One reader for the evaluator, the preview and the notifier.

use serde_json::Value;

use super::rule::EventAttribute;
use crate::level::Level;
use crate::plugin::FrameSummary;

/// In-app frames a notification shows.
pub const MAX_FRAMES: usize = 5;

/// The parts of one event that alerting uses, owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFacts {
    /// The event's level.
    pub level: Option<Level>,
    /// Its environment.
    pub environment: Option<String>,
    /// Its release.
    pub release: Option<String>,
    /// Its tags, in order.
    pub tags: Vec<(String, String)>,
    /// The attributes [`EventAttribute`] filters read (a value per occurrence).
    pub attributes: Vec<(EventAttribute, String)>,
    /// The top in-app frames of the exception raised last, innermost first (all frames when
    /// none is in-app).
    pub frames: Vec<FrameSummary>,
}

fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl EventFacts {
    /// Reads a normalized event.
    pub fn from_event(event: &Value) -> EventFacts {
        let mut attributes = Vec::new();
        let mut push = |attribute: EventAttribute, value: Option<String>| {
            if let Some(value) = value {
                attributes.push((attribute, value));
            }
        };
        let message = text(event.pointer("/logentry/formatted"))
            .or_else(|| text(event.pointer("/logentry/message")))
            .or_else(|| text(event.get("message")));
        push(EventAttribute::Message, message);
        push(EventAttribute::Platform, text(event.get("platform")));
        let exceptions = event
            .pointer("/exception/values")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for exception in exceptions {
            push(EventAttribute::ExceptionType, text(exception.get("type")));
            push(EventAttribute::ExceptionValue, text(exception.get("value")));
        }
        let user_id = event.pointer("/user/id").and_then(|v| match v {
            Value::Number(n) => Some(n.to_string()),
            other => text(Some(other)),
        });
        push(EventAttribute::UserId, user_id);
        push(
            EventAttribute::UserEmail,
            text(event.pointer("/user/email")),
        );
        push(EventAttribute::SdkName, text(event.pointer("/sdk/name")));
        push(
            EventAttribute::HttpMethod,
            text(event.pointer("/request/method")),
        );
        push(EventAttribute::HttpUrl, text(event.pointer("/request/url")));

        let tags = event
            .get("tags")
            .and_then(Value::as_array)
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|pair| {
                        let pair = pair.as_array()?;
                        Some((
                            pair.first()?.as_str()?.to_owned(),
                            pair.get(1)?.as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        EventFacts {
            level: event.get("level").and_then(Level::parse),
            environment: text(event.get("environment")),
            release: text(event.get("release")),
            tags,
            attributes,
            frames: exceptions.last().map(top_frames).unwrap_or_default(),
        }
    }
}

fn top_frames(exception: &Value) -> Vec<FrameSummary> {
    let frames = exception
        .pointer("/stacktrace/frames")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let in_app = |frame: &&Value| frame.get("in_app").and_then(Value::as_bool) == Some(true);
    let any_in_app = frames.iter().any(|f| in_app(&f));
    frames
        .iter()
        .rev()
        .filter(|f| !any_in_app || in_app(f))
        .take(MAX_FRAMES)
        .map(|frame| FrameSummary {
            function: text(frame.get("function")),
            filename: text(frame.get("filename")).or_else(|| text(frame.get("module"))),
            lineno: frame.get("lineno").and_then(Value::as_u64),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_what_filters_test_and_notifications_show() {
        let event = json!({
            "level": "error",
            "platform": "python",
            "environment": "production",
            "release": "shop@2.0",
            "logentry": {"formatted": "checkout failed"},
            "tags": [["browser", "Chrome 120"], ["level", "error"], ["bad"]],
            "user": {"id": 42, "email": "ana@example.com"},
            "sdk": {"name": "sentry.python"},
            "request": {"method": "POST", "url": "https://shop.example/checkout"},
            "exception": {"values": [
                {"type": "KeyError", "value": "'cart'"},
                {"type": "ValueError", "value": "bad total", "stacktrace": {"frames": [
                    {"function": "handler", "module": "django.core", "in_app": false},
                    {"function": "checkout", "filename": "shop/views.py", "lineno": 10, "in_app": true},
                    {"function": "total", "filename": "shop/cart.py", "lineno": 3, "in_app": true},
                ]}},
            ]},
        });
        let facts = EventFacts::from_event(&event);
        assert_eq!(facts.level, Some(Level::Error));
        assert_eq!(facts.environment.as_deref(), Some("production"));
        assert_eq!(facts.release.as_deref(), Some("shop@2.0"));
        assert_eq!(
            facts.tags,
            vec![
                ("browser".to_owned(), "Chrome 120".to_owned()),
                ("level".to_owned(), "error".to_owned())
            ]
        );
        let values = |a: EventAttribute| -> Vec<&str> {
            facts
                .attributes
                .iter()
                .filter(|(x, _)| *x == a)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(values(EventAttribute::Message), ["checkout failed"]);
        assert_eq!(
            values(EventAttribute::ExceptionType),
            ["KeyError", "ValueError"]
        );
        assert_eq!(values(EventAttribute::UserId), ["42"]);
        assert_eq!(values(EventAttribute::HttpMethod), ["POST"]);
        let functions: Vec<_> = facts
            .frames
            .iter()
            .map(|f| f.function.as_deref().unwrap_or("?"))
            .collect();
        assert_eq!(
            functions,
            ["total", "checkout"],
            "in-app only, innermost first"
        );
        assert_eq!(facts.frames[0].lineno, Some(3));
    }

    #[test]
    fn an_event_without_in_app_frames_shows_its_innermost_frames() {
        let frames: Vec<Value> = (0..8)
            .map(|i| json!({"function": format!("f{i}"), "filename": "lib.py"}))
            .collect();
        let event =
            json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]}});
        let facts = EventFacts::from_event(&event);
        assert_eq!(facts.frames.len(), MAX_FRAMES);
        assert_eq!(facts.frames[0].function.as_deref(), Some("f7"));
        assert_eq!(
            EventFacts::from_event(&json!("not an object")),
            EventFacts::default()
        );
    }
}
