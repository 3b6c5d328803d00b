//! How the server protects itself, from `[server]` and `[store]`: how long a shutdown
//! waits, how many connections it holds and for how long when idle, and what it does
//! while its store cannot write. Validated like the rest, every error at once.

use std::time::Duration;

use crate::{
    Limits, StoreFailure,
    diagnostic::did_you_mean,
    raw::{RawServer, RawStore, S},
    validate::{Checker, humanize},
};

const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const MAX_SHUTDOWN_GRACE: Duration = Duration::from_secs(600);
/// Well below the file descriptors a process gets once its soft limit is raised to the
/// usual hard limit (524,288 on current Linux distributions; 4,096 on older ones, where
/// the server lowers this at start and says so).
const DEFAULT_MAX_CONNECTIONS: i64 = 10_000;
const MAX_MAX_CONNECTIONS: i64 = 1_000_000;
/// A switch or desk keeps its connection busy or its stream open; a connection with
/// nothing open for this long is a client that went away without saying so.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const MIN_IDLE_TIMEOUT: Duration = Duration::from_secs(1);
/// HTTP/2 pings on quiet connections, to find peers that are gone (a switch whose host
/// died holds its stream open otherwise).
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(30);
const MIN_KEEPALIVE: Duration = Duration::from_secs(1);
/// Enough for hours of changes on a busy floor (see the README's durability section).
const DEFAULT_MAX_PENDING: u64 = 256 << 20;
const MIN_MAX_PENDING: u64 = 64 << 10;
const MAX_MAX_PENDING: u64 = 1 << 40;

pub(crate) fn limits(c: &mut Checker<'_>, server: &RawServer, store: &RawStore) -> Option<Limits> {
    let shutdown_grace = match &server.shutdown_grace {
        Some(d) => c
            .duration(d, "server.shutdown_grace", Duration::ZERO)
            .and_then(|g| at_most(c, d, "server.shutdown_grace", g, MAX_SHUTDOWN_GRACE)),
        None => Some(DEFAULT_SHUTDOWN_GRACE),
    };
    let max_connections = match &server.max_connections {
        Some(n) => c
            .int_in(n, "server.max_connections", 1..=MAX_MAX_CONNECTIONS)
            .map(|n| n as usize),
        None => Some(DEFAULT_MAX_CONNECTIONS as usize),
    };
    let idle_timeout = match &server.idle_timeout {
        Some(d) => c.duration(d, "server.idle_timeout", MIN_IDLE_TIMEOUT),
        None => Some(DEFAULT_IDLE_TIMEOUT),
    };
    let keepalive = match &server.keepalive {
        Some(d) => c.duration(d, "server.keepalive", MIN_KEEPALIVE),
        None => Some(DEFAULT_KEEPALIVE),
    };
    let on_store_failure = match &store.on_failure {
        None => Some(StoreFailure::Route),
        Some(s) => match s.get_ref().as_str() {
            "route" => Some(StoreFailure::Route),
            "refuse" => Some(StoreFailure::Refuse),
            other => {
                let hint = did_you_mean(other, ["route", "refuse"]);
                c.error(
                    s.span(),
                    "store.on_failure",
                    format!("{other:?} is not route or refuse{hint}"),
                );
                None
            }
        },
    };
    let max_pending = match &store.max_pending {
        None => Some(DEFAULT_MAX_PENDING),
        Some(s) => match parse_size(s.get_ref()) {
            Ok(n) if (MIN_MAX_PENDING..=MAX_MAX_PENDING).contains(&n) => Some(n),
            Ok(_) => {
                c.error(
                    s.span(),
                    "store.max_pending",
                    format!("{:?} is out of range (64KiB to 1024GiB)", s.get_ref()),
                );
                None
            }
            Err(e) => {
                c.error(
                    s.span(),
                    "store.max_pending",
                    format!("{:?}: {e}", s.get_ref()),
                );
                None
            }
        },
    };
    Some(Limits {
        shutdown_grace: shutdown_grace?,
        max_connections: max_connections?,
        idle_timeout: idle_timeout?,
        keepalive: keepalive?,
        on_store_failure: on_store_failure?,
        max_pending: max_pending?,
    })
}

fn at_most(
    c: &mut Checker<'_>,
    value: &S<String>,
    path: &str,
    d: Duration,
    max: Duration,
) -> Option<Duration> {
    if d <= max {
        return Some(d);
    }
    c.error(
        value.span(),
        path,
        format!(
            "{:?} is longer than the maximum {}",
            value.get_ref(),
            humanize(max)
        ),
    );
    None
}

/// A size as ops write it: `512KiB`, `256MiB`, `2GiB` (or plain bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err("expected a size such as \"256MiB\" or \"2GiB\"".into());
    }
    let value: u64 = text[..digits].parse().map_err(|_| "too large".to_owned())?;
    let unit = match text[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!("unknown unit {other:?} (use B, KiB, MiB or GiB)"));
        }
    };
    value
        .checked_mul(unit)
        .ok_or_else(|| "too large".to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_are_read_in_binary_units() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size(" 2GiB "), Ok(2 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(
            parse_size("2GB"),
            Err("unknown unit \"GB\" (use B, KiB, MiB or GiB)".into())
        );
        assert!(parse_size("MiB").is_err());
        assert_eq!(parse_size("99999999999GiB"), Err("too large".into()));
    }
}
