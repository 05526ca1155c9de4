//! The alert-rule form: create and edit a rule in the browser, preview it on the last 7 days
//! and send a test notification before saving.
//!
//! The form has fixed slots (each condition once, up to [`TAG_ROWS`] tag filters, one of each
//! other filter, one mail target and any plugins). It is turned into a body of Sentry's rule
//! API and read by [`AlertRule::from_sentry_json`], so the browser and the API share one
//! validation and one set of messages. A rule written through the API that the slots cannot
//! hold (two frequency conditions, four tag filters, ...) is shown read-only with a pointer to
//! the API, rather than silently losing its extra parts on save.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use errhound_domain::Level;
use errhound_domain::alerts::rule::{
    AGE_FILTER, ASSIGNED_FILTER, ATTRIBUTE_FILTER, EVENT_FREQUENCY, EVERY_EVENT, FIRST_SEEN,
    LATEST_RELEASE_FILTER, LEVEL_FILTER, NOTIFY_ALL, NOTIFY_EMAIL, NOTIFY_SERVICE,
    OCCURRENCES_FILTER, REAPPEARED, REGRESSION, TAGGED_FILTER, UNIQUE_USERS,
};
use errhound_domain::alerts::{
    Action, AlertRule, AssignedTarget, Condition, EmailTarget, EventAttribute, Filter, Interval,
    LevelMatch, RuleErrors,
};
use errhound_domain::plugin::PluginKind;
use errhound_store::alerts::rules as stored_rules;
use errhound_store::now_ms;
use serde_json::{Map, Value, json};

use super::alerts::{PreviewRow, RulePath, preview_rows};
use super::error::{UiError, UiResult};
use super::form::FormData;
use super::format;
use super::issue::{assign_options, flash_redirect};
use super::layout::Nav;
use super::login::UiUser;
use crate::AppState;
use crate::alert_rules::{self, RuleChangeError};
use crate::api::access::Grant;
use crate::plugin_settings;
use crate::rule_preview;

/// Tag filters the form holds.
pub const TAG_ROWS: usize = 3;

/// One tag filter row: key, match type and value (an empty key is an unused row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagRow {
    key: String,
    compare: String,
    value: String,
}

/// The form's fields as text, as submitted or as a stored rule fills them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleForm {
    name: String,
    environment: String,
    action_match: String,
    filter_match: String,
    frequency: String,
    first_seen: bool,
    regression: bool,
    reappeared: bool,
    every_event: bool,
    event_count: bool,
    event_value: String,
    event_interval: String,
    user_count: bool,
    user_value: String,
    user_interval: String,
    /// `""` (no level filter), `eq`, `gte` or `lte`.
    level_match: String,
    level: String,
    tags: Vec<TagRow>,
    /// `""` (no attribute filter) or an attribute name.
    attribute: String,
    attribute_match: String,
    attribute_value: String,
    latest_release: bool,
    /// `""` (no age filter), `older` or `newer`.
    age: String,
    age_value: String,
    age_unit: String,
    /// `""`, `unassigned`, `team:ID` or `user:ID`.
    assigned: String,
    occurrences: String,
    /// `""` (no mail), `owners`, `team:ID` or `user:ID`.
    mail: String,
    notify_all: bool,
    services: Vec<String>,
}

impl Default for RuleForm {
    /// A new rule: new issues and regressions mail the project's members.
    fn default() -> RuleForm {
        RuleForm {
            name: String::new(),
            environment: String::new(),
            action_match: "any".into(),
            filter_match: "all".into(),
            frequency: errhound_domain::alerts::rule::DEFAULT_FREQUENCY.to_string(),
            first_seen: true,
            regression: true,
            reappeared: false,
            every_event: false,
            event_count: false,
            event_value: "100".into(),
            event_interval: "1h".into(),
            user_count: false,
            user_value: "10".into(),
            user_interval: "1h".into(),
            level_match: String::new(),
            level: "error".into(),
            tags: vec![TagRow::default(); TAG_ROWS],
            attribute: String::new(),
            attribute_match: "co".into(),
            attribute_value: String::new(),
            latest_release: false,
            age: String::new(),
            age_value: "1".into(),
            age_unit: "day".into(),
            assigned: String::new(),
            occurrences: String::new(),
            mail: "owners".into(),
            notify_all: false,
            services: Vec::new(),
        }
    }
}

