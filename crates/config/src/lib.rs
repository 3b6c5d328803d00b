//! Turns Switchboard's config files into validated core types: the TOML routing config
//! into a [`RoutePlan`] plus server [`Settings`], and customer CSV into the directory.
//! Parsing is two-stage: serde structs that refuse unknown keys, then validation that
//! resolves every name and reports every problem at once with file, line, column and
//! field path.
//!
//! Layout:
//! - `raw`: the serde structs, one to one with the TOML.
//! - `validate`: raw structs into the plan, collecting every error and warning.
//! - [`diagnostic`]: positioned errors, field paths from spans, did-you-mean hints.
//! - [`duration`]: `20s`, `4h`, `7d`.
//! - [`customers`]: customer CSV import with per-row errors.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use switchboard_core::{RoutePlan, acd::AgentState};

pub mod customers;
pub mod diagnostic;
pub mod duration;
mod raw;
mod validate;

pub use diagnostic::{Diagnostic, Severity};

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
    /// Calls are forgotten this long after they began, whatever their state.
    pub forget_calls_after: Duration,
    /// How long the switch has to report CONNECTED or NO_ANSWER for an offered call
    /// before it goes back to its queue.
    pub offer_timeout: Duration,
    /// Where an agent whose offer expired goes: not ready (default) or available.
    pub after_offer_timeout: AgentState,
    /// Offers an agent may leave unanswered in a row before going not ready.
    pub no_answers_before_not_ready: u32,
    /// The customers file named in the config, resolved against the config's folder.
    pub customers: Option<PathBuf>,
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

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, path)
}

/// The embedded default config.
pub fn load_default() -> Result<Config, ConfigError> {
    parse(DEFAULT_CONFIG, Path::new(DEFAULT_CONFIG_NAME))
}

/// Validates config text; `path` names it in diagnostics and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let src = diagnostic::Source::new(path, text);
    let raw: raw::RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let field = diagnostic::path_at(text, span.start);
            let message = serde_message(e.message());
            let error = src.at(Severity::Error, span, &field, message);
            return Err(ConfigError::Invalid {
                errors: vec![error],
                warnings: vec![],
            });
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut checker = validate::Checker::new(&src);
    let result = validate::validate(&mut checker, raw, base);
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
mod tests;
