//! The workflow fields of Sentry's issue JSON (`statusDetails`, `assignedTo`, `isBookmarked`,
//! `numComments`, `substatus`, and `activity` on the detail), filled into the `Value` that
//! `views::issue` renders, plus the JSON shapes of users, actors, activities and teams.
//!
//! Lists call [`decorate`] once per page (a handful of queries for the whole page); the detail
//! calls [`decorate_detail`].

use errhound_domain::{IssueStatus, OrgAccess, Substatus};
use errhound_store::activity::{self, Activity, UserRef};
use errhound_store::issues::Issue;
use errhound_store::teams::{OrgMember, Team};
use errhound_store::users::User;
use errhound_store::workflow::{self, Assignee, IssueState, ResolutionKind};
use errhound_store::{Conn, StoreError};
use serde_json::{Map, Value, json};

use super::views;

/// How many activities the issue detail and the activity endpoint show (Sentry: 100).
pub const ACTIVITY_LIMIT: i64 = 100;

/// A user as Sentry's `UserSerializer` shows them (the fields Errhound knows).
pub fn user_json(user: &UserRef) -> Value {
    json!({
        "id": user.id.to_string(),
        "name": user.name,
        "username": user.email,
        "email": user.email,
        "avatarUrl": null,
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": null},
        "emails": [{"id": user.id.to_string(), "email": user.email, "is_verified": true}],
    })
}

/// A [`User`] as a [`UserRef`].
pub fn user_ref(user: &User) -> UserRef {
    UserRef {
        id: user.id,
        email: user.email.clone(),
        name: user.name.clone(),
    }
}

/// An assignee as Sentry's `ActorSerializer` shows it (`assignedTo`).
pub fn actor_json(assignee: &Assignee) -> Value {
    match assignee {
        Assignee::User(user) => json!({
            "type": "user",
            "id": user.id.to_string(),
            "name": if user.name.is_empty() { &user.email } else { &user.name },
            "email": user.email,
        }),
        Assignee::Team { id, slug, .. } => json!({
            "type": "team",
            "id": id.to_string(),
            "name": slug,
        }),
    }
}

/// Sentry's `statusDetails` of an issue.
pub fn status_details(issue: &Issue, state: &IssueState) -> Value {
    let mut details = Map::new();
    let actor = |a: &Option<UserRef>| a.as_ref().map_or(Value::Null, user_json);
    if issue.status == IssueStatus::Resolved
        && let Some(resolution) = &state.resolution
    {
        match resolution.kind {
            ResolutionKind::InRelease => {
                details.insert("inRelease".into(), json!(resolution.version));
            }
            ResolutionKind::InNextRelease => {
                details.insert("inNextRelease".into(), json!(true));
            }
        }
        details.insert("actor".into(), actor(&resolution.actor));
    }
    if issue.status == IssueStatus::Ignored
        && let Some(snooze) = &state.snooze
    {
        if let Some(until) = snooze.until_ms {
            details.insert("ignoreUntil".into(), json!(views::date(until)));
        }
        for (key, value) in [
            ("ignoreCount", snooze.count),
            ("ignoreWindow", snooze.window_minutes),
            ("ignoreUserCount", snooze.user_count),
            ("ignoreUserWindow", snooze.user_window_minutes),
        ] {
            if let Some(value) = value {
                details.insert(key.into(), json!(value));
            }
        }
        details.insert("actor".into(), actor(&snooze.actor));
    }
    Value::Object(details)
}

/// Fills the workflow fields of one rendered issue.
pub fn apply(value: &mut Value, issue: &Issue, state: &IssueState) {
    value["status"] = json!(issue.status.as_str());
    value["substatus"] = json!(issue.substatus.map(Substatus::as_str));
    value["statusDetails"] = status_details(issue, state);
    value["assignedTo"] = state.assignee.as_ref().map_or(Value::Null, actor_json);
    value["isBookmarked"] = json!(state.bookmarked);
    value["numComments"] = json!(state.num_comments);
}

