//! Hot reload: the config the server started with is read and checked in full; only a
//! valid one replaces the running plan, in one atomic swap, and calls in flight keep
//! their places. A broken edit leaves routing on the old config, says why in the log
//! and to the caller, and is counted.
//!
//! Three triggers lead here: `Admin.ReloadConfig`, SIGHUP, and a change to the config's
//! files, noticed by looking at their sizes and modification times four times a second
//! (no platform file-watching API, so it behaves the same on every filesystem, including
//! files replaced by rename as editors and deploy tools do).

use std::{
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, SystemTime},
};

use switchboard_config::{ConfigError, ConfigFiles};

use crate::{App, error::ApiError};

/// How often the config's files are looked at.
const POLL: Duration = Duration::from_millis(250);

/// The sizes and modification times of the config's files.
pub(crate) type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    applied: AtomicU64,
    failed: AtomicU64,
    /// One reload at a time, whatever asked for it.
    running: Mutex<()>,
    /// The files as they were when last read, so the watcher reloads on a change made
    /// since, and only once for each.
    read: Mutex<Fingerprint>,
}

impl Counters {
    fn read(&self) -> std::sync::MutexGuard<'_, Fingerprint> {
        self.read.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl App {
    /// Reloads come from this config file or directory, read just before: on
    /// `Admin.ReloadConfig`, on SIGHUP and, unless `server.reload_on_change` is off, when
    /// its files change.
    /// The config's path as shown in the audit trail.
    pub(crate) fn config_path_shown(&self) -> String {
        self.config_path.as_deref().map_or_else(
            || "embedded default config".to_owned(),
            |p| p.display().to_string(),
        )
    }

    pub fn with_config_path(mut self, path: PathBuf) -> Self {
        *self.reloads.read() = fingerprint(&path);
        self.config_path = Some(std::sync::Arc::new(path));
        self
    }
}

/// Reloads since the server started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadCounts {
    pub applied: u64,
    pub failed: u64,
}

