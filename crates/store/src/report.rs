//! What was delivered per tier over a window, read from the call detail records by a
//! connection of its own (read-only on a file), so a report never waits on the writer.

use std::{path::Path, time::Duration};

use rusqlite::{Connection, OpenFlags, params};
use switchboard_core::Millis;

use crate::{Location, StoreError, classify};

/// One tier's delivered service in a window: calls that reached a queue, arrived in the
/// window and have ended (answered and served, or abandoned).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    pub answered: u64,
    /// Answered after waiting no longer than the tier's standard time.
    pub answered_in_standard: u64,
    /// Total wait of answered calls.
    pub answer_wait: Duration,
    /// Abandoned while in a queue, and of those after the standard's time.
    pub abandoned: u64,
    pub abandoned_after_standard: u64,
}

/// One handled call of an agent, from its record: what agent figures are made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandledCall {
    pub agent: String,
    pub queue: Option<String>,
    /// E.164 with a leading `+`, when the number was usable.
    pub caller: Option<String>,
    pub answered: Millis,
    pub ended: Millis,
    pub resolved: bool,
    pub satisfaction: Option<u8>,
    pub retention: Option<bool>,
}

/// What [`handled_calls`] reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandledCalls {
    /// Oldest first.
    pub calls: Vec<HandledCall>,
    /// Every call's caller number and arrival, oldest first.
    pub contacts: Vec<(String, Millis)>,
}

/// The calls agents talked to that arrived in `[from, to)` and ended, and the arrival
/// of every call in that time by caller number (to find a handled call repeated).
pub fn handled_calls(
    location: &Location,
    from: Millis,
    to: Millis,
) -> Result<HandledCalls, StoreError> {
    match location {
        Location::File(path) => sqlite_handled_calls(path, from, to),
        Location::Postgres(o) => crate::postgres::report::handled_calls(o, from, to),
    }
}

fn sqlite_handled_calls(path: &Path, from: Millis, to: Millis) -> Result<HandledCalls, StoreError> {
    let shown = path.display().to_string();
    let conn = read_only(path)?;
    let sqlite = |source| StoreError::Sqlite {
        path: shown.clone(),
        source,
    };
    let ms = |t: Millis| i64::try_from(t.0).unwrap_or(i64::MAX);
    let at = |n: i64| Millis(u64::try_from(n).unwrap_or(0));
    let mut stmt = conn
        .prepare(
            "SELECT agent, queue, caller, answered_at, ended_at, resolved, satisfaction,
                    retention
             FROM call_records
             WHERE arrived >= ?1 AND arrived < ?2 AND outcome = 'completed'
               AND agent IS NOT NULL AND answered_at IS NOT NULL AND ended_at IS NOT NULL
             ORDER BY arrived",
        )
        .map_err(sqlite)?;
    let calls = stmt
        .query_map(params![ms(from), ms(to)], |r| {
            Ok(HandledCall {
                agent: r.get(0)?,
                queue: r.get(1)?,
                caller: r.get(2)?,
                answered: at(r.get(3)?),
                ended: at(r.get(4)?),
                resolved: r.get::<_, Option<bool>>(5)?.unwrap_or(false),
                satisfaction: r.get(6)?,
                retention: r.get(7)?,
            })
        })
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    let mut stmt = conn
        .prepare(
            "SELECT caller, arrived FROM call_records
             WHERE arrived >= ?1 AND arrived < ?2 AND caller IS NOT NULL ORDER BY arrived",
        )
        .map_err(sqlite)?;
    let contacts = stmt
        .query_map(params![ms(from), ms(to)], |r| {
            Ok((r.get::<_, String>(0)?, at(r.get(1)?)))
        })
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    Ok(HandledCalls { calls, contacts })
}

/// A read-only connection of its own to the store at `path`.
pub(crate) fn read_only(path: &Path) -> Result<Connection, StoreError> {
    let shown = path.display().to_string();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify(&shown, e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|source| StoreError::Sqlite {
            path: shown,
            source,
        })?;
    Ok(conn)
}

/// For each tier, given by name with its standard time per channel (`(channel name,
/// time)`), what was delivered to calls of each of those channels that arrived in
/// `[from, to)`, in the order given: each record held to its own channel's time. Tiers
/// and channels are matched by name, as the records hold them; records of a channel not
/// listed are not counted.
pub fn delivered(
    location: &Location,
    from: Millis,
    to: Millis,
    tiers: &[(String, Vec<(String, Duration)>)],
) -> Result<Vec<Vec<Delivered>>, StoreError> {
    match location {
        Location::File(path) => sqlite_delivered(path, from, to, tiers),
        Location::Postgres(o) => crate::postgres::report::delivered(o, from, to, tiers),
    }
}

