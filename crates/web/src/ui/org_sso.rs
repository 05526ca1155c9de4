//! The organization's single sign-on settings page (owners, `org:admin`): choose a provider,
//! fill in its configuration, try it ("Test this configuration" runs a login through it and
//! shows the identity it gives, before anything is saved), set the policy (default role,
//! require single sign-on, allowed e-mail domains, IdP groups mapped to teams), save or remove.
//! The rules are `crate::sso_settings`, as for the `auth-provider` API.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use errhound_domain::Role;
use errhound_domain::plugin::settings::{SettingErrors, SettingValues};
use errhound_domain::sso::providers::ProviderDescription;
use errhound_notify::deliver::settings_of;
use serde_json::{Map, Value, json};

use super::error::{UiError, UiResult};
use super::form::FormData;
use super::issue::flash_redirect;
use super::layout::Nav;
use super::login::UiUser;
use super::plugins::{FieldView, fields, form_body};
use crate::AppState;
use crate::api::access::Grant;
use crate::plugin_settings::SettingsChangeError;
use crate::sso::flow;
use crate::sso_settings::{self, SsoSetup};

/// A provider that can be chosen.
struct ProviderChoice {
    key: &'static str,
    title: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "org_sso.html")]
struct SsoPage {
    nav: Nav,
    base: String,
    /// Set up already.
    saved: bool,
    /// The provider shown (chosen or saved), if any.
    provider: Option<(String, String)>,
    choices: Vec<ProviderChoice>,
    fields: Vec<FieldView>,
    roles: Vec<(&'static str, bool)>,
    require_sso: bool,
    allowed_domains: String,
    group_mappings: String,
    login_url: String,
    callback_url: String,
    metadata_url: String,
    errors: Vec<(String, String)>,
}

fn roles(selected: Role) -> Vec<(&'static str, bool)> {
    [Role::Member, Role::Admin, Role::Manager]
        .into_iter()
        .map(|role| (role.as_str(), role == selected))
        .collect()
}

/// What the form shows: the saved setup, or what was just submitted.
struct Shown {
    description: Option<ProviderDescription>,
    values: SettingValues,
    saved_values: SettingValues,
    default_role: Role,
    require_sso: bool,
    allowed_domains: String,
    group_mappings: String,
}

impl Shown {
    fn of_saved(setup: &SsoSetup) -> Shown {
        let stored = settings_of(&setup.stored.config);
        let mappings = setup
            .group_mappings()
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|m| {
                        format!(
                            "{} = {}",
                            m["group"].as_str().unwrap_or(""),
                            m["team"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        Shown {
            description: Some(setup.description.clone()),
            values: stored.clone(),
            saved_values: stored,
            default_role: setup.stored.default_role,
            require_sso: setup.stored.require_sso,
            allowed_domains: setup.stored.allowed_domains.join(", "),
            group_mappings: mappings,
        }
    }
}

async fn render(
    state: &AppState,
    user: &UiUser,
    grant: &Grant,
    shown: Shown,
    saved: bool,
    errors: SettingErrors,
) -> UiResult {
    let nav = Nav::new(state, user, &grant.org, "organization", None).await?;
    let public = state.config.public_url();
    let public = public.trim_end_matches('/');
    let slug = &grant.org.slug;
    let field_views = shown
        .description
        .as_ref()
        .map(|d| fields(&d.settings, &shown.values, &shown.saved_values, &errors))
        .unwrap_or_default();
    let field_keys: Vec<String> = shown
        .description
        .iter()
        .flat_map(|d| d.settings.iter().map(|s| s.key.clone()))
        .collect();
    let status = if errors.0.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = SsoPage {
        nav,
        base: format!("/settings/{slug}/sso/"),
        saved,
        provider: shown
            .description
            .as_ref()
            .map(|d| (d.key.to_owned(), d.title.to_owned())),
        choices: state
            .sso
            .keys()
            .into_iter()
            .filter_map(|key| state.sso.description(key))
            .map(|d| ProviderChoice {
                key: d.key,
                title: d.title,
            })
            .collect(),
        fields: field_views,
        roles: roles(shown.default_role),
        require_sso: shown.require_sso,
        allowed_domains: shown.allowed_domains,
        group_mappings: shown.group_mappings,
        login_url: format!("{public}/auth/login/{slug}/"),
        callback_url: format!("{public}/auth/sso/"),
        metadata_url: format!("{public}/auth/saml/{slug}/metadata/"),
        // Errors of the configuration fields show at their field; the others in a list.
        errors: errors
            .0
            .into_iter()
            .filter(|(key, _)| !field_keys.contains(key))
            .collect(),
    };
    Ok((status, page).into_response())
}

/// `GET /settings/{org}/sso/` (`?provider=` chooses one when none is saved).
pub async fn page(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> UiResult {
    let params = FormData::parse(query.as_deref().unwrap_or(""));
    let setup = sso_settings::get(&state, grant.org.id).await?;
    let (shown, saved) = match &setup {
        Some(setup) => (Shown::of_saved(setup), true),
        None => (
            Shown {
                description: params
                    .get("provider")
                    .and_then(|k| state.sso.description(k)),
                values: SettingValues::default(),
                saved_values: SettingValues::default(),
                default_role: Role::Member,
                require_sso: false,
                allowed_domains: String::new(),
                group_mappings: String::new(),
            },
            false,
        ),
    };
    render(
        &state,
        &user,
        &grant,
        shown,
        saved,
        SettingErrors::default(),
    )
    .await
}

/// The API body the form stands for, and what to show again if it is refused.
fn body_of(description: &ProviderDescription, form: &FormData) -> (Map<String, Value>, Shown) {
    let config = form_body(&description.settings, form);
    let domains: Vec<String> = form
        .get("allowed_domains")
        .unwrap_or_default()
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect();
    let mapping_text = form.get("group_mappings").unwrap_or_default().to_owned();
    let mappings: Vec<Value> = mapping_text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (group, team) = line.rsplit_once('=').unwrap_or((line, ""));
            json!({"group": group.trim(), "team": team.trim()})
        })
        .collect();
    let role = form.get("default_role").unwrap_or("member").to_owned();
    let require_sso = form.get("require_link").is_some();
    let mut body = Map::new();
    body.insert("provider".into(), Value::from(description.key));
    body.insert("config".into(), Value::Object(config.clone()));
    body.insert("default_role".into(), Value::from(role.clone()));
    body.insert("require_link".into(), Value::Bool(require_sso));
    body.insert("allowed_domains".into(), Value::from(domains.clone()));
    body.insert("group_mappings".into(), Value::from(mappings));
    let shown = Shown {
        description: Some(description.clone()),
        values: SettingValues(config.into_iter().collect()),
        saved_values: SettingValues::default(),
        default_role: Role::parse(&role).unwrap_or(Role::Member),
        require_sso,
        allowed_domains: domains.join(", "),
        group_mappings: mapping_text,
    };
    (body, shown)
}

/// The provider the form is for: the saved one, else the one it names.
async fn form_provider(
    state: &AppState,
    grant: &Grant,
    form: &FormData,
) -> UiResult<(Option<SsoSetup>, ProviderDescription)> {
    let setup = sso_settings::get(state, grant.org.id).await?;
    let description = match &setup {
        Some(setup) => Some(setup.description.clone()),
        None => form.get("provider").and_then(|k| state.sso.description(k)),
    };
    let description =
        description.ok_or_else(|| UiError::bad_request("Choose a provider first."))?;
    Ok((setup, description))
}

/// `POST /settings/{org}/sso/`: saves the provider and the policy.
pub async fn save(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let (setup, description) = form_provider(&state, &grant, &form).await?;
    let (body, mut shown) = body_of(&description, &form);
    let result = match &setup {
        Some(_) => sso_settings::change(&state, &grant, &body).await,
        None => sso_settings::set_up(&state, &grant, &body).await,
    };
    match result {
        Ok(_) => {
            flash_redirect(
                &user.session,
                "Single sign-on saved.",
                &format!("/settings/{}/sso/", grant.org.slug),
            )
            .await
        }
        Err(SettingsChangeError::Invalid(errors)) => {
            if let Some(setup) = &setup {
                shown.saved_values = settings_of(&setup.stored.config);
            }
            render(&state, &user, &grant, shown, setup.is_some(), errors).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /settings/{org}/sso/test/`: runs a login through the configuration in the form,
/// without saving it; the identity provider's answer ends on a page showing the identity.
pub async fn test(
    State(state): State<AppState>,
    user: UiUser,
    grant: Grant,
    headers: HeaderMap,
    body: String,
) -> UiResult {
    let form = FormData::parse(&body);
    let (setup, description) = form_provider(&state, &grant, &form).await?;
    let (body, mut shown) = body_of(&description, &form);
    let (provider, config) = match sso_settings::candidate(&state, &grant, &body).await {
        Ok(candidate) => candidate,
        Err(SettingsChangeError::Invalid(errors)) => {
            if let Some(setup) = &setup {
                shown.saved_values = settings_of(&setup.stored.config);
            }
            return render(&state, &user, &grant, shown, setup.is_some(), errors).await;
        }
        Err(other) => return Err(other.into()),
    };
    let (binding, fresh) = super::sso::binding_of(&headers);
    let step = flow::start_test(&state, &grant.org, &user.user, &provider, &config, &binding).await;
    super::sso::answer_started(&state, &user.session, step, fresh.then_some(&binding)).await
}

/// `POST /settings/{org}/sso/delete/`: removes single sign-on; members log in with their
/// passwords again.
pub async fn remove(State(state): State<AppState>, user: UiUser, grant: Grant) -> UiResult {
    sso_settings::remove(&state, &grant).await?;
    flash_redirect(
        &user.session,
        "Single sign-on removed: members log in with their passwords.",
        &format!("/settings/{}/sso/", grant.org.slug),
    )
    .await
}
