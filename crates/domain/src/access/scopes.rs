//! Scopes: the permissions a role grants and an API token can be limited to (Sentry's names,
//! `resource:level`), and sets of them.

use std::fmt;

/// One permission (Sentry's scope names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `org:read`: see the organization, its projects and teams.
    OrgRead,
    /// `org:write`: change the organization's settings.
    OrgWrite,
    /// `org:admin`: delete the organization.
    OrgAdmin,
    /// `org:ci`: what an organization token for CI may do (releases and their files).
    OrgCi,
    /// `project:read`.
    ProjectRead,
    /// `project:write`: change projects and their keys.
    ProjectWrite,
    /// `project:admin`: create and delete projects.
    ProjectAdmin,
    /// `project:releases`: create releases and upload their files.
    ProjectReleases,
    /// `team:read`.
    TeamRead,
    /// `team:write`: change teams and their members.
    TeamWrite,
    /// `team:admin`: create and delete teams.
    TeamAdmin,
    /// `member:read`.
    MemberRead,
    /// `member:write`: invite members and change their roles.
    MemberWrite,
    /// `member:admin`: remove members.
    MemberAdmin,
    /// `event:read`: see issues and events.
    EventRead,
    /// `event:write`: change issues (status, assignment, comments).
    EventWrite,
    /// `event:admin`: delete issues and events.
    EventAdmin,
    /// `alerts:read`.
    AlertsRead,
    /// `alerts:write`.
    AlertsWrite,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 19] = [
        Scope::OrgRead,
        Scope::OrgWrite,
        Scope::OrgAdmin,
        Scope::OrgCi,
        Scope::ProjectRead,
        Scope::ProjectWrite,
        Scope::ProjectAdmin,
        Scope::ProjectReleases,
        Scope::TeamRead,
        Scope::TeamWrite,
        Scope::TeamAdmin,
        Scope::MemberRead,
        Scope::MemberWrite,
        Scope::MemberAdmin,
        Scope::EventRead,
        Scope::EventWrite,
        Scope::EventAdmin,
        Scope::AlertsRead,
        Scope::AlertsWrite,
    ];

    /// Sentry's name, e.g. `event:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::OrgRead => "org:read",
            Scope::OrgWrite => "org:write",
            Scope::OrgAdmin => "org:admin",
            Scope::OrgCi => "org:ci",
            Scope::ProjectRead => "project:read",
            Scope::ProjectWrite => "project:write",
            Scope::ProjectAdmin => "project:admin",
            Scope::ProjectReleases => "project:releases",
            Scope::TeamRead => "team:read",
            Scope::TeamWrite => "team:write",
            Scope::TeamAdmin => "team:admin",
            Scope::MemberRead => "member:read",
            Scope::MemberWrite => "member:write",
            Scope::MemberAdmin => "member:admin",
            Scope::EventRead => "event:read",
            Scope::EventWrite => "event:write",
            Scope::EventAdmin => "event:admin",
            Scope::AlertsRead => "alerts:read",
            Scope::AlertsWrite => "alerts:write",
        }
    }

    /// The scope named `text`.
    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The scopes holding this one implies (Sentry's scope hierarchy: `admin` ⊃ `write` ⊃
    /// `read` within a resource; `project:write` includes releases; `org:ci` is what CI needs).
    const fn implied(self) -> &'static [Scope] {
        use Scope::*;
        match self {
            OrgWrite => &[OrgRead],
            OrgAdmin => &[OrgWrite, OrgRead],
            OrgCi => &[OrgRead, ProjectRead, ProjectReleases],
            ProjectWrite => &[ProjectRead, ProjectReleases],
            ProjectAdmin => &[ProjectWrite, ProjectRead, ProjectReleases],
            TeamWrite => &[TeamRead],
            TeamAdmin => &[TeamWrite, TeamRead],
            MemberWrite => &[MemberRead],
            MemberAdmin => &[MemberWrite, MemberRead],
            EventWrite => &[EventRead],
            EventAdmin => &[EventWrite, EventRead],
            AlertsWrite => &[AlertsRead],
            _ => &[],
        }
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of Sentry's scopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

/// A set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u32);

impl ScopeSet {
    /// No scope.
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// Every scope.
    pub fn all() -> ScopeSet {
        ScopeSet::of(&Scope::ALL)
    }

    /// Exactly these scopes.
    pub const fn of(scopes: &[Scope]) -> ScopeSet {
        let mut bits = 0;
        let mut i = 0;
        while i < scopes.len() {
            bits |= scopes[i].bit();
            i += 1;
        }
        ScopeSet(bits)
    }

    /// Parses names separated by commas and/or whitespace (`event:read, project:read`).
    pub fn parse_list(text: &str) -> Result<ScopeSet, UnknownScope> {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|name| !name.is_empty())
            .try_fold(ScopeSet::EMPTY, |set, name| {
                Scope::parse(name)
                    .map(|scope| set.with(scope))
                    .ok_or_else(|| UnknownScope(name.to_owned()))
            })
    }

    /// The stored form: names separated by single spaces, in [`Scope::ALL`] order.
    pub fn to_stored(self) -> String {
        self.names().collect::<Vec<_>>().join(" ")
    }

    /// This set plus `scope`.
    pub const fn with(self, scope: Scope) -> ScopeSet {
        ScopeSet(self.0 | scope.bit())
    }

    /// Whether `scope` is in the set (exactly; see [`ScopeSet::expanded`] for implied scopes).
    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The scopes in both sets.
    pub const fn intersection(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 & other.0)
    }

    /// The set with every implied scope added ([`Scope::implied`]).
    pub fn expanded(self) -> ScopeSet {
        self.iter().fold(self, |set, scope| {
            scope.implied().iter().fold(set, |set, &s| set.with(s))
        })
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes, in [`Scope::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The scopes' names, in [`Scope::ALL`] order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.iter().map(Scope::as_str)
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> ScopeSet {
        iter.into_iter().fold(ScopeSet::EMPTY, ScopeSet::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("event:delete"), None);
        let set = ScopeSet::parse_list("project:read,event:write  org:read").unwrap();
        assert_eq!(set.to_stored(), "org:read project:read event:write");
        assert_eq!(ScopeSet::parse_list(&set.to_stored()), Ok(set));
        assert_eq!(
            ScopeSet::parse_list("org:read,org:root"),
            Err(UnknownScope("org:root".into()))
        );
        assert_eq!(ScopeSet::parse_list(""), Ok(ScopeSet::EMPTY));
    }

    #[test]
    fn higher_levels_imply_lower_ones_but_not_the_reverse() {
        let admin = ScopeSet::of(&[Scope::EventAdmin]).expanded();
        assert!(admin.contains(Scope::EventWrite) && admin.contains(Scope::EventRead));
        let read = ScopeSet::of(&[Scope::EventRead]).expanded();
        assert!(!read.contains(Scope::EventWrite));
        let ci = ScopeSet::of(&[Scope::OrgCi]).expanded();
        assert!(ci.contains(Scope::ProjectReleases) && ci.contains(Scope::OrgRead));
        assert!(!ci.contains(Scope::EventRead) && !ci.contains(Scope::ProjectWrite));
        // Every scope a set implies is in the expansion of the set; expansion is idempotent.
        let all = ScopeSet::all();
        assert_eq!(all.expanded(), all);
        for scope in Scope::ALL {
            let one = ScopeSet::of(&[scope]).expanded();
            assert_eq!(one.expanded(), one);
        }
    }
}
