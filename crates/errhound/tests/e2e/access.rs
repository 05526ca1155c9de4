//! The authorization matrix: every API route, enumerated from the route table itself (so a route
//! added without a rule is walked too), called by each kind of caller (anonymous, the superuser,
//! tokens limited to each single scope, a member of the organization whose team owns one of two
//! projects, a member of another organization, an organization token), against the resources of
//! two organizations, must answer exactly what the caller is allowed: nothing of organization B
//! is reachable by a member of A, through any path (issue ids, short ids, event ids, DSN keys,
//! releases, the organization-wide issue list). On SQLite and PostgreSQL. Also `GET /api/0/`
//! and the scopes tokens carry.

use std::time::{Duration, Instant};

use errhound_domain::{Role, Scope, ScopeSet};
use errhound_store::Engine;
use errhound_test_utils::TestServer;
use errhound_test_utils::server::ADMIN_EMAIL;
use errhound_web::routes::{RouteRule, Rule};
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};

use crate::binary;

/// One project with an issue, as the matrix fills paths with it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) org: &'static str,
    pub(crate) project: &'static str,
    pub(crate) team: &'static str,
    pub(crate) issue_id: String,
    pub(crate) short_id: String,
    pub(crate) event_id: String,
}

/// Who calls.
#[derive(Debug, Clone)]
enum Who {
    Anonymous,
    /// The bootstrap admin: a superuser (and owner of `errhound`), with a token limited to
    /// these scopes.
    Superuser(ScopeSet),
    /// A member of `errhound` on team `errhound` only (so not of project `secret`), with a
    /// token limited to these scopes.
    Member(ScopeSet),
    /// A member of `borg` only.
    Outsider,
    /// An organization token of `errhound` with `org:ci`.
    OrgToken,
}

struct Caller {
    who: Who,
    token: Option<String>,
}