fn sqlite_delivered(
    path: &Path,
    from: Millis,
    to: Millis,
    tiers: &[(String, Vec<(String, Duration)>)],
) -> Result<Vec<Vec<Delivered>>, StoreError> {
    let shown = path.display().to_string();
    let conn = read_only(path)?;
    let sqlite = |source| StoreError::Sqlite {
        path: shown.clone(),
        source,
    };
    let mut stmt = conn
        .prepare(
            "SELECT COUNT(answered_at),
                    COALESCE(SUM(answered_at IS NOT NULL AND wait_ms <= ?2), 0),
                    COALESCE(SUM(CASE WHEN answered_at IS NOT NULL THEN wait_ms END), 0),
                    COALESCE(SUM(outcome = 'abandoned' AND queue IS NOT NULL), 0),
                    COALESCE(SUM(outcome = 'abandoned' AND queue IS NOT NULL AND wait_ms > ?2), 0)
             FROM call_records
             WHERE tier = ?1 AND channel = ?5 AND arrived >= ?3 AND arrived < ?4",
        )
        .map_err(sqlite)?;
    let ms = |t: Millis| i64::try_from(t.0).unwrap_or(i64::MAX);
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    tiers
        .iter()
        .map(|(tier, by_channel)| {
            by_channel
                .iter()
                .map(|(channel, within)| {
                    let within = i64::try_from(within.as_millis()).unwrap_or(i64::MAX);
                    stmt.query_row(params![tier, within, ms(from), ms(to), channel], |r| {
                        Ok(Delivered {
                            answered: count(r.get(0)?),
                            answered_in_standard: count(r.get(1)?),
                            answer_wait: Duration::from_millis(count(r.get(2)?)),
                            abandoned: count(r.get(3)?),
                            abandoned_after_standard: count(r.get(4)?),
                        })
                    })
                    .map_err(sqlite)
                })
                .collect()
        })
        .collect()
}

/// A call as its record tells it, for a replay: when it came, who called on which line
/// and channel, what they pressed, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayedCall {
    pub arrived: Millis,
    /// E.164 with a leading `+` (or the address of a written contact), when usable.
    pub caller: Option<String>,
    pub channel: String,
    /// The line's name in the config the call came under.
    pub line: String,
    /// The menu answers in order.
    pub digits: Vec<String>,
    pub queued_at: Option<Millis>,
    pub answered_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub outcome: String,
}

/// Every call that arrived in `[from, to)`, oldest first, for a replay.
pub fn replayed_calls(
    location: &Location,
    from: Millis,
    to: Millis,
) -> Result<Vec<ReplayedCall>, StoreError> {
    match location {
        Location::File(path) => sqlite_replayed_calls(path, from, to),
        Location::Postgres(o) => crate::postgres::report::replayed_calls(o, from, to),
    }
}

fn sqlite_replayed_calls(
    path: &Path,
    from: Millis,
    to: Millis,
) -> Result<Vec<ReplayedCall>, StoreError> {
    let shown = path.display().to_string();
    let conn = read_only(path)?;
    let sqlite = |source| StoreError::Sqlite {
        path: shown.clone(),
        source,
    };
    let ms = |t: Millis| i64::try_from(t.0).unwrap_or(i64::MAX);
    let at = |n: i64| Millis(u64::try_from(n).unwrap_or(0));
    let mut stmt = conn
        .prepare(
            "SELECT arrived, caller, channel, line, menu_path, queued_at, answered_at, ended_at,
                    outcome
             FROM call_records WHERE arrived >= ?1 AND arrived < ?2 ORDER BY arrived, id",
        )
        .map_err(sqlite)?;
    stmt.query_map(params![ms(from), ms(to)], |r| {
        let digits: String = r.get(4)?;
        Ok(ReplayedCall {
            arrived: at(r.get(0)?),
            caller: r.get(1)?,
            channel: r.get(2)?,
            line: r.get(3)?,
            digits: digits
                .split(',')
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect(),
            queued_at: r.get::<_, Option<i64>>(5)?.map(at),
            answered_at: r.get::<_, Option<i64>>(6)?.map(at),
            ended_at: r.get::<_, Option<i64>>(7)?.map(at),
            outcome: r.get(8)?,
        })
    })
    .map_err(sqlite)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(sqlite)
}
