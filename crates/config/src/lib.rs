//! Turns Switchboard's config files into validated core types: the TOML routing config
//! (one file or a directory of them) into a [`RoutePlan`] plus server [`Settings`], and
//! customer CSV into the directory.
//! Parsing is two-stage: serde structs that refuse unknown keys, then validation that
//! resolves every name and reports every problem at once with file, line, column and
//! field path.
//!
//! Layout:
//! - `raw`: the serde structs, one to one with the TOML.
//! - `expr`: the rule condition language's lexer and parser.
//! - `condition`: condition type-checking and compilation to the core's form.
//! - `reach`: warnings for rules that can never match or are always taken first.
//! - `validate`: raw structs into the plan, collecting every error and warning, and the
//!   merging of a config directory's files.
//! - [`diagnostic`]: positioned errors, field paths from spans, did-you-mean hints.
//! - [`duration`]: `20s`, `4h`, `7d`.
//! - `limits`: shutdown, connections and the store's failure policy, and sizes
//!   (`256MiB`).
//! - [`security`]: TLS files, identities of client certificates, roles and their
//!   bindings.
//! - [`sip`]: the SIP redirect server's listeners, peers and URIs.
//! - [`store`]: where the store is: an SQLite file, or a PostgreSQL database shared by
//!   several nodes, with its TLS, pool, routing domain and lease.
//! - [`customers`]: customer CSV import with per-row errors.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use switchboard_core::{RoutePlan, acd::AgentState};

mod capacity;
mod condition;
pub mod customers;
pub mod diagnostic;
pub mod duration;
mod expr;
mod limits;
mod raw;
mod reach;
pub mod security;
pub mod sip;
pub mod store;
mod validate;

pub use diagnostic::{Diagnostic, Severity};
pub use limits::parse_size;

/// The shipped config, built into the binary so `switchboard serve` runs with no files.
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/switchboard.toml");
/// The shipped sample customers, used with [`DEFAULT_CONFIG`].
pub const DEFAULT_CUSTOMERS: &str = include_str!("../../../config/customers.csv");
/// The name the embedded config reports in diagnostics.
pub const DEFAULT_CONFIG_NAME: &str = "config/switchboard.toml (embedded)";

/// Settings of the process rather than of routing.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Where Prometheus scrapes `/metrics` over HTTP; `None` when `"off"`.
    pub metrics_listen: Option<SocketAddr>,
    /// The sliding window of the `service_level_window` metric.
    pub service_level_window: Duration,
    /// Reload the config when its files change (reloads on request and SIGHUP happen
    /// either way).
    pub reload_on_change: bool,
    /// Put the caller's number (as sent) on each call's log span, so it shows on every
    /// line logged for the call, info level included. Off by default: numbers are
    /// personal data.
    pub log_caller_numbers: bool,
    /// Calls are forgotten this long after they began, whatever their state.
    pub forget_calls_after: Duration,
    /// A call still at a menu this long after its last decision is over: the caller
    /// hung up and the switch never said so.
    pub menu_timeout: Duration,
    /// How long the switch has to report CONNECTED or NO_ANSWER for an offered call
    /// before it goes back to its queue.
    pub offer_timeout: Duration,
    /// Where an agent whose offer expired goes: not ready (default) or available.
    pub after_offer_timeout: AgentState,
    /// Offers an agent may leave unanswered in a row before going not ready.
    pub no_answers_before_not_ready: u32,
    /// Scheduled callbacks: how far ahead one may be, and how often and how many times a
    /// callback the customer did not answer is tried.
    pub callbacks: Callbacks,
    /// The customers file named in the config, resolved against the config's folder.
    pub customers: Option<PathBuf>,
    /// Where the store is (a file resolved against the config's folder, or a
    /// PostgreSQL database); `None` keeps nothing.
    pub store: Option<store::StoreAt>,
    /// The longest a change waits before the transaction that makes it durable begins.
    pub commit_delay: Duration,
    /// Call detail records older than this are pruned.
    pub keep_call_records: Duration,
    /// Shutdown, connections and a failing store.
    pub limits: Limits,
    /// `[security]`; the default is an open server (loopback only).
    pub security: security::Security,
    /// `[sip]`; off by default.
    pub sip: sip::Sip,
}

/// `calls.callback_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Callbacks {
    /// Callbacks tried in all before the call ends as `callback_unanswered`.
    pub attempts: u8,
    /// The wait before a callback the customer did not answer is tried again.
    pub retry_after: Duration,
    /// How far ahead a callback may be scheduled.
    pub horizon: Duration,
}

