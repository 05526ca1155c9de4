//! `errhound plugins list`: the registry as `serve` builds it, as a table.

use errhound_config::Config;
use errhound_notify::PluginRegistry;

use crate::accounts::table;

/// The table of every plugin: built-ins, then the external ones of `plugins.path` (those that
/// failed to describe themselves with their error in STATUS).
pub async fn list(config: &Config) -> anyhow::Result<String> {
    // The mailer is not needed to describe the mail plugin.
    let registry = PluginRegistry::from_config(config, None)
        .await
        .map_err(anyhow::Error::msg)?;
    let rows = registry
        .list()
        .iter()
        .map(|entry| match &entry.plugin {
            Ok(plugin) => {
                let description = plugin.describe();
                vec![
                    entry.id.clone(),
                    description.title.clone(),
                    description.kind.as_str().to_owned(),
                    description.version.clone(),
                    entry.source.to_string(),
                    "ok".to_owned(),
                ]
            }
            Err(message) => vec![
                entry.id.clone(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                entry.source.to_string(),
                format!("error: {}", message.replace(['\r', '\n'], " ")),
            ],
        })
        .collect();
    Ok(table(
        &["ID", "TITLE", "KIND", "VERSION", "SOURCE", "STATUS"],
        rows,
    ))
}
