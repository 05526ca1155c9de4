//! `errhound`: the command line and composition root.
//!
//! `errhound serve` runs everything in one process: HTTP (ingest + API), the ingest spool and the
//! processing workers, on SQLite by default or PostgreSQL with `--database-url`.

mod accounts;
mod alerting;
mod bootstrap;
mod maintenance;
mod plugins;
mod serve;
mod tasks;

use std::path::PathBuf;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use errhound_config::{Config, LogFormat, Overrides};
use errhound_domain::{Role, Scope, ScopeSet};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Self-hosted error tracking for the official Sentry SDKs.
#[derive(Debug, Parser)]
#[command(name = "errhound", version, about)]
struct Cli {
    /// Configuration file (TOML). Default: ./errhound.toml when it exists. Env ERRHOUND_CONFIG.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Data directory (embedded database, spool). Default ./errhound-data. Env ERRHOUND_DATA_DIR.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: postgres://... to use PostgreSQL. Default: SQLite in the data directory.
    /// Env ERRHOUND_DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: ingest, processing and API. Creates an admin and a DSN on first start.
    Serve {
        /// Address to listen on. Default 127.0.0.1:9000. Env ERRHOUND_BIND.
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Inspect the notification and issue-tracking plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PluginsCommand {
    /// List the plugins: the built-ins and the external ones found on plugins.path (id, title,
    /// kind, version, source, and why an external one is not usable).
    List,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets hidden).
    Print,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API token: a user's personal token (--email), or an organization token for CI
    /// (--organization). The token is the last line of output.
    Create {
        /// The user's e-mail (a personal token, never allowed more than the user's roles).
        #[arg(long, required_unless_present = "organization")]
        email: Option<String>,
        /// An organization's slug (an organization token, `sntrys_...`, as sentry-cli expects).
        #[arg(long, conflicts_with = "email")]
        organization: Option<String>,
        /// A name to recognize the token by.
        #[arg(long)]
        name: Option<String>,
        /// Scopes, comma-separated (`event:read,project:releases`). Default: every scope for a
        /// personal token, `org:ci` for an organization token.
        #[arg(long, value_parser = parse_scopes)]
        scopes: Option<ScopeSet>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; prints a generated password unless --password is given.
    Create {
        /// Login e-mail.
        #[arg(long)]
        email: String,
        /// Password, at least 8 characters (default: generated and printed once).
        #[arg(long, env = "ERRHOUND_NEW_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Grant access to every organization.
        #[arg(long)]
        superuser: bool,
        /// Add the user to this organization (slug).
        #[arg(long)]
        organization: Option<String>,
        /// Role in the organization: member, admin, manager or owner.
        #[arg(long, requires = "organization", default_value = "member", value_parser = accounts::parse_role)]
        role: Role,
        /// Add the user to this team of the organization (slug); may be repeated.
        #[arg(long = "team", value_name = "TEAM", requires = "organization")]
        teams: Vec<String>,
    },
    /// List every user: e-mail, name, superuser, active, created.
    List,
    /// Set a user's password; their web sessions end (API tokens keep working).
    SetPassword {
        /// The user's e-mail.
        #[arg(long)]
        email: String,
        /// The new password, at least 8 characters (or the environment variable, which keeps it
        /// out of the process list).
        #[arg(long, env = "ERRHOUND_NEW_USER_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Disable a user: no more logins or API tokens, and their web sessions end at once.
    Disable {
        /// The user's e-mail.
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// The user's e-mail.
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organization.
    Create {
        /// URL name: lowercase letters, digits, '-' and '_', not only digits.
        #[arg(long)]
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
    },
    /// List every organization: slug, name, members, projects.
    List,
}

/// Parses `--scopes`.
fn parse_scopes(text: &str) -> Result<ScopeSet, String> {
    let scopes = ScopeSet::parse_list(text).map_err(|e| e.to_string())?;
    if scopes.is_empty() {
        return Err("name at least one scope".into());
    }
    Ok(scopes)
}

/// The environment variables clap reads as command arguments (`env = ...` on an argument), so the
/// configuration loader does not mistake them for configuration keys.
fn argument_env_vars() -> Vec<String> {
    fn collect(command: &clap::Command, out: &mut Vec<String>) {
        out.extend(
            command
                .get_arguments()
                .filter_map(clap::Arg::get_env)
                .map(|name| name.to_string_lossy().into_owned()),
        );
        for sub in command.get_subcommands() {
            collect(sub, out);
        }
    }
    let mut out = Vec::new();
    collect(&Cli::command(), &mut out);
    out.sort();
    out.dedup();
    out
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(&config.log.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let bind = match &cli.command {
        Command::Serve { bind } => bind.clone(),
        _ => None,
    };
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        bind,
        database_url: cli.database_url.clone(),
        argument_env: argument_env_vars(),
    };
    let config =
        Config::load(cli.config.as_deref(), &overrides).context("cannot load the configuration")?;
    if let Command::Config {
        command: ConfigCommand::Print,
    } = cli.command
    {
        print!("{}", config.to_redacted_toml());
        return Ok(());
    }
    init_tracing(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("errhound")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(cli.command, config))
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } => serve::serve(config).await,
        Command::Migrate => {
            let db = bootstrap::open_database(&config).await?;
            db.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Config { .. } => Ok(()),
        Command::Token {
            command:
                TokenCommand::Create {
                    email,
                    organization,
                    name,
                    scopes,
                },
        } => {
            let db = bootstrap::open_database(&config).await?;
            let (token, owner) = match (email, organization) {
                (Some(email), _) => {
                    let scopes = scopes.unwrap_or_else(ScopeSet::all);
                    let token = bootstrap::create_token(&db, &email, name.as_deref(), scopes).await;
                    (token, email)
                }
                (None, Some(org)) => {
                    let scopes = scopes.unwrap_or(ScopeSet::of(&[Scope::OrgCi]));
                    let name = name.as_deref().unwrap_or("CI");
                    let url = config.public_url();
                    let token = bootstrap::create_org_token(&db, &org, name, scopes, &url).await;
                    (token, format!("organization {org}"))
                }
                (None, None) => unreachable!("clap requires --email or --organization"),
            };
            db.close().await;
            let token = token?;
            println!(
                "Created an API token for {owner}. Send it as 'Authorization: Bearer <token>'."
            );
            println!("{token}");
            Ok(())
        }
        Command::User { command } => {
            let db = bootstrap::open_database(&config).await?;
            let result = user_command(&db, command).await;
            db.close().await;
            result
        }
        Command::Org { command } => {
            let db = bootstrap::open_database(&config).await?;
            let result = org_command(&db, command).await;
            db.close().await;
            result
        }
        Command::Plugins {
            command: PluginsCommand::List,
        } => {
            print!("{}", plugins::list(&config).await?);
            Ok(())
        }
    }
}

async fn user_command(db: &errhound_store::Db, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            email,
            password,
            superuser,
            organization,
            role,
            teams,
        } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(|| errhound_web::password::random_password(20));
            let membership = organization
                .as_deref()
                .map(|organization| accounts::Membership {
                    organization,
                    role,
                    teams: &teams,
                });
            accounts::create_user(db, &email, &password, superuser, membership).await?;
            println!("Created user {email}.");
            if let Some(organization) = &organization {
                let teams = if teams.is_empty() {
                    String::new()
                } else {
                    format!(", in teams {}", teams.join(", "))
                };
                println!("Member of {organization} as {}{teams}.", role.as_str());
            }
            if generated {
                println!("Password (shown once): {password}");
            }
        }
        UserCommand::List => print!("{}", accounts::list_users(db).await?),
        UserCommand::SetPassword { email, password } => {
            let ended = accounts::set_password(db, &email, &password).await?;
            println!("Set the password of {email}; ended {ended} web session(s).");
        }
        UserCommand::Disable { email } => {
            let ended = accounts::disable_user(db, &email).await?;
            println!("Disabled {email}; ended {ended} web session(s).");
        }
        UserCommand::Enable { email } => {
            accounts::enable_user(db, &email).await?;
            println!("Enabled {email}.");
        }
    }
    Ok(())
}

async fn org_command(db: &errhound_store::Db, command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Create { slug, name } => {
            accounts::create_org(db, &slug, name.as_deref()).await?;
            println!("Created organization {slug}.");
        }
        OrgCommand::List => print!("{}", accounts::list_orgs(db).await?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn argument_variables_come_from_the_clap_definitions() {
        let names = super::argument_env_vars();
        assert!(
            names.contains(&"ERRHOUND_NEW_USER_PASSWORD".to_owned()),
            "{names:?}"
        );
    }
}
