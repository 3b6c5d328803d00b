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

/// gRPC's usual ceiling; ImportCustomers streams its file in chunks, so no request of
/// ours needs more.
const DEFAULT_MAX_MESSAGE: u64 = 4 << 20;
const MIN_MAX_MESSAGE: u64 = 64 << 10;
const MAX_MAX_MESSAGE: u64 = 64 << 20;
/// HTTP/2 streams (requests and watches) one connection may have open at once.
const DEFAULT_MAX_STREAMS: i64 = 256;
/// Requests one connection may have in progress at once; more wait their turn.
const DEFAULT_MAX_REQUESTS: i64 = 256;
/// Header bytes one request may send (names and values, as HTTP/2 counts them).
const DEFAULT_MAX_HEADERS: u64 = 16 << 10;
const MIN_MAX_HEADERS: u64 = 4 << 10;
const MAX_MAX_HEADERS: u64 = 1 << 20;
/// Streams a client may open and reset before the server handles them, before the
/// connection is closed (the HTTP/2 "rapid reset" flood).
const DEFAULT_MAX_PENDING_RESETS: i64 = 20;

/// A size key within `min..=max`, or its default.
fn size_in(
    c: &mut Checker<'_>,
    value: Option<&S<String>>,
    path: &str,
    default: u64,
    (min, max): (u64, u64),
) -> Option<u64> {
    let Some(s) = value else {
        return Some(default);
    };
    match parse_size(s.get_ref()) {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        Ok(_) => {
            c.error(
                s.span(),
                path,
                format!(
                    "{:?} is out of range ({} to {})",
                    s.get_ref(),
                    shown_size(min),
                    shown_size(max)
                ),
            );
            None
        }
        Err(e) => {
            c.error(s.span(), path, format!("{:?}: {e}", s.get_ref()));
            None
        }
    }
}

fn shown_size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{}GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
        n => format!("{n}B"),
    }
}

pub(crate) fn limits(c: &mut Checker<'_>, server: &RawServer, store: &RawStore) -> Option<Limits> {
    let max_message_size = size_in(
        c,
        server.max_message_size.as_ref(),
        "server.max_message_size",
        DEFAULT_MAX_MESSAGE,
        (MIN_MAX_MESSAGE, MAX_MAX_MESSAGE),
    );
    let max_header_list_size = size_in(
        c,
        server.max_header_list_size.as_ref(),
        "server.max_header_list_size",
        DEFAULT_MAX_HEADERS,
        (MIN_MAX_HEADERS, MAX_MAX_HEADERS),
    );
    let count = |c: &mut Checker<'_>, v: &Option<S<i64>>, path: &str, default: i64| match v {
        Some(n) => c.int_in(n, path, 1..=100_000).map(|n| n as u32),
        None => Some(default as u32),
    };
    let max_streams_per_connection = count(
        c,
        &server.max_streams_per_connection,
        "server.max_streams_per_connection",
        DEFAULT_MAX_STREAMS,
    );
    let max_requests_per_connection = count(
        c,
        &server.max_requests_per_connection,
        "server.max_requests_per_connection",
        DEFAULT_MAX_REQUESTS,
    );
    let max_pending_resets = count(
        c,
        &server.max_pending_resets,
        "server.max_pending_resets",
        DEFAULT_MAX_PENDING_RESETS,
    );
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
        max_message_size: max_message_size? as usize,
        max_header_list_size: max_header_list_size? as u32,
        max_streams_per_connection: max_streams_per_connection?,
        max_requests_per_connection: max_requests_per_connection? as usize,
        max_pending_resets: max_pending_resets? as usize,
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
