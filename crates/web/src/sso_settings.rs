//! An organization's single sign-on provider as its owners set it up (Sentry's
//! `/api/0/organizations/{org}/auth-provider/`; the settings page will call the same): the
//! provider and its configuration, checked against the settings the provider declares
//! (`domain::sso::providers`), secrets sealed with the server key and never shown back, and the
//! policy that goes with it (the default role of members it brings in, whether members must use
//! it, the e-mail domains it admits). Every change is audited.

use errhound_domain::plugin::settings::{self, SettingErrors, SettingValues};
use errhound_domain::sso::providers::{self, ProviderDescription};
use errhound_domain::{AuditAction, Role};
use errhound_notify::ServerKey;
use errhound_notify::deliver::settings_of;
use errhound_store::auth_providers::{self, AuthProvider, ProviderSettings};
use errhound_store::{StoreError, audit, now_ms};
use std::collections::BTreeMap;

use errhound_domain::sso::GroupMapping;
use errhound_store::teams;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::api::access::Grant;
use crate::lifecycle::ChangeError;
use crate::plugin_settings::SettingsChangeError;

/// The organization's provider with its description.
#[derive(Debug, Clone)]
pub struct SsoSetup {
    /// As stored (secrets sealed).
    pub stored: AuthProvider,
    /// The provider's description.
    pub description: ProviderDescription,
    /// The organization's teams by id (the group mappings name them by slug).
    pub team_slugs: BTreeMap<i64, String>,
}

impl SsoSetup {
    /// The configuration as Sentry's `config` list: each setting with its value, secrets only
    /// as `hasSavedValue`.
    pub fn config(&self) -> Value {
        settings::shown(
            &self.description.settings,
            &settings_of(&self.stored.config),
        )
    }

    /// The group mappings as the API shows and takes them: `[{"group", "team"}]`, the team by
    /// slug (a mapping of a deleted team is left out; it joins nobody).
    pub fn group_mappings(&self) -> Value {
        self.stored
            .group_mappings
            .iter()
            .filter_map(|m| {
                let team = self.team_slugs.get(&m.team_id)?;
                Some(json!({"group": m.group, "team": team}))
            })
            .collect()
    }
}

/// Most group mappings a provider may have.
const MAX_GROUP_MAPPINGS: usize = 200;
/// Longest group name.
const MAX_GROUP_CHARS: usize = 256;

async fn team_slugs(
    state: &AppState,
    organization_id: i64,
) -> Result<BTreeMap<i64, String>, StoreError> {
    let mut conn = state.db.read_latest().await?;
    let teams = teams::list_for_org(&mut conn.conn(), organization_id).await?;
    Ok(teams.into_iter().map(|t| (t.id, t.slug)).collect())
}

/// The `group_mappings` of a body (`[{"group": "...", "team": "<slug>"}]`), the teams resolved
/// among `team_slugs`.
fn group_mappings_of(
    body: &Map<String, Value>,
    team_slugs: &BTreeMap<i64, String>,
    errors: &mut SettingErrors,
) -> Option<Vec<GroupMapping>> {
    let items = match body.get("group_mappings")? {
        Value::Array(items) if items.len() <= MAX_GROUP_MAPPINGS => items,
        _ => {
            errors.0.insert(
                "group_mappings".to_owned(),
                format!("Must be a list of at most {MAX_GROUP_MAPPINGS} {{\"group\", \"team\"}} objects."),
            );
            return None;
        }
    };
    let mut mappings = Vec::with_capacity(items.len());
    for item in items {
        let group = item.get("group").and_then(Value::as_str).map(str::trim);
        let team = item.get("team").and_then(Value::as_str);
        let problem = match (group, team) {
            (Some(group), Some(team))
                if !group.is_empty() && group.chars().count() <= MAX_GROUP_CHARS =>
            {
                match team_slugs.iter().find(|(_, slug)| slug.as_str() == team) {
                    Some((id, _)) => {
                        mappings.push(GroupMapping {
                            group: group.to_owned(),
                            team_id: *id,
                        });
                        continue;
                    }
                    None => format!("This organization has no team \"{team}\"."),
                }
            }
            _ => format!(
                "Each needs a \"group\" (1 to {MAX_GROUP_CHARS} characters) and a \"team\" slug."
            ),
        };
        errors.0.insert("group_mappings".to_owned(), problem);
        return None;
    }
    mappings.sort_by(|a, b| (&a.group, a.team_id).cmp(&(&b.group, b.team_id)));
    mappings.dedup();
    Some(mappings)
}

