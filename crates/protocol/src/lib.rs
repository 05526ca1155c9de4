//! Sentry wire formats as the official SDKs speak them, with no I/O.
//!
//! Everything an ingest endpoint needs to turn an HTTP request into trusted, bounded data:
//! the DSN ([`dsn`]), the four ways a client authenticates ([`sentry_auth`]), request body decoding with
//! decompression limits ([`decode`]), envelope framing ([`envelope`]), the legacy `/store/` body
//! ([`store`]), event ids ([`EventId`]), timestamps ([`timestamp`]) and the rate-limit header
//! ([`rate_limits`]). `../shared/reference/protocol.md` describes the protocol these follow.
//!
//! Every parser here takes hostile input: it never panics, never allocates more than its limit,
//! and reports a typed error the web layer maps onto a status code.
#![warn(missing_docs)]

pub mod decode;
pub mod dsn;
pub mod envelope;
pub mod event;
mod event_id;
pub mod rate_limits;
pub mod sentry_auth;
pub mod store;
pub mod timestamp;

pub use event_id::{EventId, InvalidEventId};