/// How the server protects itself and what it does when its store fails.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// How long a shutdown waits for requests in flight before it stops anyway.
    pub shutdown_grace: Duration,
    /// Connections held at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// A connection with no request or stream open this long is closed.
    pub idle_timeout: Duration,
    /// HTTP/2 pings on a quiet connection this often; a peer that does not answer
    /// within the same time is gone.
    pub keepalive: Duration,
    /// New calls while the store cannot write.
    pub on_store_failure: StoreFailure,
    /// About how many bytes of changes may wait for a failing store before new calls
    /// and admin writes are refused whatever `on_store_failure` says.
    pub max_pending: u64,
    /// The largest request message decoded, in bytes; larger ones are refused.
    pub max_message_size: usize,
    /// HTTP/2 header bytes one request may send.
    pub max_header_list_size: u32,
    /// HTTP/2 streams one connection may have open at once.
    pub max_streams_per_connection: u32,
    /// Requests one connection may have in progress at once; more wait.
    pub max_requests_per_connection: usize,
    /// Streams opened and reset by the client before they were handled, after which
    /// the connection is closed.
    pub max_pending_resets: usize,
}

/// What the server does with new calls while its store cannot write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreFailure {
    /// Keep routing from memory; the changes are written when the store recovers.
    Route,
    /// Refuse new calls with UNAVAILABLE, so switches use their own fallback.
    Refuse,
}

impl Settings {
    /// Keys whose change a reload cannot apply (they take effect at the next start).
    pub fn restart_only_changes(&self, running: &Settings) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.listen != running.listen {
            out.push("server.listen");
        }
        if self.metrics_listen != running.metrics_listen {
            out.push("server.metrics_listen");
        }
        if self.customers != running.customers {
            out.push("directory.customers");
        }
        if self.store != running.store {
            out.push(match (&self.store, &running.store) {
                (Some(store::StoreAt::Postgres(_)), _) | (_, Some(store::StoreAt::Postgres(_))) => {
                    "store.url"
                }
                _ => "store.path",
            });
        }
        if self.commit_delay != running.commit_delay {
            out.push("store.commit_delay");
        }
        if self.limits.max_connections != running.limits.max_connections {
            out.push("server.max_connections");
        }
        if self.limits.idle_timeout != running.limits.idle_timeout {
            out.push("server.idle_timeout");
        }
        if self.limits.keepalive != running.limits.keepalive {
            out.push("server.keepalive");
        }
        let connection_keys = [
            (
                self.limits.max_message_size != running.limits.max_message_size,
                "server.max_message_size",
            ),
            (
                self.limits.max_header_list_size != running.limits.max_header_list_size,
                "server.max_header_list_size",
            ),
            (
                self.limits.max_streams_per_connection != running.limits.max_streams_per_connection,
                "server.max_streams_per_connection",
            ),
            (
                self.limits.max_requests_per_connection
                    != running.limits.max_requests_per_connection,
                "server.max_requests_per_connection",
            ),
            (
                self.limits.max_pending_resets != running.limits.max_pending_resets,
                "server.max_pending_resets",
            ),
        ];
        out.extend(
            connection_keys
                .iter()
                .filter(|(changed, _)| *changed)
                .map(|(_, key)| *key),
        );
        if self.security != running.security {
            out.push("security");
        }
        if self.sip.listen_udp != running.sip.listen_udp {
            out.push("sip.listen_udp");
        }
        if self.sip.listen_tcp != running.sip.listen_tcp {
            out.push("sip.listen_tcp");
        }
        if self.sip.http_listen != running.sip.http_listen {
            out.push("sip.http_listen");
        }
        out
    }
}

/// A valid config.
#[derive(Debug)]
pub struct Config {
    pub plan: RoutePlan,
    pub settings: Settings,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{} in config", plural(.errors.len(), "error"))]
    Invalid {
        errors: Vec<Diagnostic>,
        warnings: Vec<Diagnostic>,
    },
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

impl ConfigError {
    /// Every line to show an operator: errors, then warnings.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Io { .. } => vec![self.to_string()],
            ConfigError::Invalid { errors, warnings } => errors
                .iter()
                .chain(warnings)
                .map(ToString::to_string)
                .collect(),
        }
    }
}

/// Config text as read: one file, or the `*.toml` files of a directory in name order
/// (their rules run in that order; every other section may live in any one file).
#[derive(Debug, Clone)]
pub struct ConfigFiles {
    /// Display name and text of each file.
    pub files: Vec<(String, String)>,
    /// Where relative paths in the config (the customers file) start from.
    pub base_dir: PathBuf,
}

