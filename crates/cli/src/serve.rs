//! `switchboard serve`

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context;
use switchboard_config::{Config, ConfigError};
use switchboard_server::{App, CustomerSource, StartError, SystemClock};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Config file or directory; without it the embedded default config and sample
    /// customers are used. It is reloaded on SIGHUP, on Admin.ReloadConfig and (unless
    /// `server.reload_on_change = false`) when its files change.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen address, overriding `server.listen` (e.g. 127.0.0.1:0 for any free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Prometheus metrics address, overriding `server.metrics_listen`; `off` for none.
    #[arg(long, value_parser = metrics_address)]
    metrics_listen: Option<MetricsAddress>,
}

/// `--metrics-listen`: an address, or `None` for `off`.
#[derive(Clone, Copy, Debug)]
struct MetricsAddress(Option<std::net::SocketAddr>);

/// `off`, or an address with a port.
fn metrics_address(text: &str) -> Result<MetricsAddress, String> {
    if text == "off" {
        return Ok(MetricsAddress(None));
    }
    text.parse()
        .map(|a| MetricsAddress(Some(a)))
        .map_err(|_| format!("{text:?} is not an address with a port, e.g. 127.0.0.1:9464, or off"))
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (loaded, customers) = match &args.config {
        Some(path) => {
            let loaded = switchboard_config::load(path);
            let customers = match &loaded {
                Ok(c) => c
                    .settings
                    .customers
                    .clone()
                    .map_or(CustomerSource::None, CustomerSource::File),
                Err(_) => CustomerSource::None,
            };
            (loaded, customers)
        }
        None => (switchboard_config::load_default(), CustomerSource::Embedded),
    };
    let config: Config = match loaded {
        Ok(c) => c,
        Err(e) => return Ok(refuse(&e)),
    };
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let listen = args.listen.unwrap_or(config.settings.listen);
    let metrics_listen = args
        .metrics_listen
        .map_or(config.settings.metrics_listen, |m| m.0);
    let (mut app, loaded) = match App::with_store(config, &customers, Arc::new(SystemClock)) {
        Ok(started) => started,
        Err(StartError::Store(e)) => {
            eprintln!("switchboard: not starting: {e}");
            return Ok(ExitCode::from(crate::EXIT_STORE));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(path) = &args.config {
        app = app.with_config_path(path.clone());
    }
    if let Some(loaded) = &loaded {
        for note in &loaded.notes {
            tracing::warn!("{note}");
        }
        match &loaded.seeded {
            Some(report) => {
                for row in &report.rejected {
                    tracing::warn!("customers {row} (row skipped)");
                }
                tracing::info!(
                    store = %loaded.store.display(),
                    customers = report.imported,
                    rejected = report.rejected.len(),
                    "new store: customer directory loaded from the customers file and stored"
                );
            }
            None => tracing::info!(
                store = %loaded.store.display(),
                customers = app.router.directory().len(),
                "customer directory loaded from the store"
            ),
        }
        if loaded.restored_agents + loaded.restored_calls > 0 {
            tracing::info!(
                agents = loaded.restored_agents,
                calls = loaded.restored_calls,
                offers_resent = loaded.resent_offers,
                "live state restored from the journal"
            );
        }
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        // Metrics are for people watching: a port that cannot be had is reported and
        // routing goes on without it.
        if let Some(address) = metrics_listen {
            match tokio::net::TcpListener::bind(address).await {
                Ok(metrics) => {
                    let served = app.clone();
                    tokio::spawn(async move {
                        if let Err(e) =
                            switchboard_server::serve_metrics(served, metrics, stop_signal()).await
                        {
                            tracing::error!("metrics stopped: {e}");
                        }
                    });
                }
                Err(e) => tracing::error!(%address, "metrics not served: {e}"),
            }
        }
        switchboard_server::serve(app, listener, async {
            stop_signal().await;
            tracing::info!("shutting down");
        })
        .await?;
        tracing::info!("switchboard stopped");
        Ok(ExitCode::SUCCESS)
    })
}

fn refuse(e: &ConfigError) -> ExitCode {
    for line in e.lines() {
        eprintln!("{line}");
    }
    eprintln!("switchboard: not starting: {e}");
    ExitCode::from(crate::EXIT_BAD_CONFIG)
}

/// Ctrl-C or SIGTERM. Each server waits on its own; the gRPC one says it is stopping.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
