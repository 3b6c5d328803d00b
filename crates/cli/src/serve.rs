//! `switchboard serve`

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context;
use switchboard_config::{Config, ConfigError};
use switchboard_server::{App, CustomerSource, StartError, SystemClock};
use switchboard_store::StoreError;

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
    // --listen is checked as the config's own address is.
    if let Some(refusal) = config.settings.security.refusal(listen) {
        crate::fail_line(&format!("switchboard: not starting: --listen {refusal}"));
        return Ok(ExitCode::from(crate::EXIT_BAD_CONFIG));
    }
    let metrics_listen = args
        .metrics_listen
        .map_or(config.settings.metrics_listen, |m| m.0);
    let (mut app, loaded) = match App::with_store(config, &customers, Arc::new(SystemClock)) {
        Ok(started) => started,
        Err(StartError::Store(e @ StoreError::Locked { .. })) => {
            crate::fail_line(&format!("switchboard: not starting: {e}"));
            return Ok(ExitCode::from(crate::EXIT_STORE_IN_USE));
        }
        Err(StartError::Store(e)) => {
            crate::fail_line(&format!("switchboard: not starting: {e}"));
            return Ok(ExitCode::from(crate::EXIT_STORE));
        }
        Err(e) => return Err(e.into()),
    };
    match switchboard_server::raise_descriptor_limit() {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    if let Some(path) = &args.config {
        app = app.with_config_path(path.clone());
    }
    app.on_step_down(Arc::new(start_over));
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
                    store = %loaded.store,
                    customers = report.imported,
                    rejected = report.rejected.len(),
                    "new store: customer directory loaded from the customers file and stored"
                );
            }
            None => tracing::info!(
                store = %loaded.store,
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
        let (stop, stopping) = tokio::sync::watch::channel(false);
        tokio::spawn(on_signals(app.clone(), stop));
        let stop_signal = move || {
            let mut stopping = stopping.clone();
            async move {
                let _ = stopping.wait_for(|s| *s).await;
            }
        };
        // Metrics are for people watching: a port that cannot be had is reported and
        // routing goes on without it.
        if let Some(address) = metrics_listen {
            match tokio::net::TcpListener::bind(address).await {
                Ok(metrics) => {
                    let served = app.clone();
                    let stopped = stop_signal();
                    tokio::spawn(async move {
                        if let Err(e) =
                            switchboard_server::serve_metrics(served, metrics, stopped).await
                        {
                            tracing::error!("metrics stopped: {e}");
                        }
                    });
                }
                Err(e) => tracing::error!(%address, "metrics not served: {e}"),
            }
        }
        let stopped = match switchboard_server::serve(app, listener, stop_signal()).await {
            Ok(s) => s,
            Err(e @ StartError::Security(_)) => {
                crate::fail_line(&format!("switchboard: not starting: {e}"));
                return Ok(ExitCode::from(crate::EXIT_SECURITY_FILES));
            }
            Err(e @ StartError::Insecure(_)) => {
                crate::fail_line(&format!("switchboard: not starting: {e}"));
                return Ok(ExitCode::from(crate::EXIT_BAD_CONFIG));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(match stopped.flushed {
            Ok(()) => {
                tracing::info!("switchboard stopped");
                ExitCode::SUCCESS
            }
            // Logged by the server with what was lost.
            Err(_) => ExitCode::from(crate::EXIT_STORE),
        })
    })
}

/// The first SIGTERM or Ctrl-C starts a graceful shutdown; a second one stops at once,
/// after one attempt to write what the store has not yet taken.
async fn on_signals(app: switchboard_server::App, stop: tokio::sync::watch::Sender<bool>) {
    let mut signals = Signals::new();
    signals.next().await;
    tracing::info!("signal received: stopping gracefully (a second signal stops at once)");
    let _ = stop.send(true);
    signals.next().await;
    tracing::warn!("second signal: stopping now");
    let flushed = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        tokio::task::spawn_blocking(move || app.flush_store()),
    )
    .await;
    let code = match flushed {
        Ok(Ok(Ok(()))) => {
            tracing::info!("store flushed");
            0
        }
        Ok(Ok(Err(e))) => {
            tracing::error!(error = %e, "store not flushed: changes acknowledged since the last write are lost");
            i32::from(crate::EXIT_STORE)
        }
        _ => {
            tracing::error!(
                "store flush did not finish: changes acknowledged since the last write may be lost"
            );
            i32::from(crate::EXIT_STORE)
        }
    };
    std::process::exit(code);
}

/// Ctrl-C and SIGTERM, as many times as they come.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| tracing::warn!(error = %e, "cannot listen for SIGTERM"))
                .ok(),
        }
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        let term = async {
            match &mut self.term {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
}

fn refuse(e: &ConfigError) -> ExitCode {
    for line in e.lines() {
        crate::fail_line(&line);
    }
    crate::fail_line(&format!("switchboard: not starting: {e}"));
    ExitCode::from(crate::EXIT_BAD_CONFIG)
}

/// A node that lost its routing domain's lease starts over as a standby: the binary runs
/// again in this process (same pid, same arguments), so nothing it held in memory
/// outlives the lease, and a service manager sees no exit.
///
/// `execv` directly rather than std's `Command::exec`: that one first sets SIGPIPE back
/// to its default for the whole process, and another thread writing to a socket its peer
/// closed in that moment would kill the process.
fn start_over(why: &str) {
    use std::os::unix::ffi::OsStrExt;
    tracing::error!(why, "no longer leading: starting over as a standby");
    let c = |s: &std::ffi::OsStr| std::ffi::CString::new(s.as_bytes()).ok();
    let args: Option<Vec<std::ffi::CString>> = std::env::args_os().map(|a| c(&a)).collect();
    let exe = std::env::current_exe().ok().and_then(|p| c(p.as_os_str()));
    let error = match (exe, args) {
        (Some(exe), Some(args)) => match nix::unistd::execv(&exe, &args) {
            Err(e) => e.to_string(),
            Ok(never) => match never {},
        },
        _ => "the binary's path or arguments hold a NUL byte".to_owned(),
    };
    // Only reached when the binary could not be run again.
    tracing::error!(%error, "could not start over; exiting for the service manager to restart");
    std::process::exit(i32::from(crate::EXIT_STORE));
}