/// Most files a config directory may hold.
pub const MAX_FILES: usize = 256;

impl ConfigFiles {
    pub fn single(name: &Path, text: String) -> Self {
        ConfigFiles {
            files: vec![(name.display().to_string(), text)],
            base_dir: name.parent().unwrap_or(Path::new(".")).to_path_buf(),
        }
    }

    /// Reads a config file, or every `*.toml` file of a directory.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        };
        if !path.is_dir() {
            let text = std::fs::read_to_string(path).map_err(io)?;
            return Ok(ConfigFiles::single(path, text));
        }
        let mut names: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        names.sort();
        if names.is_empty() || names.len() > MAX_FILES {
            return Err(io(std::io::Error::other(format!(
                "a config directory needs 1 to {MAX_FILES} *.toml files (found {})",
                names.len()
            ))));
        }
        let mut files = Vec::with_capacity(names.len());
        for name in names {
            let text = std::fs::read_to_string(&name).map_err(|source| ConfigError::Io {
                path: name.display().to_string(),
                source,
            })?;
            files.push((name.display().to_string(), text));
        }
        Ok(ConfigFiles {
            files,
            base_dir: path.to_path_buf(),
        })
    }

    /// Validates the files into a config. With `running`, the plan being replaced, queues
    /// keep their ids (a removed queue stays behind as retired, so calls still holding its
    /// id find it) and tiers must keep their order.
    pub fn compile(&self, running: Option<&RoutePlan>) -> Result<Config, ConfigError> {
        let mut bases = Vec::with_capacity(self.files.len());
        let mut base = 0;
        for (_, text) in &self.files {
            bases.push(base);
            base += text.len() + 1;
        }
        let src = diagnostic::Source::files(
            self.files
                .iter()
                .zip(&bases)
                .map(|((name, text), b)| (name.clone(), *b, text.as_str())),
        );
        let mut errors = Vec::new();
        let mut parts = Vec::new();
        for ((_, text), base) in self.files.iter().zip(&bases) {
            // Blank lines in front put the file's spans at its place in the shared offset
            // space, so every diagnostic names the right file.
            let padded = format!("{}{text}", "\n".repeat(*base));
            match toml::from_str::<raw::RawPart>(&padded) {
                Ok(part) => parts.push(part),
                Err(e) => {
                    let span = e.span().unwrap_or(*base..*base);
                    let field = diagnostic::path_at(&padded, span.start);
                    let message = serde_message(e.message());
                    errors.push(src.at(Severity::Error, span, &field, message));
                }
            }
        }
        if !errors.is_empty() {
            return Err(ConfigError::Invalid {
                errors,
                warnings: vec![],
            });
        }
        let mut checker = validate::Checker::new(&src);
        let result = validate::merge(&mut checker, parts)
            .and_then(|raw| validate::validate(&mut checker, raw, &self.base_dir, running));
        let (errors, warnings): (Vec<_>, Vec<_>) = checker
            .diagnostics
            .into_iter()
            .partition(|d| d.severity == Severity::Error);
        match result {
            Some((plan, settings)) if errors.is_empty() => Ok(Config {
                plan,
                settings,
                warnings,
            }),
            _ => Err(ConfigError::Invalid { errors, warnings }),
        }
    }
}

/// Reads and validates a config file or directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    ConfigFiles::read(path)?.compile(None)
}

/// The embedded default config. Its relative paths (the store) start from the working
/// folder.
pub fn load_default() -> Result<Config, ConfigError> {
    ConfigFiles {
        files: vec![(DEFAULT_CONFIG_NAME.to_owned(), DEFAULT_CONFIG.to_owned())],
        base_dir: PathBuf::from("."),
    }
    .compile(None)
}

/// Validates config text; `path` names it in diagnostics and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    ConfigFiles::single(path, text.to_owned()).compile(None)
}

/// Serde's message, with a did-you-mean for unknown keys and without its trailing
/// newline.
fn serde_message(message: &str) -> String {
    let message = message.trim_end();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let mut parts = rest.split('`');
        let field = parts.next().unwrap_or("");
        let expected: Vec<&str> = parts.skip(1).step_by(2).collect();
        let hint = diagnostic::did_you_mean(field, expected.iter().copied());
        return format!(
            "unknown key {field:?}{hint} (expected one of: {})",
            expected.join(", ")
        );
    }
    // Ops write config, not Rust: name types in their words.
    message
        .replace("expected i64", "expected a whole number")
        .replace("expected u8", "expected a whole number")
}

#[cfg(test)]
mod security_tests;
#[cfg(test)]
mod sip_tests;
#[cfg(test)]
mod tests;