async fn send_event(server: &TestServer, org: &str, project: &str, message: &str) -> String {
    let (status, keys) = server
        .api_get(&format!("projects/{org}/{project}/keys/"))
        .await;
    assert_eq!(status, 200, "{keys}");
    let key = &keys[0];
    let event_id = format!("{:032x}", rand_id());
    let url = format!(
        "{}/api/{}/store/",
        server.base_url,
        key["projectId"].as_i64().unwrap()
    );
    let response = server
        .client()
        .post(url)
        .header(
            "X-Sentry-Auth",
            format!(
                "Sentry sentry_key={}, sentry_version=7",
                key["public"].as_str().unwrap()
            ),
        )
        .json(
            &json!({"event_id": event_id, "message": message, "platform": "python",
            "release": format!("{project}@1.0")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    event_id
}

fn rand_id() -> u128 {
    use std::hash::{BuildHasher, RandomState};
    let a = RandomState::new().hash_one(1u8) as u128;
    let b = RandomState::new().hash_one(2u8) as u128;
    (a << 64) | b
}

async fn wait_for_issue(server: &TestServer, org: &str, project: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, list) = server
            .api_get(&format!(
                "projects/{org}/{project}/issues/?query=&statsPeriod="
            ))
            .await;
        assert_eq!(status, 200, "{list}");
        if let Some(issue) = list.as_array().and_then(|l| l.first()) {
            return issue.clone();
        }
        assert!(Instant::now() < deadline, "no issue in {org}/{project}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post(server: &TestServer, path: &str, body: Value) -> Value {
    let (status, answer) = server.api_send(Method::POST, path, &body, None).await;
    assert_eq!(status, 201, "POST {path}: {answer}");
    answer
}

/// Organization `errhound` (closed membership) with projects `default` (team `errhound`) and
/// `secret` (team `vault`); organization `borg` with `bproj` (team `bteam`); an issue in each.
pub(crate) async fn world(server: &TestServer) -> Vec<Target> {
    let (status, org) = server
        .api_put("organizations/errhound/", &json!({"openMembership": false}))
        .await;
    assert_eq!(
        (status, &org["openMembership"]),
        (200, &json!(false)),
        "{org}"
    );
    post(
        server,
        "organizations/errhound/teams/",
        json!({"slug": "vault"}),
    )
    .await;
    post(
        server,
        "teams/errhound/vault/projects/",
        json!({"name": "Secret", "slug": "secret"}),
    )
    .await;
    post(
        server,
        "organizations/",
        json!({"name": "B Org", "slug": "borg"}),
    )
    .await;
    post(
        server,
        "organizations/borg/teams/",
        json!({"slug": "bteam"}),
    )
    .await;
    post(
        server,
        "teams/borg/bteam/projects/",
        json!({"name": "B", "slug": "bproj"}),
    )
    .await;
    let mut targets = Vec::new();
    for (org, project, team) in [
        ("errhound", "default", "errhound"),
        ("errhound", "secret", "vault"),
        ("borg", "bproj", "bteam"),
    ] {
        let event_id = send_event(server, org, project, &format!("boom in {project}")).await;
        let issue = wait_for_issue(server, org, project).await;
        targets.push(Target {
            org,
            project,
            team,
            issue_id: issue["id"].as_str().unwrap().to_owned(),
            short_id: issue["shortId"].as_str().unwrap().to_owned(),
            event_id,
        });
    }
    targets
}

/// Makes `email` a member of `errhound` on team `errhound`, returning their member id.
pub(crate) async fn join_team(server: &TestServer, email: &str) {
    let (status, members) = server.api_get("organizations/errhound/members/").await;
    assert_eq!(status, 200, "{members}");
    let id = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .expect("the member is listed");
    let (status, body) = server
        .api_send(
            Method::POST,
            &format!("organizations/errhound/members/{id}/teams/errhound/"),
            &json!({}),
            None,
        )
        .await;
    assert!(status == 201 || status == 204, "{status} {body}");
}

fn token_with(server: &TestServer, email: &str, scopes: ScopeSet) -> String {
    server
        .cli(&[
            "token",
            "create",
            "--email",
            email,
            "--scopes",
            &scopes.names().collect::<Vec<_>>().join(","),
        ])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

async fn callers(server: &TestServer) -> Vec<Caller> {
    server.create_member("member@a.test");
    join_team(server, "member@a.test").await;
    server.create_user("outsider@b.test", Some("borg"));
    let mut callers = vec![
        Caller {
            who: Who::Anonymous,
            token: None,
        },
        Caller {
            who: Who::Superuser(ScopeSet::all()),
            token: Some(server.token.clone()),
        },
        Caller {
            who: Who::Member(ScopeSet::all()),
            token: Some(token_with(server, "member@a.test", ScopeSet::all())),
        },
        Caller {
            who: Who::Outsider,
            token: Some(server.create_token_for("outsider@b.test")),
        },
    ];
    for scope in Scope::ALL {
        let only = ScopeSet::of(&[scope]);
        callers.push(Caller {
            who: Who::Superuser(only),
            token: Some(token_with(server, ADMIN_EMAIL, only)),
        });
    }
    for scope in [Scope::EventWrite, Scope::ProjectRead] {
        let only = ScopeSet::of(&[scope]);
        callers.push(Caller {
            who: Who::Member(only),
            token: Some(token_with(server, "member@a.test", only)),
        });
    }
    let org_token = server
        .cli(&["token", "create", "--organization", "errhound"])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    assert!(org_token.starts_with("sntrys_"), "{org_token}");
    callers.push(Caller {
        who: Who::OrgToken,
        token: Some(org_token),
    });
    callers
}

/// The scopes `who` holds in `org`, and whether they reach `project` there (`None` when the
/// organization is not theirs at all).
fn expected_access(who: &Who, org: &str, project: Option<&str>) -> Option<(ScopeSet, bool)> {
    match (who, org) {
        (Who::Anonymous, _) => None,
        (Who::Superuser(token), _) => Some((token.expanded(), true)),
        (Who::Member(token), "errhound") => Some((
            Role::Member.scopes().intersection(token.expanded()),
            project != Some("secret"),
        )),
        (Who::Outsider, "borg") => Some((Role::Member.scopes(), true)),
        (Who::OrgToken, "errhound") => Some((ScopeSet::of(&[Scope::OrgCi]).expanded(), true)),
        _ => None,
    }
}

/// Handlers that act as a user (assign, comment, ...) refuse organization tokens whatever
/// their scopes: these are the routes an organization token may reach.
fn org_token_may_call(route: &RouteRule) -> bool {
    // A rule preview reads (it saves nothing), though it is a POST.
    route.path.ends_with("/rules/preview/")
        || (route.method == Method::GET
            && (route.path.ends_with("/projects/")
                || route.path.contains("/keys/")
                || route.path.contains("/rules/")
                || route.path.contains("/plugins/")
                || route.path.ends_with("/releases/")
                || route.path.ends_with("/environments/")
                || route.path == "/api/0/organizations/"
                || route.path == "/api/0/organizations/{org}/"
                || route.path == "/api/0/projects/{org}/{project}/"
                || route.path == "/api/0/grouping-configs/"))
}

/// The path of `route` for `target`, with issues named by id or (where the path names the
/// organization) by short id.
fn fill(route: &RouteRule, target: &Target, short: bool) -> String {
    let issue = if short {
        &target.short_id
    } else {
        &target.issue_id
    };
    route
        .path
        .replace("{org}", target.org)
        .replace("{project}", target.project)
        .replace("{team}", target.team)
        .replace("{issue}", issue)
        .replace("{event}", &target.event_id)
        .replace("{member}", "999999")
        .replace("{note}", "999999")
        .replace("{key_id}", "0000")
        .replace("{token_id}", "999999")
        .replace("{rule_id}", "999999")
        // An issue's plugin actions are an issue tracker's (Jira, not set up here: the GET
        // of a form gets through the door and answers that); the project's, any plugin's.
        .replace(
            "{plugin_id}",
            if route.path.contains("{issue}/plugins/") {
                "jira"
            } else {
                "webhooks"
            },
        )
}

fn body_for(route: &RouteRule) -> Value {
    // Bodies that change nothing (or fail validation): the matrix checks who gets through the
    // door, not what the handler does with a valid request.
    if route.path.ends_with("/teams/") || route.path.ends_with("/projects/") {
        json!({})
    } else {
        json!({"isBookmarked": false})
    }
}

async fn call(
    server: &TestServer,
    method: &Method,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> u16 {
    let mut request = server
        .client()
        .request(method.clone(), format!("{}{path}", server.base_url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if *method != Method::GET {
        request = request.json(body);
    }
    request.send().await.unwrap().status().as_u16()
}

/// The rule each API route must have, written down independently of the route table (Sentry's
/// permission classes): the matrix checks both that the table declares this and that the server
/// enforces it. A route this does not know fails the test until its rule is decided here.
fn sentry_rule(method: &Method, path: &str) -> Rule {
    let p = path.trim_start_matches("/api/0");
    let read = *method == Method::GET;
    let pick = |r: Scope, w: Scope| Rule::Scoped(if read { r } else { w });
    match p {
        "/" => Rule::Public,
        "/organizations/" if read => Rule::Authenticated,
        "/organizations/" => Rule::Superuser,
        "/grouping-configs/" if read => Rule::Authenticated,
        // A user's own tokens.
        "/api-tokens/" => Rule::Authenticated,
        "/organizations/{org}/org-auth-tokens/"
        | "/organizations/{org}/org-auth-tokens/{token_id}/" => {
            pick(Scope::OrgRead, Scope::OrgWrite)
        }
        // Deleting an organization: org:admin (only owners hold it; the handler also asks for
        // the owner role, which the superuser's tokens stand in for).
        "/organizations/{org}/" if *method == Method::DELETE => Rule::Scoped(Scope::OrgAdmin),
        "/organizations/{org}/" => pick(Scope::OrgRead, Scope::OrgWrite),
        // The organization's single sign-on provider: owners only, reading included (its
        // configuration names the identity provider's client).
        "/organizations/{org}/auth-provider/" => Rule::Scoped(Scope::OrgAdmin),
        "/organizations/{org}/projects/" | "/teams/{org}/{team}/projects/" => {
            pick(Scope::OrgRead, Scope::ProjectWrite)
        }
        "/organizations/{org}/teams/" => pick(Scope::TeamRead, Scope::TeamWrite),
        "/organizations/{org}/members/" => pick(Scope::MemberRead, Scope::MemberWrite),
        "/organizations/{org}/members/{member}/" => Rule::Scoped(match *method {
            Method::GET => Scope::MemberRead,
            Method::DELETE => Scope::MemberAdmin,
            _ => Scope::MemberWrite,
        }),
        // The audit log: owners and managers.
        "/organizations/{org}/audit-logs/" if read => Rule::Scoped(Scope::OrgWrite),
        // Joining and leaving teams: any member, the handler decides whose teams may change.
        "/organizations/{org}/members/{member}/teams/{team}/" => Rule::Scoped(Scope::OrgRead),
        "/teams/{org}/{team}/" => Rule::Scoped(match *method {
            Method::GET => Scope::TeamRead,
            Method::DELETE => Scope::TeamAdmin,
            _ => Scope::TeamWrite,
        }),
        // Giving a project to a team and taking it away: Sentry's ProjectTeamsPermission.
        "/projects/{org}/{project}/teams/{team}/" => Rule::Scoped(Scope::ProjectWrite),
        "/projects/{org}/{project}/" if *method == Method::DELETE => {
            Rule::Scoped(Scope::ProjectAdmin)
        }
        "/projects/{org}/{project}/" => pick(Scope::ProjectRead, Scope::ProjectWrite),
        "/projects/{org}/{project}/keys/"
        | "/projects/{org}/{project}/keys/{key_id}/"
        | "/projects/{org}/{project}/releases/"
        | "/projects/{org}/{project}/environments/"
        // Sentry's ProjectAlertRulePermission: reading needs project:read, changes project:write.
        | "/projects/{org}/{project}/rules/"
        | "/projects/{org}/{project}/rules/{rule_id}/"
        // Sentry's ProjectPermission on the legacy plugin endpoints: reading project:read,
        // enabling and configuring (POST, PUT) project:write, disabling (DELETE) project:admin.
        | "/projects/{org}/{project}/plugins/" => pick(Scope::ProjectRead, Scope::ProjectWrite),
        // Previewing a rule reads the project's events and saves nothing: project:read.
        "/projects/{org}/{project}/rules/preview/" => Rule::Scoped(Scope::ProjectRead),
        // A test notification sends: project:write (Sentry's ProjectAlertRulePermission).
        "/projects/{org}/{project}/rule-actions/" => Rule::Scoped(Scope::ProjectWrite),
        "/projects/{org}/{project}/plugins/{plugin_id}/" => Rule::Scoped(match *method {
            Method::GET => Scope::ProjectRead,
            Method::DELETE => Scope::ProjectAdmin,
            _ => Scope::ProjectWrite,
        }),
        // Sentry's legacy plugin actions on an issue: reading a form (GET create, link) needs
        // project:read; creating, linking and unlinking a ticket act with the project's tracker
        // account: project:write.
        _ if p.contains("{issue}/plugins/{plugin_id}/") => {
            pick(Scope::ProjectRead, Scope::ProjectWrite)
        }
        _ if p.contains("{issue}") || p.contains("{event}") || p.ends_with("/issues/") => {
            pick(Scope::EventRead, Scope::EventWrite)
        }
        _ => panic!("no rule decided for {method} {path}: add it to sentry_rule"),
    }
}

/// What a call must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 401: no credentials.
    Unauthenticated,
    /// Through the door.
    Allowed,
    /// 403: the caller may see the resource (or, for organizations and projects, learn that it
    /// exists) but not do this.
    Refused,
    /// 404: an issue the caller may not see does not exist for them.
    Hidden,
}

fn expect(route: &RouteRule, caller: &Caller, target: Option<&Target>) -> Expect {
    if matches!(caller.who, Who::Anonymous) {
        return if route.rule == Rule::Public {
            Expect::Allowed
        } else {
            Expect::Unauthenticated
        };
    }
    let yes = |allowed: bool| {
        if allowed {
            Expect::Allowed
        } else {
            Expect::Refused
        }
    };
    match sentry_rule(&route.method, &route.path) {
        Rule::Public => Expect::Allowed,
        // Acting as a user (a user's own tokens, ...) needs a user.
        Rule::Authenticated => {
            yes(!matches!(caller.who, Who::OrgToken) || org_token_may_call(route))
        }
        // Instance administration needs a superuser, and a token of theirs carrying org:admin.
        Rule::Superuser => yes(matches!(
            caller.who, Who::Superuser(scopes) if scopes.expanded().contains(Scope::OrgAdmin)
        )),
        Rule::Scoped(scope) => {
            let t = target.expect("a scoped route has a target");
            let names_project = route.path.contains("{project}") || route.path.contains("{issue}");
            let access = expected_access(&caller.who, t.org, names_project.then_some(t.project));
            let on_issue = route.path.contains("{issue}");
            match access {
                None if on_issue => Expect::Hidden,
                None => Expect::Refused,
                Some((_, false)) if on_issue => Expect::Hidden,
                Some((_, false)) => Expect::Refused,
                Some((scopes, true)) => yes(scopes.contains(scope)
                    && (!matches!(caller.who, Who::OrgToken) || org_token_may_call(route))),
            }
        }
    }
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn every_api_route_answers_each_caller_exactly_what_their_scopes_and_teams_allow(
    #[case] engine: Engine,
) {
    let server = TestServer::start_on(binary(), engine).await;
    let targets = world(&server).await;
    let callers = callers(&server).await;
    let table = errhound_web::api::routes().table();
    assert!(table.len() > 40, "the table lists the API: {}", table.len());
    let mut checked = 0;
    let mut failures = Vec::new();
    for route in &table {
        assert_eq!(
            route.rule,
            sentry_rule(&route.method, &route.path),
            "{} {}",
            route.method,
            route.path
        );
        let names_org = route.path.contains("{org}") || route.path.contains("{issue}");
        match route.rule {
            Rule::Scoped(_) => assert!(names_org, "{route:?}: a scoped route names its org"),
            Rule::Authenticated | Rule::Superuser | Rule::Public => {
                assert!(!names_org, "{route:?}: an org route needs a scope")
            }
        }
        // Destructive or creating calls by allowed callers would change the world under the
        // matrix; these are covered by their own tests (`lifecycle.rs`), and here only by
        // refused callers.
        let creates = (route.method == Method::POST
            && (route.path.ends_with("/projects/")
                || route.path.ends_with("/keys/")
                || route.path.ends_with("-tokens/")
                || route.path == "/api/0/organizations/"
                || route.path == "/api/0/projects/{org}/{project}/teams/{team}/"))
            || (route.method == Method::DELETE
                && [
                    "/api/0/organizations/{org}/",
                    "/api/0/teams/{org}/{team}/",
                    "/api/0/projects/{org}/{project}/",
                    "/api/0/projects/{org}/{project}/teams/{team}/",
                ]
                .contains(&route.path.as_str()));
        let variants: Vec<(Option<&Target>, bool)> = if names_org {
            let mut v: Vec<_> = targets.iter().map(|t| (Some(t), false)).collect();
            if route.path.contains("{org}") && route.path.contains("{issue}") {
                v.extend(targets.iter().map(|t| (Some(t), true)));
            }
            v
        } else {
            vec![(None, false)]
        };
        for (target, short) in variants {
            let path = match target {
                Some(t) => fill(route, t, short),
                None => route.path.clone(),
            };
            for caller in &callers {
                let expect = expect(route, caller, target);
                if expect == Expect::Allowed && creates {
                    continue;
                }
                let status = call(
                    &server,
                    &route.method,
                    &path,
                    caller.token.as_deref(),
                    &body_for(route),
                )
                .await;
                checked += 1;
                let ok = match expect {
                    Expect::Unauthenticated => status == 401,
                    Expect::Refused => status == 403,
                    Expect::Hidden => status == 404,
                    Expect::Allowed => {
                        // Through the door: whatever the handler answers, never a refusal or a
                        // failure, and a GET of an existing resource finds it.
                        let placeholder = route.path.contains("{note}")
                            || route.path.contains("{member}")
                            || route.path.contains("{key_id}")
                            || route.path.contains("{token_id}")
                            || route.path.contains("{rule_id}");
                        status != 401
                            && status != 403
                            && (route.method != Method::GET || placeholder || status != 404)
                            && status < 500
                    }
                };
                if !ok {
                    failures.push(format!(
                        "{} {path} as {:?}: {status}, expected {expect:?}",
                        route.method, caller.who
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} calls answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 2000, "{checked}");
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[tokio::test]
async fn the_org_wide_lists_hold_only_the_projects_of_the_callers_teams(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let targets = world(&server).await;
    let member = {
        server.create_member("member@a.test");
        join_team(&server, "member@a.test").await;
        token_with(&server, "member@a.test", ScopeSet::all())
    };
    let get = |path: &'static str, token: String| {
        let server = &server;
        async move {
            let (status, body) = server
                .api_send(Method::GET, path, &Value::Null, Some(&token))
                .await;
            assert_eq!(status, 200, "{path}: {body}");
            body
        }
    };
    let slugs = |list: &Value, key: &str| -> Vec<String> {
        let mut v: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[key].as_str().unwrap_or_default().to_owned())
            .collect();
        v.sort();
        v
    };
    let projects = get("organizations/errhound/projects/", member.clone()).await;
    assert_eq!(slugs(&projects, "slug"), ["default"]);
    let all = get("organizations/errhound/projects/", server.token.clone()).await;
    assert_eq!(slugs(&all, "slug"), ["default", "secret"]);
    let issues = get(
        "organizations/errhound/issues/?query=&statsPeriod=14d",
        member.clone(),
    )
    .await;
    let default = &targets[0];
    assert_eq!(slugs(&issues, "id"), vec![default.issue_id.clone()]);
    // Searching by the other project's issue id or short id finds nothing either.
    for query in [&targets[1].short_id, &targets[2].short_id] {
        let (status, found) = server
            .api_send(
                Method::GET,
                &format!("organizations/errhound/issues/?query={query}&statsPeriod=14d"),
                &Value::Null,
                Some(&member),
            )
            .await;
        assert!(
            status == 200 && found.as_array().is_some_and(Vec::is_empty),
            "{query}: {status} {found}"
        );
    }
    // Opening the organization makes every project visible to the member.
    let (status, _) = server
        .api_put("organizations/errhound/", &json!({"openMembership": true}))
        .await;
    assert_eq!(status, 200);
    let projects = get("organizations/errhound/projects/", member).await;
    assert_eq!(slugs(&projects, "slug"), ["default", "secret"]);
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[tokio::test]
async fn the_auth_info_names_the_caller_and_the_scopes_of_their_token(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let url = format!("{}/api/0/", server.base_url);
    let anonymous: Value = server
        .client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anonymous["user"], Value::Null);
    assert_eq!(anonymous["auth"], Value::Null);
    let limited = token_with(
        &server,
        ADMIN_EMAIL,
        ScopeSet::of(&[Scope::ProjectReleases, Scope::OrgRead]),
    );
    assert!(limited.starts_with("sntryu_"), "{limited}");
    let info: Value = server
        .client()
        .get(&url)
        .bearer_auth(&limited)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["user"]["email"], ADMIN_EMAIL);
    assert_eq!(
        info["auth"]["scopes"],
        json!(["org:read", "project:releases"])
    );
    let status = server
        .client()
        .get(&url)
        .bearer_auth("sntryu_0000")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 401);
    // An unknown scope is refused by the CLI, and nothing is created.
    let output = server
        .command(&[
            "token",
            "create",
            "--email",
            ADMIN_EMAIL,
            "--scopes",
            "org:root",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("unknown scope `org:root`"),
        "{output:?}"
    );
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[tokio::test]
async fn tokens_are_made_listed_and_revoked_through_the_api_and_never_exceed_their_maker(
    #[case] engine: Engine,
) {
    let server = TestServer::start_on(binary(), engine).await;
    let send = |method: Method, path: &'static str, body: Value, token: String| {
        let server = &server;
        async move { server.api_send(method, path, &body, Some(&token)).await }
    };
    let (status, made) = send(
        Method::POST,
        "api-tokens/",
        json!({"name": "deploys", "scopes": ["project:releases", "org:read"]}),
        server.token.clone(),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let secret = made["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sntryu_"));
    assert_eq!(made["scopes"], json!(["org:read", "project:releases"]));
    // The limited token cannot mint a broader one, nor reach what its scopes exclude.
    let (status, _) = send(
        Method::POST,
        "api-tokens/",
        json!({"scopes": ["event:read"]}),
        secret.clone(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        Method::GET,
        "projects/errhound/default/issues/",
        Value::Null,
        secret.clone(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        Method::GET,
        "organizations/errhound/",
        Value::Null,
        secret.clone(),
    )
    .await;
    assert_eq!(status, 200);
    // Listed without its secret, with its last use.
    let (_, list) = send(
        Method::GET,
        "api-tokens/",
        Value::Null,
        server.token.clone(),
    )
    .await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == made["id"])
        .unwrap()
        .clone();
    assert!(listed.get("token").is_none(), "{listed}");
    assert!(listed["dateLastUsed"].is_string(), "{listed}");
    assert_eq!(
        listed["tokenLastCharacters"],
        json!(&secret[secret.len() - 4..])
    );
    let id = made["id"].as_str().unwrap().to_owned();
    let (status, _) = server
        .api_send(Method::DELETE, "api-tokens/", &json!({"tokenId": id}), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = send(Method::GET, "organizations/errhound/", Value::Null, secret).await;
    assert_eq!(status, 401, "a revoked token is no token");

    // Organization tokens: org:ci, listed for the organization, recorded in its audit log.
    let (status, org_token) = send(
        Method::POST,
        "organizations/errhound/org-auth-tokens/",
        json!({"name": "ci"}),
        server.token.clone(),
    )
    .await;
    assert_eq!(status, 201, "{org_token}");
    let org_secret = org_token["token"].as_str().unwrap().to_owned();
    assert!(org_secret.starts_with("sntrys_"));
    let (_, info) = send(Method::GET, "", Value::Null, org_secret.clone()).await;
    assert_eq!(info["auth"]["scopes"], json!(["org:ci"]));
    assert_eq!(info["user"], Value::Null);
    let (_, log) = server.api_get("organizations/errhound/audit-logs/").await;
    assert_eq!(log["rows"][0]["event"], "orgauthtoken.create");
    assert_eq!(log["rows"][0]["actor"]["email"], ADMIN_EMAIL);
    let path = format!(
        "organizations/errhound/org-auth-tokens/{}/",
        org_token["id"].as_str().unwrap()
    );
    let (status, _) = server
        .api_send(Method::DELETE, &path, &Value::Null, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = send(Method::GET, "", Value::Null, org_secret).await;
    assert_eq!(status, 401);
}