const NO_PROVIDER: &str = "This organization has no single sign-on provider.";

/// The roles a provider may give the members it brings in: never owner, which only an owner
/// gives, to someone they know.
const DEFAULT_ROLES: [Role; 3] = [Role::Member, Role::Admin, Role::Manager];

fn server_key(state: &AppState) -> Result<&ServerKey, SettingsChangeError> {
    state
        .server_key
        .as_deref()
        .ok_or(SettingsChangeError::Change(ChangeError::NotFound(
            "Single sign-on needs the server key, which this server has not loaded.",
        )))
}

/// The organization's provider, if it has one (and it is one this server knows).
pub async fn get(state: &AppState, organization_id: i64) -> Result<Option<SsoSetup>, StoreError> {
    let mut conn = state.db.read_latest().await?;
    let stored = auth_providers::get(&mut conn.conn(), organization_id).await?;
    drop(conn);
    let Some((stored, description)) = stored.and_then(|stored| {
        let description = state.sso.description(&stored.provider)?;
        Some((stored, description))
    }) else {
        return Ok(None);
    };
    Ok(Some(SsoSetup {
        stored,
        description,
        team_slugs: team_slugs(state, organization_id).await?,
    }))
}

/// The policy fields of a body, each `None` when left out.
#[derive(Debug, Default)]
struct Policy {
    default_role: Option<Role>,
    require_sso: Option<bool>,
    allowed_domains: Option<Vec<String>>,
}

fn policy_of(body: &Map<String, Value>, errors: &mut SettingErrors) -> Policy {
    let mut policy = Policy::default();
    let mut invalid = |key: &str, message: &str| {
        errors.0.insert(key.to_owned(), message.to_owned());
    };
    match body.get("default_role") {
        None => {}
        Some(Value::String(name)) => {
            match Role::parse(name).filter(|r| DEFAULT_ROLES.contains(r)) {
                Some(role) => policy.default_role = Some(role),
                None => invalid("default_role", "Must be one of member, admin, manager."),
            }
        }
        Some(_) => invalid("default_role", "Must be one of member, admin, manager."),
    }
    match body.get("require_link") {
        None => {}
        Some(Value::Bool(on)) => policy.require_sso = Some(*on),
        Some(_) => invalid("require_link", "Must be true or false."),
    }
    match body.get("allowed_domains") {
        None => {}
        Some(Value::Array(items)) => {
            let domains: Option<Vec<String>> = items
                .iter()
                .map(|item| item.as_str().and_then(normalized_domain))
                .collect();
            match domains {
                Some(mut domains) => {
                    domains.sort();
                    domains.dedup();
                    policy.allowed_domains = Some(domains);
                }
                None => invalid(
                    "allowed_domains",
                    "Each must be a domain such as example.com.",
                ),
            }
        }
        Some(_) => invalid("allowed_domains", "Must be a list of domains."),
    }
    policy
}

/// `text` as an allowed domain (lowercase), when it is one.
fn normalized_domain(text: &str) -> Option<String> {
    let domain = text.trim().trim_start_matches('@').to_ascii_lowercase();
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    (domain.contains('.') && domain.len() <= 253 && labels_ok).then_some(domain)
}

/// The provider's settings from `body`'s `config` on top of `current` (opened), checked, with
/// every required one given.
fn config_of(
    provider: &ProviderDescription,
    current: &SettingValues,
    body: &Map<String, Value>,
    errors: &mut SettingErrors,
) -> Option<SettingValues> {
    let empty = Map::new();
    let config = match body.get("config") {
        None => &empty,
        Some(Value::Object(config)) => config,
        Some(_) => {
            errors
                .0
                .insert("config".to_owned(), "Must be an object.".to_owned());
            return None;
        }
    };
    match settings::validate(&provider.settings, current, config) {
        Ok(values) => {
            for spec in settings::missing(&provider.settings, &values) {
                errors
                    .0
                    .insert(spec.key.clone(), "This field is required.".to_owned());
            }
            errors.0.extend(providers::check(provider, &values).0);
            Some(values)
        }
        Err(invalid) => {
            // Name the missing ones too, so one answer lists everything to fix.
            for spec in settings::missing(&provider.settings, current) {
                let given = config
                    .get(&spec.key)
                    .is_some_and(|v| v.as_str().is_none_or(|text| !text.trim().is_empty()));
                if !given {
                    errors
                        .0
                        .insert(spec.key.clone(), "This field is required.".to_owned());
                }
            }
            errors.0.extend(invalid.0);
            None
        }
    }
}

