//! Outbox job kinds: what the ingest batch writer records for alert rules and notifications to
//! act on, written in the same transaction as the batch (`jobs.kind`). The writer and the outbox
//! sender share this type, so a kind is spelled in one place.

use std::fmt;

/// The kind of an outbox job, each about one issue and the event that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// An event opened a new issue.
    IssueCreated,
    /// An event reopened a resolved issue (a regression).
    IssueRegressed,
    /// An event ended an ignore with a time limit (the issue is unresolved, `ongoing`).
    IssueUnignored,
    /// An event met an ignore's count condition (the issue is unresolved, `escalating`).
    IssueEscalating,
    /// A batch added events to an issue of a project whose rules count events or users in a
    /// window (recorded once per issue per batch, only for such projects).
    IssueSeen,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 5] = [
        JobKind::IssueCreated,
        JobKind::IssueRegressed,
        JobKind::IssueUnignored,
        JobKind::IssueEscalating,
        JobKind::IssueSeen,
    ];

    /// The stored name (`jobs.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::IssueCreated => "issue.created",
            JobKind::IssueRegressed => "issue.regressed",
            JobKind::IssueUnignored => "issue.unignored",
            JobKind::IssueEscalating => "issue.escalating",
            JobKind::IssueSeen => "issue.seen",
        }
    }

    /// The kind stored as `name`; `None` for a name this version does not know.
    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_stored_name() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("issue.deleted"), None);
    }
}