/// `team:ID` / `user:ID` of a form value.
fn target_id(value: &str, prefix: &str) -> Option<String> {
    value.strip_prefix(prefix).map(str::to_owned)
}

impl RuleForm {
    /// The submitted fields.
    pub fn parse(form: &FormData) -> RuleForm {
        let text = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
        let checked = |name: &str| form.get(name).is_some();
        RuleForm {
            name: text("name"),
            environment: text("environment"),
            action_match: text("action_match"),
            filter_match: text("filter_match"),
            frequency: text("frequency"),
            first_seen: checked("first_seen"),
            regression: checked("regression"),
            reappeared: checked("reappeared"),
            every_event: checked("every_event"),
            event_count: checked("event_count"),
            event_value: text("event_value"),
            event_interval: text("event_interval"),
            user_count: checked("user_count"),
            user_value: text("user_value"),
            user_interval: text("user_interval"),
            level_match: text("level_match"),
            level: text("level"),
            tags: (0..TAG_ROWS)
                .map(|i| TagRow {
                    key: text(&format!("tag_key_{i}")),
                    compare: text(&format!("tag_match_{i}")),
                    value: text(&format!("tag_value_{i}")),
                })
                .collect(),
            attribute: text("attribute"),
            attribute_match: text("attribute_match"),
            attribute_value: text("attribute_value"),
            latest_release: checked("latest_release"),
            age: text("age"),
            age_value: text("age_value"),
            age_unit: text("age_unit"),
            assigned: text("assigned"),
            occurrences: text("occurrences"),
            mail: text("mail"),
            notify_all: checked("notify_all"),
            services: form.all("service").into_iter().map(str::to_owned).collect(),
        }
    }