/// Sets up the organization's provider (`POST`): `provider`, its `config`, and the policy
/// (`default_role`, default member; `require_link`, default false; `allowed_domains`, default
/// any). 409 when one is set up already.
pub async fn set_up(
    state: &AppState,
    grant: &Grant,
    body: &Map<String, Value>,
) -> Result<SsoSetup, SettingsChangeError> {
    let key = server_key(state)?;
    let mut errors = SettingErrors::default();
    let provider = match body.get("provider").and_then(Value::as_str) {
        Some(name) => state.sso.description(name),
        None => None,
    };
    let Some(provider) = provider else {
        let known = state.sso.keys();
        errors.0.insert(
            "provider".to_owned(),
            format!("Must be one of {}.", known.join(", ")),
        );
        return Err(SettingsChangeError::Invalid(errors));
    };
    let policy = policy_of(body, &mut errors);
    let team_slugs = team_slugs(state, grant.org.id).await?;
    let mappings = group_mappings_of(body, &team_slugs, &mut errors).unwrap_or_default();
    let values = config_of(&provider, &SettingValues::default(), body, &mut errors);
    let (Some(values), true) = (values, errors.0.is_empty()) else {
        return Err(SettingsChangeError::Invalid(errors));
    };
    let config = sealed_json(key, &provider, &values);
    let domains = policy.allowed_domains.unwrap_or_default();
    let settings = ProviderSettings {
        provider: provider.key,
        config: &config,
        default_role: policy.default_role.unwrap_or(Role::Member),
        require_sso: policy.require_sso.unwrap_or(false),
        allowed_domains: &domains,
        group_mappings: &mappings,
    };
    let mut tx = state.db.begin().await?;
    let stored = auth_providers::create(&mut tx.conn(), grant.org.id, &settings, now_ms())
        .await
        .map_err(|error| match error {
            e if e.is_unique_violation() => ChangeError::Conflict(
                "This organization has a single sign-on provider already: change or remove it.",
            ),
            e => ChangeError::Store(e),
        })?;
    record(&mut tx, grant, AuditAction::SsoEnable, &stored).await?;
    tx.commit().await?;
    tracing::info!(
        organization.id = grant.org.id,
        provider = provider.key,
        "single sign-on set up"
    );
    Ok(SsoSetup {
        stored,
        description: provider,
        team_slugs,
    })
}

/// Changes the organization's provider (`PUT`): its `config` on top of the saved one (a secret
/// sent empty keeps the saved one) and any policy field given. The provider itself stays: to
/// change it, remove this one and set up the other.
pub async fn change(
    state: &AppState,
    grant: &Grant,
    body: &Map<String, Value>,
) -> Result<SsoSetup, SettingsChangeError> {
    let key = server_key(state)?;
    let Some(current) = get(state, grant.org.id).await? else {
        return Err(ChangeError::NotFound(NO_PROVIDER).into());
    };
    let provider = &current.description;
    let mut errors = SettingErrors::default();
    if let Some(name) = body.get("provider")
        && name.as_str() != Some(provider.key)
    {
        errors.0.insert(
            "provider".to_owned(),
            "The provider cannot change: remove it, then set up the other.".to_owned(),
        );
    }
    let policy = policy_of(body, &mut errors);
    let mappings = group_mappings_of(body, &current.team_slugs, &mut errors)
        .unwrap_or_else(|| current.stored.group_mappings.clone());
    let opened = key.open_settings(&provider.settings, &settings_of(&current.stored.config))?;
    let values = config_of(provider, &opened, body, &mut errors);
    let (Some(values), true) = (values, errors.0.is_empty()) else {
        return Err(SettingsChangeError::Invalid(errors));
    };
    let config = sealed_json(key, provider, &values);
    let domains = policy
        .allowed_domains
        .unwrap_or_else(|| current.stored.allowed_domains.clone());
    let settings = ProviderSettings {
        provider: provider.key,
        config: &config,
        default_role: policy.default_role.unwrap_or(current.stored.default_role),
        require_sso: policy.require_sso.unwrap_or(current.stored.require_sso),
        allowed_domains: &domains,
        group_mappings: &mappings,
    };
    let mut tx = state.db.begin().await?;
    let Some(stored) =
        auth_providers::update(&mut tx.conn(), grant.org.id, &settings, now_ms()).await?
    else {
        return Err(ChangeError::NotFound(NO_PROVIDER).into());
    };
    record(&mut tx, grant, AuditAction::SsoEdit, &stored).await?;
    tx.commit().await?;
    tracing::info!(
        organization.id = grant.org.id,
        provider = provider.key,
        "single sign-on changed"
    );
    Ok(SsoSetup {
        stored,
        description: current.description,
        team_slugs: current.team_slugs,
    })
}

