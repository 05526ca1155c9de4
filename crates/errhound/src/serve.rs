//! `errhound serve`: wires the database, the spool, the processing pipeline, the background
//! tasks and HTTP together, and shuts them down in order (stop accepting, drain requests, stop
//! the background tasks, finish the batch in flight).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use errhound_config::Config;
use errhound_ingest::{Pipeline, PipelineOptions};
use errhound_queue::{Queue, Spool, SpoolOptions};
use errhound_store::payload::PayloadDictionaries;
use errhound_web::AppState;
use metrics_exporter_prometheus::PrometheusBuilder;

use crate::tasks::Runner;
use crate::{alerting, bootstrap, maintenance};

/// Slowest whole request (including the body upload) before the server answers 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    // Bind first: if the port is taken, fail before a first start generates a password nobody
    // would see.
    let bind = config.bind_addr();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    // Checked at start-up, so a bad `mail.from` stops the server instead of the first mail.
    // Nothing connects until a mail is sent.
    let mailer = errhound_notify::Mailer::from_config(&config.mail)
        .context("invalid [mail] configuration")?;
    match &mailer {
        Some(mailer) => {
            tracing::info!(mail.server = %mailer.server(), mail.from = %mailer.from_address(), "mail: sending through the SMTP server")
        }
        None => tracing::info!("mail is not configured: no e-mail will be sent ([mail] url)"),
    }
    match (config.auth.allow_registration, mailer.is_some()) {
        (true, true) => {
            tracing::info!("sign-up is open: /auth/register/ ([auth] allow_registration)")
        }
        (true, false) => tracing::warn!(
            "[auth] allow_registration is on but mail is not configured: sign-up stays closed, \
             since it confirms addresses by mail"
        ),
        (false, _) => {}
    }
    let db = bootstrap::open_database(&config).await?;
    let first_start = bootstrap::first_start(&db, &config).await?;
    let queue: Queue = Spool::open(&config.spool_path(), SpoolOptions::default())
        .await
        .with_context(|| format!("cannot open the spool {}", config.spool_path().display()))?
        .into();
    let dictionaries = Arc::new(PayloadDictionaries::new());
    let mut conn = db.write().await?;
    dictionaries
        .load_all(&mut conn.conn())
        .await
        .context("cannot load payload dictionaries")?;
    drop(conn);
    let pipeline = Pipeline::start(
        queue.clone(),
        db.clone(),
        dictionaries.clone(),
        PipelineOptions {
            batch_size: config.worker.batch_size,
            threads: config.worker.threads,
            linger: Duration::from_millis(config.worker.linger_ms),
        },
    );

    let key =
        Arc::new(errhound_notify::ServerKey::load(&config).context("cannot load the server key")?);
    let registry = Arc::new(
        errhound_notify::PluginRegistry::from_config(&config, mailer.clone())
            .await
            .map_err(anyhow::Error::msg)
            .context("cannot set up the plugins")?,
    );
    let sender = errhound_notify::deliver::Sender {
        db: db.clone(),
        dictionaries: dictionaries.clone(),
        registry,
        key,
        public_url: config.public_url(),
        digest_max: i64::try_from(config.notify.digest_max).unwrap_or(i64::MAX),
        lease_ms: config.notify.lease_ms(),
    };
    let mut background = maintenance::tasks(&db, &config.tasks);
    background.extend(alerting::tasks(&db, &dictionaries, &config, sender.clone()));
    let tasks = Runner::start(background);

    let public_url = config.public_url();
    let settings = pipeline.settings().clone();
    let state = AppState::new(db.clone(), queue, dictionaries, config, Some(metrics))
        .with_settings_hook(Arc::new(move |project_id| settings.invalidate(project_id)))
        .with_mailer(mailer)
        .with_alerting(sender);
    let app =
        errhound_web::router(state).layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));

    announce(&db, &public_url, first_start).await?;
    tracing::info!(address = %bind, "listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("the HTTP server failed")?;

    tracing::info!("stopping: finishing the batch in flight");
    tasks.shutdown().await;
    pipeline.shutdown().await;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Prints where to send events (and, on the first start, how to log in).
async fn announce(
    db: &errhound_store::Db,
    public_url: &str,
    first_start: Option<bootstrap::FirstStart>,
) -> anyhow::Result<()> {
    println!("Errhound is running at {public_url}");
    match bootstrap::default_dsn(db, public_url).await? {
        Some(dsn) => println!("DSN: {dsn}"),
        None => println!("DSN: none (no active key in the first project)"),
    }
    if let Some(first) = first_start {
        match first.generated_password {
            Some(password) => println!(
                "Login: {} / {password}  (generated; shown only now)",
                first.admin_email
            ),
            None => println!(
                "Login: {} (password from ERRHOUND_ADMIN_PASSWORD)",
                first.admin_email
            ),
        }
        println!(
            "API token: errhound token create --email {}",
            first.admin_email
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}