    /// The form a stored rule fills, or `None` when the rule has more than the form's slots
    /// hold.
    pub fn from_rule(rule: &AlertRule) -> Option<RuleForm> {
        let mut form = RuleForm {
            name: rule.name.clone(),
            environment: rule.environment.clone().unwrap_or_default(),
            action_match: rule.action_match.as_str().into(),
            filter_match: rule.filter_match.as_str().into(),
            frequency: rule.frequency_minutes.to_string(),
            first_seen: false,
            regression: false,
            mail: String::new(),
            tags: Vec::new(),
            ..RuleForm::default()
        };
        // Each slot once: a second part of the same kind does not fit.
        fn take(slot: &mut bool) -> Option<()> {
            (!std::mem::replace(slot, true)).then_some(())
        }
        for condition in &rule.conditions {
            match condition {
                Condition::FirstSeen => take(&mut form.first_seen)?,
                Condition::Regression => take(&mut form.regression)?,
                Condition::Reappeared => take(&mut form.reappeared)?,
                Condition::EveryEvent => take(&mut form.every_event)?,
                Condition::EventFrequency { value, interval } => {
                    take(&mut form.event_count)?;
                    form.event_value = value.to_string();
                    form.event_interval = interval.as_str().into();
                }
                Condition::UniqueUserFrequency { value, interval } => {
                    take(&mut form.user_count)?;
                    form.user_value = value.to_string();
                    form.user_interval = interval.as_str().into();
                }
            }
        }
        let mut used = [false; 5];
        for filter in &rule.filters {
            match filter {
                Filter::Level { compare, level } => {
                    take(&mut used[0])?;
                    form.level_match = match compare {
                        LevelMatch::Equal => "eq",
                        LevelMatch::AtLeast => "gte",
                        LevelMatch::AtMost => "lte",
                    }
                    .into();
                    form.level = level.as_str().into();
                }
                Filter::Tagged {
                    key,
                    compare,
                    value,
                } => {
                    if form.tags.len() == TAG_ROWS {
                        return None;
                    }
                    form.tags.push(TagRow {
                        key: key.clone(),
                        compare: compare.as_str().into(),
                        value: value.clone(),
                    });
                }
                Filter::Attribute {
                    attribute,
                    compare,
                    value,
                } => {
                    take(&mut used[1])?;
                    form.attribute = attribute.as_str().into();
                    form.attribute_match = compare.as_str().into();
                    form.attribute_value = value.clone();
                }
                Filter::LatestRelease => take(&mut form.latest_release)?,
                Filter::Age {
                    older,
                    written: (value, unit),
                    ..
                } => {
                    take(&mut used[2])?;
                    form.age = if *older { "older" } else { "newer" }.into();
                    form.age_value = value.to_string();
                    form.age_unit = unit.as_str().into();
                }
                Filter::AssignedTo(target) => {
                    take(&mut used[3])?;
                    form.assigned = match target {
                        AssignedTarget::Unassigned => "unassigned".into(),
                        AssignedTarget::Team(id) => format!("team:{id}"),
                        AssignedTarget::Member(id) => format!("user:{id}"),
                    };
                }
                Filter::IssueOccurrences { value } => {
                    take(&mut used[4])?;
                    form.occurrences = value.to_string();
                }
            }
        }
        form.tags.resize(TAG_ROWS, TagRow::default());
        for action in &rule.actions {
            match action {
                Action::NotifyEmail(target) => {
                    if !form.mail.is_empty() {
                        return None;
                    }
                    form.mail = match target {
                        EmailTarget::IssueOwners => "owners".into(),
                        EmailTarget::Team(id) => format!("team:{id}"),
                        EmailTarget::Member(id) => format!("user:{id}"),
                    };
                }
                Action::NotifyAllPlugins => take(&mut form.notify_all)?,
                Action::NotifyService { service } => {
                    if form.services.contains(service) {
                        return None;
                    }
                    form.services.push(service.clone());
                }
            }
        }
        // The slots are typed above; a round trip proves nothing was lost on the way.
        let back = form.to_rule().ok()?;
        same_rule(&back, rule).then_some(form)
    }

