//! An issue's status and Sentry's substatus, as stored (`issues.status`, `issues.substatus`) and
//! shown in the API.

/// Whether an issue is open, fixed or silenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueStatus {
    /// Open.
    Unresolved,
    /// Resolved (possibly in a release).
    Resolved,
    /// Ignored (archived), forever or until a condition.
    Ignored,
}

impl IssueStatus {
    /// Every status.
    pub const ALL: [IssueStatus; 3] = [
        IssueStatus::Unresolved,
        IssueStatus::Resolved,
        IssueStatus::Ignored,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Unresolved => "unresolved",
            IssueStatus::Resolved => "resolved",
            IssueStatus::Ignored => "ignored",
        }
    }

    /// The status named `text`.
    pub fn parse(text: &str) -> Option<IssueStatus> {
        IssueStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Why an issue has its status (Sentry's substatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Substatus {
    /// Unresolved, first seen recently.
    New,
    /// Unresolved.
    Ongoing,
    /// Reopened by an event after being resolved.
    Regressed,
    /// Reopened because its ignore condition was met.
    Escalating,
    /// Ignored with conditions.
    UntilConditionMet,
    /// Ignored forever.
    Forever,
}

impl Substatus {
    /// Every substatus.
    pub const ALL: [Substatus; 6] = [
        Substatus::New,
        Substatus::Ongoing,
        Substatus::Regressed,
        Substatus::Escalating,
        Substatus::UntilConditionMet,
        Substatus::Forever,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Substatus::New => "new",
            Substatus::Ongoing => "ongoing",
            Substatus::Regressed => "regressed",
            Substatus::Escalating => "escalating",
            Substatus::UntilConditionMet => "archived_until_condition_met",
            Substatus::Forever => "archived_forever",
        }
    }

    /// The substatus named `text`.
    pub fn parse(text: &str) -> Option<Substatus> {
        Substatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for status in IssueStatus::ALL {
            assert_eq!(IssueStatus::parse(status.as_str()), Some(status));
        }
        for substatus in Substatus::ALL {
            assert_eq!(Substatus::parse(substatus.as_str()), Some(substatus));
        }
        assert_eq!(IssueStatus::parse("muted"), None);
        assert_eq!(Substatus::parse("archived_until_escalating"), None);
    }
}
