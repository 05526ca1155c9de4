//! Per-frame decisions made before hashing: stack trace rules (built-in, then the project's),
//! in-app detection, and for `errhound:2026-11` its Rust panic rule.
//!
//! Decisions are kept beside the event instead of being written into it at once, so that during
//! a config transition the secondary config decides on the event as the SDK sent it; the primary
//! config's in-app decisions are written into the event at the end ([`Prepared::write_in_app`]).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::platform::{FrameFields, trim_function_name};
use super::stack_rules::{
    Enhancements, ExceptionData, FrameDecision, InAppSource, MatchFrame, StackVars,
    apply_modifications, apply_updates,
};
use crate::value::values;

/// The decisions about one stack trace.
#[derive(Debug, Clone, Default)]
pub(crate) struct StackDecisions<'r> {
    pub frames: Vec<FrameDecision<'r>>,
    pub vars: StackVars<'r>,
}

impl<'r> StackDecisions<'r> {
    /// The frame's in-app flag after every decision (`None` = nobody knows, not in-app).
    pub fn in_app(&self, index: usize, frame: &Map<String, Value>) -> Option<bool> {
        match self.frames.get(index) {
            Some(decision) => decision.in_app,
            None => frame.get("in_app").and_then(Value::as_bool),
        }
    }

    pub fn decision(&self, index: usize) -> Option<&FrameDecision<'r>> {
        self.frames.get(index)
    }
}

/// Decisions for every stack trace of an event: exceptions, threads, then the top-level one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prepared<'r> {
    exceptions: Vec<StackDecisions<'r>>,
    threads: Vec<StackDecisions<'r>>,
    top: StackDecisions<'r>,
}

/// Which stack trace of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StackId {
    Exception(usize),
    Thread(usize),
    Top,
}

static EMPTY: StackDecisions<'static> = StackDecisions {
    frames: Vec::new(),
    vars: StackVars {
        max_frames: None,
        min_frames: None,
    },
};

impl<'r> Prepared<'r> {
    pub fn stack(&self, id: StackId) -> &StackDecisions<'r> {
        let found = match id {
            StackId::Exception(i) => self.exceptions.get(i),
            StackId::Thread(i) => self.threads.get(i),
            StackId::Top => Some(&self.top),
        };
        found.unwrap_or(&EMPTY)
    }

    /// Writes the in-app flags decided by rules and detection into the event's frames.
    pub fn write_in_app(&self, event: &mut Value) {
        let write = |stacktrace: Option<&mut Value>, decisions: &StackDecisions<'_>| {
            let Some(frames) = stacktrace
                .and_then(|s| s.get_mut("frames"))
                .and_then(Value::as_array_mut)
            else {
                return;
            };
            for (frame, decision) in frames.iter_mut().zip(&decisions.frames) {
                if decision.in_app_source == InAppSource::Sdk {
                    continue;
                }
                if let (Value::Object(frame), Some(in_app)) = (frame, decision.in_app)
                    && frame.get("in_app").and_then(Value::as_bool) != Some(in_app)
                {
                    frame.insert("in_app".to_owned(), Value::Bool(in_app));
                }
            }
        };
        for (key, stacks) in [("exception", &self.exceptions), ("threads", &self.threads)] {
            if let Some(list) = event
                .get_mut(key)
                .and_then(|c| c.get_mut("values"))
                .and_then(Value::as_array_mut)
            {
                for (item, decisions) in list.iter_mut().zip(stacks) {
                    write(item.get_mut("stacktrace"), decisions);
                }
            }
        }
        write(event.get_mut("stacktrace"), &self.top);
    }
}

/// What to apply.
pub(crate) struct Plan<'r> {
    /// Built-in rules, before the project's.
    pub builtin: Option<&'r Enhancements>,
    /// The project's rules.
    pub project: &'r Enhancements,
    /// Fill in unmarked frames by in-app detection.
    pub detect: bool,
    /// `errhound:2026-11`'s panic rule: frames from the panic entry on are not in-app.
    pub legacy_panic: bool,
}

/// Computes the decisions for every stack trace of a normalized event.
pub(crate) fn prepare<'r>(event: &Value, plan: &Plan<'r>) -> Prepared<'r> {
    let platform = event
        .get("platform")
        .and_then(Value::as_str)
        .unwrap_or("other");
    let exceptions = values(event.get("exception"))
        .iter()
        .map(|exception| {
            let mechanism = exception.get("mechanism");
            let data = ExceptionData {
                ty: exception.get("type").and_then(Value::as_str),
                value: exception.get("value").and_then(Value::as_str),
                mechanism: mechanism
                    .and_then(|m| m.get("type"))
                    .and_then(Value::as_str),
            };
            prepare_stack(exception.get("stacktrace"), platform, &data, plan)
        })
        .collect();
    let threads = values(event.get("threads"))
        .iter()
        .map(|thread| {
            prepare_stack(
                thread.get("stacktrace"),
                platform,
                &ExceptionData::default(),
                plan,
            )
        })
        .collect();
    let top = prepare_stack(
        event.get("stacktrace"),
        platform,
        &ExceptionData::default(),
        plan,
    );
    Prepared {
        exceptions,
        threads,
        top,
    }
}