    /// The form as a body of Sentry's rule API.
    pub fn to_sentry_json(&self) -> Map<String, Value> {
        let mut conditions = Vec::new();
        for (on, id) in [
            (self.first_seen, FIRST_SEEN),
            (self.regression, REGRESSION),
            (self.reappeared, REAPPEARED),
            (self.every_event, EVERY_EVENT),
        ] {
            if on {
                conditions.push(json!({"id": id}));
            }
        }
        if self.event_count {
            conditions.push(json!({
                "id": EVENT_FREQUENCY,
                "value": self.event_value,
                "interval": self.event_interval,
                "comparisonType": "count",
            }));
        }
        if self.user_count {
            conditions.push(json!({
                "id": UNIQUE_USERS,
                "value": self.user_value,
                "interval": self.user_interval,
            }));
        }
        let mut filters = Vec::new();
        if !self.level_match.is_empty() {
            filters
                .push(json!({"id": LEVEL_FILTER, "match": self.level_match, "level": self.level}));
        }
        for tag in self.tags.iter().filter(|t| !t.key.is_empty()) {
            filters.push(json!({
                "id": TAGGED_FILTER,
                "key": tag.key,
                "match": tag.compare,
                "value": tag.value,
            }));
        }
        if !self.attribute.is_empty() {
            filters.push(json!({
                "id": ATTRIBUTE_FILTER,
                "attribute": self.attribute,
                "match": self.attribute_match,
                "value": self.attribute_value,
            }));
        }
        if self.latest_release {
            filters.push(json!({"id": LATEST_RELEASE_FILTER}));
        }
        if !self.age.is_empty() {
            filters.push(json!({
                "id": AGE_FILTER,
                "comparison_type": self.age,
                "value": self.age_value,
                "time": self.age_unit,
            }));
        }
        if !self.assigned.is_empty() {
            filters.push(match self.assigned.as_str() {
                "unassigned" => json!({"id": ASSIGNED_FILTER, "targetType": "Unassigned"}),
                other => match target_id(other, "team:") {
                    Some(id) => {
                        json!({"id": ASSIGNED_FILTER, "targetType": "Team", "targetIdentifier": id})
                    }
                    None => json!({
                        "id": ASSIGNED_FILTER,
                        "targetType": "Member",
                        "targetIdentifier": target_id(other, "user:").unwrap_or_default(),
                    }),
                },
            });
        }
        if !self.occurrences.is_empty() {
            filters.push(json!({"id": OCCURRENCES_FILTER, "value": self.occurrences}));
        }
        let mut actions = Vec::new();
        match self.mail.as_str() {
            "" => {}
            "owners" => actions.push(json!({"id": NOTIFY_EMAIL, "targetType": "IssueOwners"})),
            other => actions.push(match target_id(other, "team:") {
                Some(id) => {
                    json!({"id": NOTIFY_EMAIL, "targetType": "Team", "targetIdentifier": id})
                }
                None => json!({
                    "id": NOTIFY_EMAIL,
                    "targetType": "Member",
                    "targetIdentifier": target_id(other, "user:").unwrap_or_default(),
                }),
            }),
        }
        if self.notify_all {
            actions.push(json!({"id": NOTIFY_ALL}));
        }
        for service in &self.services {
            actions.push(json!({"id": NOTIFY_SERVICE, "service": service}));
        }
        let mut body = Map::new();
        body.insert("name".into(), json!(self.name));
        body.insert("environment".into(), json!(self.environment));
        body.insert("actionMatch".into(), json!(self.action_match));
        body.insert("filterMatch".into(), json!(self.filter_match));
        body.insert("frequency".into(), json!(self.frequency));
        body.insert("conditions".into(), Value::Array(conditions));
        body.insert("filters".into(), Value::Array(filters));
        body.insert("actions".into(), Value::Array(actions));
        body
    }

    /// The rule the form describes, or its problems by field.
    pub fn to_rule(&self) -> Result<AlertRule, RuleErrors> {
        AlertRule::from_sentry_json(&self.to_sentry_json())
    }
}

/// Two rules are the same when they differ at most in the order of their parts (conditions,
/// filters and actions each combine regardless of order).
fn same_rule(a: &AlertRule, b: &AlertRule) -> bool {
    fn same_parts<T: PartialEq>(a: &[T], b: &[T]) -> bool {
        a.len() == b.len()
            && a.iter().all(|x| {
                a.iter().filter(|y| *y == x).count() == b.iter().filter(|y| *y == x).count()
            })
    }
    a.name == b.name
        && a.action_match == b.action_match
        && a.filter_match == b.filter_match
        && a.frequency_minutes == b.frequency_minutes
        && a.environment == b.environment
        && same_parts(&a.conditions, &b.conditions)
        && same_parts(&a.filters, &b.filters)
        && same_parts(&a.actions, &b.actions)
}

/// One `<option>`.
pub struct Choice {
    /// Its value.
    pub value: String,
    /// Its label.
    pub label: String,
    /// Whether it is the current one.
    pub selected: bool,
}

fn choices<'a>(
    options: impl IntoIterator<Item = (&'a str, &'a str)>,
    current: &str,
) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            value: value.to_owned(),
            label: label.to_owned(),
            selected: value == current,
        })
        .collect()
}

const MATCHES: [(&str, &str); 3] = [
    ("any", "any of these"),
    ("all", "all of these"),
    ("none", "none of these"),
];

const TAG_MATCHES: [(&str, &str); 8] = [
    ("eq", "equals"),
    ("ne", "does not equal"),
    ("sw", "starts with"),
    ("ew", "ends with"),
    ("co", "contains"),
    ("nc", "does not contain"),
    ("is", "is set"),
    ("ns", "is not set"),
];

fn intervals(current: &str) -> Vec<Choice> {
    choices(
        Interval::ALL.iter().map(|i| (i.as_str(), i.as_str())),
        current,
    )
}