/// Fills the workflow fields of a page of rendered issues (`values[i]` renders `issues[i]`), as
/// seen by `viewer` (whose bookmarks count).
pub async fn decorate(
    conn: &mut Conn<'_>,
    viewer: &User,
    issues: &[Issue],
    values: &mut [Value],
) -> Result<(), StoreError> {
    let states = workflow::issue_states(conn, issues, Some(viewer.id)).await?;
    for (issue, value) in issues.iter().zip(values.iter_mut()) {
        if let Some(state) = states.get(&issue.id) {
            apply(value, issue, state);
        }
    }
    Ok(())
}

/// [`decorate`] for the issue detail, which also carries the activity timeline.
pub async fn decorate_detail(
    conn: &mut Conn<'_>,
    viewer: &User,
    issue: &Issue,
    value: &mut Value,
) -> Result<(), StoreError> {
    decorate(
        conn,
        viewer,
        std::slice::from_ref(issue),
        std::slice::from_mut(value),
    )
    .await?;
    let timeline = activity::timeline(conn, issue.id, ACTIVITY_LIMIT).await?;
    value["activity"] = Value::Array(timeline.iter().map(activity_json).collect());
    Ok(())
}

/// An activity as Sentry's `ActivitySerializer` shows it.
pub fn activity_json(activity: &Activity) -> Value {
    let mut data = activity.data.clone();
    // Sentry shows the other issue of an unmerge as an object.
    if let Some(object) = data.as_object_mut() {
        for (stored, shown) in [("destination_id", "destination"), ("source_id", "source")] {
            if let Some(id) = object.remove(stored) {
                object.insert(shown.to_owned(), json!({ "id": id }));
            }
        }
        object.remove("mentions");
    }
    json!({
        "id": activity.id.to_string(),
        "user": activity.user.as_ref().map_or(Value::Null, user_json),
        "sentry_app": null,
        "type": activity.kind,
        "data": data,
        "dateCreated": views::date(activity.created_at),
    })
}

/// A team as Sentry's `TeamSerializer` shows it; `is_member` tells whether the viewer belongs.
///
/// `access` is the caller's scopes in the organization (a token's narrowed), `hasAccess`
/// whether the caller reaches the team's projects (a member of it, or global access).
pub fn team_json(team: &Team, is_member: bool, access: &OrgAccess) -> Value {
    json!({
        "id": team.id.to_string(),
        "slug": team.slug,
        "name": team.name,
        "dateCreated": views::date(team.created_at),
        "isMember": is_member,
        "teamRole": if is_member { json!("contributor") } else { Value::Null },
        "flags": {"idp:provisioned": false},
        "access": access.scopes().names().collect::<Vec<_>>(),
        "hasAccess": is_member || access.is_global(),
        "isPending": false,
        "memberCount": team.member_count,
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": null},
    })
}

/// An organization member as Sentry's `OrganizationMemberSerializer` shows them.
pub fn member_json(member: &OrgMember) -> Value {
    let mut user = user_json(&member.user);
    user["isActive"] = json!(member.is_active);
    json!({
        "id": member.id.to_string(),
        "email": member.user.email,
        "name": if member.user.name.is_empty() { &member.user.email } else { &member.user.name },
        "user": user,
        "role": member.role.as_str(),
        "roleName": member.role.display_name(),
        "orgRole": member.role.as_str(),
        "pending": false,
        "expired": false,
        "flags": {"sso:linked": false, "sso:invalid": false, "member-limit:restricted": false},
        "dateCreated": views::date(member.created_at),
        "inviteStatus": "approved",
        "inviterName": null,
        "teams": member.teams,
        "teamRoles": member.teams.iter().map(|t| json!({"teamSlug": t, "role": null})).collect::<Vec<_>>(),
    })
}
