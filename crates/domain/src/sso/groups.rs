//! Team membership that follows the identity provider's groups: an owner maps IdP groups to
//! teams, and at each login the member joins the mapped teams of the groups they are in and
//! leaves the mapped teams of the groups they are no longer in. Teams no mapping names are
//! never touched, so teams managed by hand stay as they are.

use std::collections::BTreeSet;

/// One mapping: members of `group` at the provider belong to `team_id`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupMapping {
    /// The group's name as the provider sends it (compared exactly, after trimming).
    pub group: String,
    /// The team.
    pub team_id: i64,
}

/// The team changes a login makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamSync {
    /// Teams to join, ascending.
    pub join: Vec<i64>,
    /// Teams to leave, ascending.
    pub leave: Vec<i64>,
}

impl TeamSync {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.join.is_empty() && self.leave.is_empty()
    }
}

/// What a member in `groups`, now in the teams `current`, joins and leaves under `mappings`.
/// A team several groups map to is kept while any of them holds the member.
pub fn team_sync(
    mappings: &[GroupMapping],
    groups: &[String],
    current: &BTreeSet<i64>,
) -> TeamSync {
    let groups: BTreeSet<&str> = groups.iter().map(|g| g.trim()).collect();
    let managed: BTreeSet<i64> = mappings.iter().map(|m| m.team_id).collect();
    let wanted: BTreeSet<i64> = mappings
        .iter()
        .filter(|m| groups.contains(m.group.trim()))
        .map(|m| m.team_id)
        .collect();
    TeamSync {
        join: wanted.difference(current).copied().collect(),
        leave: managed
            .difference(&wanted)
            .filter(|team| current.contains(team))
            .copied()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mappings() -> Vec<GroupMapping> {
        [("eng", 10), ("oncall", 20), ("sre", 20)]
            .into_iter()
            .map(|(group, team_id)| GroupMapping {
                group: group.to_owned(),
                team_id,
            })
            .collect()
    }

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_member_joins_the_teams_of_their_groups_and_leaves_the_others_mapped() {
        // In eng, newly in sre; was in team 30 by hand, which no mapping names.
        let sync = team_sync(
            &mappings(),
            &groups(&["eng", " sre "]),
            &BTreeSet::from([10, 30]),
        );
        assert_eq!(
            sync,
            TeamSync {
                join: vec![20],
                leave: vec![]
            }
        );
        // Out of every group: leaves the mapped teams, keeps team 30.
        let sync = team_sync(
            &mappings(),
            &groups(&["marketing"]),
            &BTreeSet::from([10, 20, 30]),
        );
        assert_eq!(
            sync,
            TeamSync {
                join: vec![],
                leave: vec![10, 20]
            }
        );
    }

    #[test]
    fn a_team_two_groups_map_to_is_kept_while_either_holds() {
        let sync = team_sync(&mappings(), &groups(&["oncall"]), &BTreeSet::from([20]));
        assert!(sync.is_empty(), "{sync:?}");
        // Group names are exact: "Eng" is not "eng".
        let sync = team_sync(&mappings(), &groups(&["Eng"]), &BTreeSet::new());
        assert!(sync.is_empty(), "{sync:?}");
    }
}