/// Removes the organization's provider (`DELETE`): members log in with their passwords again.
pub async fn remove(state: &AppState, grant: &Grant) -> Result<(), SettingsChangeError> {
    let mut tx = state.db.begin().await?;
    let Some(stored) = auth_providers::get(&mut tx.conn(), grant.org.id).await? else {
        return Err(ChangeError::NotFound(NO_PROVIDER).into());
    };
    auth_providers::delete(&mut tx.conn(), grant.org.id).await?;
    record(&mut tx, grant, AuditAction::SsoDisable, &stored).await?;
    tx.commit().await?;
    tracing::info!(organization.id = grant.org.id, provider = %stored.provider, "single sign-on removed");
    Ok(())
}

/// A configuration to try before it is saved ("test this configuration"): `body` as for
/// [`set_up`] and [`change`] (the policy fields are not needed), checked the same way, on top
/// of the saved configuration when it is for the saved provider (so a secret left empty is the
/// saved one). The provider and its settings, secrets open.
pub async fn candidate(
    state: &AppState,
    grant: &Grant,
    body: &Map<String, Value>,
) -> Result<(ProviderDescription, SettingValues), SettingsChangeError> {
    let key = server_key(state)?;
    let current = get(state, grant.org.id).await?;
    let named = body.get("provider").and_then(Value::as_str);
    let provider = match (named, &current) {
        (Some(name), _) => state.sso.description(name),
        (None, Some(current)) => Some(current.description.clone()),
        (None, None) => None,
    };
    let mut errors = SettingErrors::default();
    let Some(provider) = provider else {
        errors.0.insert(
            "provider".to_owned(),
            format!("Must be one of {}.", state.sso.keys().join(", ")),
        );
        return Err(SettingsChangeError::Invalid(errors));
    };
    let saved = match &current {
        Some(current) if current.description.key == provider.key => {
            key.open_settings(&provider.settings, &settings_of(&current.stored.config))?
        }
        _ => SettingValues::default(),
    };
    let values = config_of(&provider, &saved, body, &mut errors);
    match (values, errors.0.is_empty()) {
        (Some(values), true) => Ok((provider, values)),
        _ => Err(SettingsChangeError::Invalid(errors)),
    }
}

/// `values` as stored: secrets sealed.
pub fn sealed_json(
    key: &ServerKey,
    provider: &ProviderDescription,
    values: &SettingValues,
) -> String {
    let sealed = key.seal_opened(&provider.settings, values);
    Value::Object(sealed.0.into_iter().collect()).to_string()
}

async fn record(
    tx: &mut errhound_store::Tx,
    grant: &Grant,
    action: AuditAction,
    stored: &AuthProvider,
) -> Result<(), StoreError> {
    audit::record(
        &mut tx.conn(),
        grant.org.id,
        &grant.audit_actor(),
        action,
        None,
        &json!({
            "provider": stored.provider,
            "default_role": stored.default_role.as_str(),
            "require_link": stored.require_sso,
        }),
        now_ms(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_domains_are_lowercase_domains() {
        assert_eq!(
            normalized_domain(" @Corp.Example ").as_deref(),
            Some("corp.example")
        );
        for bad in ["corp", "a@b.c", "corp..example", "", "exa mple.com", "-"] {
            assert_eq!(normalized_domain(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_policy_fields_are_checked_by_name() {
        let body = json!({"default_role": "owner", "require_link": "yes", "allowed_domains": ["ok.test", "bad"]});
        let mut errors = SettingErrors::default();
        policy_of(body.as_object().unwrap(), &mut errors);
        let keys: Vec<&str> = errors.0.keys().map(String::as_str).collect();
        assert_eq!(keys, ["allowed_domains", "default_role", "require_link"]);

        let body = json!({"default_role": "manager", "require_link": true, "allowed_domains": ["B.test", "a.test", "b.test"]});
        let mut errors = SettingErrors::default();
        let policy = policy_of(body.as_object().unwrap(), &mut errors);
        assert!(errors.0.is_empty(), "{errors:?}");
        assert_eq!(policy.default_role, Some(Role::Manager));
        assert_eq!(policy.require_sso, Some(true));
        assert_eq!(
            policy.allowed_domains,
            Some(vec!["a.test".to_owned(), "b.test".to_owned()])
        );
    }
}
