//! Pure rules about error events, with no I/O: how an SDK payload is normalized
//! ([`normalize`]), how it is grouped into an issue ([`grouping`]), and what an issue is called
//! ([`metadata`]). The ingest worker runs these per event; the store only persists their output.
#![warn(missing_docs)]

pub mod access;
pub mod alerts;
pub mod audit;
pub mod frames;
pub mod grouping;
pub mod issue_status;
pub mod jobs;
pub mod level;
pub mod metadata;
pub mod normalize;
pub mod plugin;
pub mod process;
pub mod rate_limit;
pub mod scrub;
pub mod search;
pub mod settings;
pub mod short_id;
pub mod slug;
pub mod sso;
pub mod tags;
pub mod time;
pub mod trim;
pub mod user_agent;
mod value;

pub use access::{Membership, OrgAccess, Role, Scope, ScopeSet};
pub use audit::AuditAction;
pub use issue_status::{IssueStatus, Substatus};
pub use jobs::JobKind;
pub use level::Level;
pub use process::{ProcessContext, ProcessedEvent, process_event};
pub use settings::ProjectSettings;