fn tag_matches(current: &str) -> Vec<Choice> {
    choices(TAG_MATCHES, current)
}

/// One tag row with its match choices.
pub struct TagView {
    /// The row's index (its field names end with it).
    pub index: usize,
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// The match types.
    pub matches: Vec<Choice>,
}

/// A notification plugin to tick.
pub struct ServiceView {
    /// The plugin id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Whether the rule uses it.
    pub checked: bool,
    /// Whether it is enabled on the project (a disabled one sends nothing).
    pub enabled: bool,
}

/// The outcome of a test notification, per action.
pub struct TestLine {
    /// The action in words.
    pub action: String,
    /// What happened.
    pub outcome: String,
    /// Whether it was sent.
    pub sent: bool,
}

/// A preview, as the pages show it.
pub struct FormPreview {
    /// Fires over all issues.
    pub fires: u64,
    /// Events replayed.
    pub events: usize,
    /// Whether older events were left out.
    pub truncated: bool,
    /// Where the replay started.
    pub since: String,
    /// The issues.
    pub issues: Vec<PreviewRow>,
}

impl FormPreview {
    /// The report of [`rule_preview::preview`] for the organization's pages.
    pub fn of(org_slug: &str, report: rule_preview::PreviewReport) -> FormPreview {
        FormPreview {
            fires: report.fires,
            events: report.events_examined,
            truncated: report.truncated,
            since: format::datetime(report.since_ms),
            issues: preview_rows(org_slug, report.issues),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "alert_form.html")]
struct FormPage {
    nav: Nav,
    name: String,
    base: String,
    tab: &'static str,
    /// Where the form posts.
    action: String,
    /// The rule being edited.
    rule_id: Option<i64>,
    /// The stored rule's JSON when the form cannot hold it.
    unfit: Option<String>,
    api_path: String,
    form: RuleForm,
    errors: Vec<(String, String)>,
    action_matches: Vec<Choice>,
    filter_matches: Vec<Choice>,
    event_intervals: Vec<Choice>,
    user_intervals: Vec<Choice>,
    level_matches: Vec<Choice>,
    levels: Vec<Choice>,
    tags: Vec<TagView>,
    attributes: Vec<Choice>,
    attribute_matches: Vec<Choice>,
    ages: Vec<Choice>,
    age_units: Vec<Choice>,
    assignees: Vec<Choice>,
    mail_targets: Vec<Choice>,
    services: Vec<ServiceView>,
    preview: Option<FormPreview>,
    test: Vec<TestLine>,
}

/// What the page shows besides the form.
#[derive(Default)]
struct Outcome {
    errors: Vec<(String, String)>,
    preview: Option<FormPreview>,
    test: Vec<TestLine>,
    unfit: Option<String>,
}

async fn render(
    state: &AppState,
    user: &UiUser,
    grant: &Grant,
    rule_id: Option<i64>,
    form: RuleForm,
    outcome: Outcome,
) -> UiResult {
    let project = grant.project()?;
    let nav = Nav::new(state, user, &grant.org, "settings", Some(project.id)).await?;
    let base = format!("/settings/{}/projects/{}/", grant.org.slug, project.slug);
    let people = {
        let mut conn = state.db.read_latest().await?;
        assign_options(&mut conn.conn(), grant.org.id).await?
    };
    let mut assignees = vec![("", "(anyone)"), ("unassigned", "nobody")];
    assignees.extend(people.iter().map(|p| (p.value.as_str(), p.label.as_str())));
    let mut mail_targets = vec![("", "(no mail)"), ("owners", "the project's members")];
    mail_targets.extend(people.iter().map(|p| (p.value.as_str(), p.label.as_str())));
    let plugins = plugin_settings::list(state, project.id).await?;
    let mut services: Vec<ServiceView> = plugins
        .usable
        .iter()
        .filter(|p| p.description().kind == PluginKind::Notification)
        .map(|p| ServiceView {
            id: p.description().id.clone(),
            title: p.description().title.clone(),
            checked: form.services.contains(&p.description().id),
            enabled: p.enabled,
        })
        .collect();
    // A plugin the rule names that is no longer installed stays visible (and removable).
    for id in &form.services {
        if !services.iter().any(|s| &s.id == id) {
            services.push(ServiceView {
                id: id.clone(),
                title: format!("{id} (not installed)"),
                checked: true,
                enabled: false,
            });
        }
    }
    let levels: Vec<(&str, &str)> = [
        Level::Debug,
        Level::Info,
        Level::Warning,
        Level::Error,
        Level::Fatal,
    ]
    .iter()
    .map(|l| (l.as_str(), l.as_str()))
    .collect();
    let attributes: Vec<(&str, &str)> = std::iter::once(("", "(none)"))
        .chain(EventAttribute::all().map(|a| (a.as_str(), a.as_str())))
        .collect();
    let status = if outcome.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = FormPage {
        action: match rule_id {
            Some(id) => format!("{base}alerts/{id}/edit/"),
            None => format!("{base}alerts/new/"),
        },
        api_path: format!("/api/0/projects/{}/{}/rules/", grant.org.slug, project.slug),
        nav,
        name: project.name.clone(),
        tab: "alerts",
        rule_id,
        unfit: outcome.unfit,
        errors: outcome.errors,
        action_matches: choices(MATCHES, &form.action_match),
        filter_matches: choices(MATCHES, &form.filter_match),
        event_intervals: intervals(&form.event_interval),
        user_intervals: intervals(&form.user_interval),
        level_matches: choices(
            [
                ("", "(any level)"),
                ("gte", "at least"),
                ("eq", "exactly"),
                ("lte", "at most"),
            ],
            &form.level_match,
        ),
        levels: choices(levels, &form.level),
        tags: form
            .tags
            .iter()
            .enumerate()
            .map(|(index, t)| TagView {
                index,
                key: t.key.clone(),
                value: t.value.clone(),
                matches: tag_matches(&t.compare),
            })
            .collect(),
        attributes: choices(attributes, &form.attribute),
        attribute_matches: tag_matches(&form.attribute_match),
        ages: choices(
            [
                ("", "(any age)"),
                ("older", "older than"),
                ("newer", "newer than"),
            ],
            &form.age,
        ),
        age_units: choices(
            [
                ("minute", "minutes"),
                ("hour", "hours"),
                ("day", "days"),
                ("week", "weeks"),
            ],
            &form.age_unit,
        ),
        assignees: choices(assignees, &form.assigned),
        mail_targets: choices(mail_targets, &form.mail),
        services,
        preview: outcome.preview,
        test: outcome.test,
        base,
        form,
    };
    Ok((status, page).into_response())
}

fn error_list(errors: &RuleErrors) -> Vec<(String, String)> {
    errors
        .0
        .iter()
        .flat_map(|(field, messages)| messages.iter().map(move |m| (field.clone(), m.clone())))
        .collect()
}

/// `GET /settings/{org}/projects/{project}/alerts/new/`
pub async fn new_page(State(state): State<AppState>, user: UiUser, grant: Grant) -> UiResult {
    render(
        &state,
        &user,
        &grant,
        None,
        RuleForm::default(),
        Outcome::default(),
    )
    .await
}

/// `GET /settings/{org}/projects/{project}/alerts/{rule}/edit/`
pub async fn edit_page(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(RulePath { rule }): Path<RulePath>,
) -> UiResult {
    let project = grant.project()?;
    let stored = {
        let mut conn = state.db.read_latest().await?;
        stored_rules::get(&mut conn.conn(), project.id, rule)
            .await?
            .ok_or_else(UiError::not_found)?
    };
    let parsed = serde_json::from_str::<Map<String, Value>>(&stored.data)
        .ok()
        .and_then(|body| AlertRule::from_sentry_json(&body).ok());
    let (form, unfit) = match parsed.as_ref().and_then(RuleForm::from_rule) {
        Some(form) => (form, None),
        None => (RuleForm::default(), Some(stored.data.clone())),
    };
    let outcome = Outcome {
        unfit,
        ..Outcome::default()
    };
    render(&state, &user, &grant, Some(rule), form, outcome).await
}

/// `POST /settings/{org}/projects/{project}/alerts/new/`
pub async fn create(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    submit(&state, &user, &grant, None, &body).await
}

/// `POST /settings/{org}/projects/{project}/alerts/{rule}/edit/`
pub async fn update(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(RulePath { rule }): Path<RulePath>,
    body: String,
) -> UiResult {
    submit(&state, &user, &grant, Some(rule), &body).await
}

/// The form's buttons: `do=save` (the default), `do=preview` or `do=test`, the last two
/// acting on the form as it stands, saved or not.
async fn submit(
    state: &AppState,
    user: &UiUser,
    grant: &Grant,
    rule_id: Option<i64>,
    body: &str,
) -> UiResult {
    let fields = FormData::parse(body);
    let form = RuleForm::parse(&fields);
    let rule = match form.to_rule() {
        Ok(rule) => rule,
        Err(errors) => {
            let outcome = Outcome {
                errors: error_list(&errors),
                ..Outcome::default()
            };
            return render(state, user, grant, rule_id, form, outcome).await;
        }
    };
    let mut outcome = Outcome::default();
    match fields.get("do").unwrap_or("save") {
        "preview" => {
            let project = grant.project()?;
            let report = rule_preview::preview(state, project, &rule, now_ms()).await?;
            outcome.preview = Some(FormPreview::of(&grant.org.slug, report));
        }
        "test" => match alert_rules::send_test(state, grant, &rule.name, &rule.actions).await {
            Ok(outcomes) => {
                outcome.test = outcomes
                    .into_iter()
                    .map(|o| TestLine {
                        sent: o.error.is_none(),
                        outcome: match o.error {
                            None => format!("sent through {}", o.plugin),
                            Some(error) => format!("not sent: {error}"),
                        },
                        action: o.action,
                    })
                    .collect();
            }
            Err(RuleChangeError::Invalid(errors)) => outcome.errors = error_list(&errors),
            Err(other) => return Err(other.into()),
        },
        _ => {
            let saved = match rule_id {
                Some(id) => alert_rules::update(state, grant, id, &rule).await,
                None => alert_rules::create(state, grant, &rule).await,
            };
            return match saved {
                Ok(stored) => {
                    let page = format!(
                        "/settings/{}/projects/{}/alerts/#rule-{}",
                        grant.org.slug,
                        grant.project()?.slug,
                        stored.id
                    );
                    flash_redirect(
                        &user.session,
                        &format!("Alert rule “{}” saved.", stored.name),
                        &page,
                    )
                    .await
                }
                Err(RuleChangeError::Invalid(errors)) => {
                    outcome.errors = error_list(&errors);
                    render(state, user, grant, rule_id, form, outcome).await
                }
                Err(other) => Err(other.into()),
            };
        }
    }
    render(state, user, grant, rule_id, form, outcome).await
}

/// `POST /settings/{org}/projects/{project}/alerts/{rule}/delete/`
pub async fn delete(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    Path(RulePath { rule }): Path<RulePath>,
) -> UiResult {
    alert_rules::delete(&state, &grant, rule).await?;
    let page = format!(
        "/settings/{}/projects/{}/alerts/",
        grant.org.slug,
        grant.project()?.slug
    );
    flash_redirect(&user.session, "Alert rule deleted.", &page).await
}

#[cfg(test)]
mod tests {
    use errhound_domain::alerts::{Match, TagMatch};