/// What a reload did: applied, or refused with every error; warnings either way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadOutcome {
    pub applied: bool,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl App {
    pub fn reload_counts(&self) -> ReloadCounts {
        ReloadCounts {
            applied: self.reloads.applied.load(Relaxed),
            failed: self.reloads.failed.load(Relaxed),
        }
    }

    /// Reads the config again and applies it if valid. Blocking (file reads, checking a
    /// large config): call it from a blocking thread. `trigger` names the cause in logs.
    pub fn reload(&self, trigger: &str) -> Result<ReloadOutcome, ApiError> {
        let path = self.config_path.as_deref().ok_or(ApiError::NoConfigFile)?;
        let _one = self
            .reloads
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let outcome = self.apply(path);
        if outcome.applied {
            self.reloads.applied.fetch_add(1, Relaxed);
            tracing::info!(
                trigger,
                path = %path.display(),
                warnings = outcome.warnings.len(),
                "config reloaded"
            );
        } else {
            self.reloads.failed.fetch_add(1, Relaxed);
            tracing::error!(
                trigger,
                path = %path.display(),
                "config reload refused; routing stays on the running config"
            );
            for e in &outcome.errors {
                tracing::error!("{e}");
            }
        }
        for w in &outcome.warnings {
            tracing::warn!("{w}");
        }
        Ok(outcome)
    }

    fn apply(&self, path: &Path) -> ReloadOutcome {
        let refused = |errors: Vec<String>, warnings: Vec<String>| ReloadOutcome {
            applied: false,
            errors,
            warnings,
        };
        // Taken before reading, so an edit made while this runs is seen as a change.
        *self.reloads.read() = fingerprint(path);
        let running = self.router.plan();
        let config = match ConfigFiles::read(path).and_then(|f| f.compile(Some(&running))) {
            Ok(c) => c,
            Err(e @ ConfigError::Io { .. }) => return refused(vec![e.to_string()], vec![]),
            Err(ConfigError::Invalid { errors, warnings }) => {
                let mut lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                lines.push(format!(
                    "{}: {} in config; the running config stays",
                    path.display(),
                    plural(errors.len(), "error")
                ));
                return refused(lines, warnings.iter().map(ToString::to_string).collect());
            }
        };
        let mut warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
        let settings = self.settings();
        for key in config.settings.restart_only_changes(&settings) {
            warnings.push(format!(
                "{}: {key} changed: it takes effect at the next start",
                path.display()
            ));
        }
        let now = self.clock.now();
        let reloaded = match self.router.reload(config.plan, now) {
            Ok(r) => r,
            Err(e) => return refused(vec![format!("{}: {e}", path.display())], warnings),
        };
        // Keys that need a restart keep their running values until then.
        let mut next = config.settings;
        next.listen = settings.listen;
        next.metrics_listen = settings.metrics_listen;
        next.security.clone_from(&settings.security);
        next.customers.clone_from(&settings.customers);
        self.settings.store(std::sync::Arc::new(next));
        if reloaded.moved > 0 {
            tracing::warn!(
                calls = reloaded.moved,
                "calls of removed queues moved to calls.fallback_queue"
            );
        }
        for a in &reloaded.assignments {
            self.dispatch.send(&self.router, a, now);
        }
        // Waiting calls may have moved or been re-keyed: the journal writes them again.
        if self.store.is_some() {
            for id in self.router.acd().waiting_ids() {
                self.mark_call(&id);
            }
        }
        ReloadOutcome {
            applied: true,
            errors: vec![],
            warnings,
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The sizes and modification times of the config's files: a file, or a directory's
/// `*.toml` files by name. Unreadable entries count as changes when they come back.
fn fingerprint(path: &Path) -> Fingerprint {
    let stat = |p: PathBuf| {
        let meta = std::fs::metadata(&p).ok();
        let len = meta.as_ref().map_or(u64::MAX, std::fs::Metadata::len);
        let modified = meta.and_then(|m| m.modified().ok());
        (p, len, modified)
    };
    if !path.is_dir() {
        return vec![stat(path.to_path_buf())];
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.into_iter().map(stat).collect()
}

/// Listens for SIGHUP and watches the config's files, reloading on each. Call it from
/// within the runtime before announcing the server, so that a SIGHUP sent as soon as it
/// is up finds the handler in place (the default action would end the process).
pub(crate) fn reload_triggers(app: App) -> Option<tokio::task::JoinHandle<()>> {
    let path = app.config_path.clone()?;
    let hangups = hangups();
    Some(tokio::spawn(async move {
        let watch = watch_files(app.clone(), path.to_path_buf());
        tokio::join!(on_sighup(app, hangups), watch);
    }))
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangups() -> Hangups {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reload with Admin.ReloadConfig");
        })
        .ok()
}

#[cfg(not(unix))]
fn hangups() -> Hangups {}

async fn run_reload(app: &App, trigger: &'static str) {
    let app = app.clone();
    let reloaded = tokio::task::spawn_blocking(move || {
        if let Ok(outcome) = app.reload(trigger) {
            app.audit_host(
                trigger,
                "reload",
                &app.config_path_shown(),
                crate::audit::reload_outcome(&outcome),
            );
        }
    })
    .await;
    if let Err(e) = reloaded {
        tracing::error!(error = %e, "reload task failed");
    }
}

#[cfg(unix)]
async fn on_sighup(app: App, hangups: Hangups) {
    let Some(mut hangups) = hangups else { return };
    while hangups.recv().await.is_some() {
        run_reload(&app, "SIGHUP").await;
    }
}

#[cfg(not(unix))]
async fn on_sighup(_: App, _: Hangups) {}

async fn watch_files(app: App, path: PathBuf) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A change is applied once the files have stopped changing for one look, so a file
    // caught half-written is not reported as broken.
    let mut settling: Option<Fingerprint> = None;
    loop {
        tick.tick().await;
        if !app.settings().reload_on_change {
            continue;
        }
        let now = fingerprint(&path);
        if now == *app.reloads.read() {
            settling = None;
        } else if settling.as_ref() == Some(&now) {
            settling = None;
            run_reload(&app, "file change").await;
        } else {
            settling = Some(now);
        }
    }
}