fn prepare_stack<'r>(
    stacktrace: Option<&Value>,
    platform: &str,
    exception: &ExceptionData<'_>,
    plan: &Plan<'r>,
) -> StackDecisions<'r> {
    let Some(frames) = stacktrace
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
    else {
        return StackDecisions::default();
    };
    let empty = Map::new();
    let objects: Vec<&Map<String, Value>> = frames
        .iter()
        .map(|f| f.as_object().unwrap_or(&empty))
        .collect();
    let mut decisions: Vec<FrameDecision<'r>> = objects
        .iter()
        .map(|frame| FrameDecision {
            in_app: frame.get("in_app").and_then(Value::as_bool),
            in_app_source: InAppSource::Sdk,
            group: None,
        })
        .collect();
    if plan.legacy_panic
        && let Some(start) = super::legacy::panic_machinery_start(frames)
    {
        for decision in &mut decisions[start..] {
            decision.in_app = Some(false);
            decision.in_app_source = InAppSource::Builtin("the Rust panic machinery");
        }
    }
    let mut vars = StackVars::default();
    let has_rules = plan.builtin.is_some_and(|b| !b.is_empty()) || !plan.project.is_empty();
    if !has_rules && !plan.detect {
        return StackDecisions {
            frames: decisions,
            vars,
        };
    }
    let fields: Vec<FrameFields<'_>> = objects
        .iter()
        .map(|frame| FrameFields::read(frame, platform))
        .collect();
    let mut match_frames: Vec<MatchFrame<'_>> = Vec::new();
    let mut families = 0u8;
    if has_rules {
        match_frames = fields
            .iter()
            .zip(&objects)
            .zip(&decisions)
            .map(|((f, frame), decision)| {
                let function = f
                    .function
                    .or(f.raw_function)
                    .map_or(Cow::Borrowed("<unknown>"), |name| {
                        trim_function_name(name, f.platform)
                    });
                let category = frame
                    .get("data")
                    .and_then(|d| d.get("category"))
                    .and_then(Value::as_str);
                families |= f.family().bit();
                MatchFrame::new(
                    f.family(),
                    function,
                    f.module,
                    f.abs_path.or(f.filename),
                    f.package,
                    decision.in_app,
                    category,
                )
            })
            .collect();
        for rules in plan.builtin.into_iter().chain([plan.project]) {
            apply_modifications(
                rules.rules(),
                &mut match_frames,
                &mut decisions,
                exception,
                families,
            );
        }
    }
    if plan.detect {
        for (index, decision) in decisions.iter_mut().enumerate() {
            if decision.in_app.is_some() {
                continue;
            }
            if let Some((in_app, reason)) = crate::frames::detect(&fields[index]) {
                decision.in_app = Some(in_app);
                decision.in_app_source = InAppSource::Detection(reason);
                if let Some(frame) = match_frames.get_mut(index) {
                    frame.in_app = Some(in_app);
                }
            }
        }
    }
    if has_rules {
        for rules in plan.builtin.into_iter().chain([plan.project]) {
            apply_updates(
                rules.rules(),
                &match_frames,
                &mut decisions,
                &mut vars,
                exception,
                families,
            );
        }
    }
    StackDecisions {
        frames: decisions,
        vars,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rules_then_detection_then_write_back() {
        let project = Enhancements::parse("stack.module:vendorlib.* +app").unwrap();
        let mut event = json!({"platform": "python", "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
            {"module": "app.main", "abs_path": "/srv/app/main.py"},
            {"module": "vendorlib.core", "abs_path": "/srv/venv/lib/python3.12/site-packages/vendorlib/core.py"},
            {"module": "requests.api", "abs_path": "/srv/venv/lib/python3.12/site-packages/requests/api.py"},
            {"module": "app.view", "abs_path": "/srv/app/view.py", "in_app": false},
            {"module": "sentry_sdk.hub", "abs_path": "/srv/app/sentry_sdk/hub.py", "in_app": true}
        ]}}]}});
        let plan = Plan {
            builtin: Some(&super::super::stack_rules::BASE),
            project: &project,
            detect: true,
            legacy_panic: false,
        };
        let prepared = prepare(&event, &plan);
        let stack = prepared.stack(StackId::Exception(0));
        let in_app: Vec<Option<bool>> = stack.frames.iter().map(|d| d.in_app).collect();
        assert_eq!(
            in_app,
            vec![
                Some(true),
                Some(true),
                Some(false),
                Some(false),
                Some(false)
            ],
            "detection fills gaps, rules override the SDK, the SDK's explicit value stays"
        );
        assert!(stack.frames[4].group.is_some_and(|(flag, _)| !flag));
        prepared.write_in_app(&mut event);
        let frames = &event["exception"]["values"][0]["stacktrace"]["frames"];
        assert_eq!(frames[0]["in_app"], json!(true));
        assert_eq!(frames[2]["in_app"], json!(false));
        assert_eq!(frames[3]["in_app"], json!(false));
        assert_eq!(frames[4]["in_app"], json!(false));
    }
}