    use super::*;

    fn form(pairs: &[(&str, &str)]) -> RuleForm {
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
            .collect();
        RuleForm::parse(&FormData::parse(&body.join("&")))
    }

    #[test]
    fn a_filled_form_is_the_rule_it_says() {
        let rule = form(&[
            ("name", "Checkout errors"),
            ("action_match", "all"),
            ("filter_match", "any"),
            ("frequency", "60"),
            ("environment", "production"),
            ("event_count", "on"),
            ("event_value", "100"),
            ("event_interval", "1h"),
            ("level_match", "gte"),
            ("level", "error"),
            ("tag_key_0", "browser"),
            ("tag_match_0", "sw"),
            ("tag_value_0", "Chrome"),
            ("tag_key_1", ""),
            ("tag_match_1", "eq"),
            ("age", "newer"),
            ("age_value", "2"),
            ("age_unit", "hour"),
            ("assigned", "team:7"),
            ("mail", "user:3"),
            ("service", "webhooks"),
        ])
        .to_rule()
        .unwrap();
        assert_eq!(rule.name, "Checkout errors");
        assert_eq!(
            (rule.action_match, rule.filter_match),
            (Match::All, Match::Any)
        );
        assert_eq!(rule.frequency_minutes, 60);
        assert_eq!(rule.environment.as_deref(), Some("production"));
        assert_eq!(
            rule.conditions,
            [Condition::EventFrequency {
                value: 100,
                interval: Interval::Hour
            }]
        );
        assert_eq!(rule.filters.len(), 4, "{:?}", rule.filters);
        assert!(rule.filters.contains(&Filter::Tagged {
            key: "browser".into(),
            compare: TagMatch::StartsWith,
            value: "Chrome".into()
        }));
        assert!(
            rule.filters
                .contains(&Filter::AssignedTo(AssignedTarget::Team(7)))
        );
        assert_eq!(
            rule.actions,
            [
                Action::NotifyEmail(EmailTarget::Member(3)),
                Action::NotifyService {
                    service: "webhooks".into()
                }
            ]
        );
    }

