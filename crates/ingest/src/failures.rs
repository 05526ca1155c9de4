//! Events processing cannot store: each costs only itself, and none is lost silently.
//!
//! Processing runs per event under `catch_unwind`, so a panic (a bug) fails that event alone; an
//! event whose payload processing rejects, or whose rows the database refuses, fails alone too.
//! Every failure becomes a `processing_failures` row (written in the transaction of the event's
//! batch, so the batch's acknowledgement covers it), an error log with the event id, and a count
//! in [`EVENTS_FAILED`](crate::metrics_names::EVENTS_FAILED).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use errhound_domain::ProjectSettings;
use errhound_queue::QueuedEvent;
use errhound_store::ingest::NewEvent;
use errhound_store::processing_failures::{FailureReason, NewFailure};

use crate::dictionaries::DictionaryTrainer;
use crate::metrics_names as m;
use crate::pipeline::prepare_event;

/// Tests only: processing panics on a payload containing this marker, standing in for a bug in
/// the processing code. The check is compiled into this crate's unit tests and nowhere else.
#[cfg(test)]
pub(crate) const PANIC_MARKER: &str = "errhound-test-panics-here";

/// Prepares one event, turning a panic or a rejected payload into a recorded failure.
pub(crate) fn prepare_isolated(
    event: &QueuedEvent,
    trainer: &DictionaryTrainer,
    settings: &ProjectSettings,
) -> Result<NewEvent, NewFailure> {
    // Unwind safety: the event and the settings are only read; the trainer's sample buffer is
    // behind a mutex, whose poisoning it tolerates.
    let attempt = catch_unwind(AssertUnwindSafe(|| {
        #[cfg(test)]
        if event
            .payload
            .windows(PANIC_MARKER.len())
            .any(|w| w == PANIC_MARKER.as_bytes())
        {
            panic!("test panic while processing event {}", event.event_id);
        }
        prepare_event(event, trainer, settings)
    }));
    match attempt {
        Ok(Ok(prepared)) => Ok(prepared),
        Ok(Err(invalid)) => Err(failure(
            event,
            FailureReason::InvalidPayload,
            invalid.to_string(),
        )),
        Err(panic) => Err(failure(event, FailureReason::Panic, panic_message(&*panic))),
    }
}

/// A failure of `event`, logged and counted.
pub(crate) fn failure(event: &QueuedEvent, reason: FailureReason, detail: String) -> NewFailure {
    report(event.project_id, &event.event_id, reason, &detail);
    NewFailure {
        project_id: event.project_id,
        event_id: event.event_id.clone(),
        received_ms: event.received_ms,
        reason,
        detail,
        payload: event.payload.clone(),
    }
}

/// A prepared event the database refused; `payload` is its normalized JSON.
pub(crate) fn refused(event: &NewEvent, detail: String, payload: Vec<u8>) -> NewFailure {
    let reason = FailureReason::RefusedByDatabase;
    report(event.project_id, &event.event_id, reason, &detail);
    NewFailure {
        project_id: event.project_id,
        event_id: event.event_id.clone(),
        received_ms: event.received_ms,
        reason,
        detail,
        payload,
    }
}

fn report(project_id: i64, event_id: &str, reason: FailureReason, detail: &str) {
    tracing::error!(
        event.id = %event_id,
        project.id = project_id,
        reason = %reason,
        detail,
        "event cannot be processed; recorded as a processing failure"
    );
    metrics::counter!(m::EVENTS_FAILED, "reason" => reason.as_str()).increment(1);
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        format!("panic: {message}")
    } else if let Some(message) = panic.downcast_ref::<String>() {
        format!("panic: {message}")
    } else {
        "panic with a non-text payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use errhound_store::payload::PayloadDictionaries;

    use super::*;

    fn queued(id: u32, payload: &str) -> QueuedEvent {
        QueuedEvent {
            project_id: 7,
            event_id: format!("{id:032x}"),
            received_ms: 1_000,
            sent_at: None,
            client_ip: None,
            payload: payload.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_panic_and_a_rejected_payload_fail_their_event_alone() {
        let trainer = DictionaryTrainer::new(Arc::new(PayloadDictionaries::new()));
        let settings = ProjectSettings::default();
        let panics = queued(1, &format!(r#"{{"message":"{PANIC_MARKER}"}}"#));
        let failed = prepare_isolated(&panics, &trainer, &settings).unwrap_err();
        assert_eq!(failed.reason, FailureReason::Panic);
        assert_eq!(
            failed.detail,
            format!("panic: test panic while processing event {:032x}", 1)
        );
        assert_eq!(
            (failed.project_id, failed.event_id.as_str()),
            (7, panics.event_id.as_str())
        );
        assert_eq!(failed.payload, panics.payload, "the payload as received");

        let invalid = queued(2, "[1, 2");
        let failed = prepare_isolated(&invalid, &trainer, &settings).unwrap_err();
        assert_eq!(failed.reason, FailureReason::InvalidPayload);

        let fine = queued(3, r#"{"message":"all is well"}"#);
        let prepared = prepare_isolated(&fine, &trainer, &settings).unwrap();
        assert_eq!(prepared.event_id, fine.event_id);
    }
}