    #[test]
    fn a_bad_field_is_named_with_the_apis_message() {
        let errors = form(&[
            ("name", ""),
            ("event_count", "on"),
            ("event_value", "lots"),
            ("event_interval", "1h"),
            ("mail", ""),
        ])
        .to_rule()
        .unwrap_err();
        assert!(errors.0.contains_key("name"), "{errors}");
        assert!(errors.0["conditions"][0].contains("value"), "{errors}");
        assert!(errors.0.contains_key("actions"), "{errors}");
    }

    #[test]
    fn a_stored_rule_fills_the_form_and_comes_back_unchanged() {
        let mut rule = AlertRule::project_default();
        rule.conditions.push(Condition::UniqueUserFrequency {
            value: 5,
            interval: Interval::Day,
        });
        rule.filters = vec![
            Filter::IssueOccurrences { value: 3 },
            Filter::LatestRelease,
            Filter::Attribute {
                attribute: EventAttribute::HttpUrl,
                compare: TagMatch::Contains,
                value: "/checkout".into(),
            },
        ];
        rule.actions.push(Action::NotifyAllPlugins);
        let form = RuleForm::from_rule(&rule).expect("fits");
        assert!(same_rule(&form.to_rule().unwrap(), &rule));
        assert_eq!(
            RuleForm::from_rule(&AlertRule::project_default())
                .unwrap()
                .mail,
            "owners"
        );
    }

    #[test]
    fn a_rule_with_more_than_the_slots_hold_does_not_fit() {
        let tag = |key: &str| Filter::Tagged {
            key: key.into(),
            compare: TagMatch::Equals,
            value: "x".into(),
        };
        let mut rule = AlertRule::project_default();
        rule.filters = (0..=TAG_ROWS).map(|i| tag(&format!("k{i}"))).collect();
        assert_eq!(RuleForm::from_rule(&rule), None);
        rule.filters.truncate(TAG_ROWS);
        assert!(RuleForm::from_rule(&rule).is_some());
        rule.conditions.push(Condition::EventFrequency {
            value: 1,
            interval: Interval::Minute,
        });
        rule.conditions.push(Condition::EventFrequency {
            value: 9,
            interval: Interval::Day,
        });
        assert_eq!(RuleForm::from_rule(&rule), None);
    }
}
