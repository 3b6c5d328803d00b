//! What was delivered per tier over a window, read from the call detail records by a
//! read-only connection of its own, so a report never waits on the writer.

use std::{path::Path, time::Duration};

use rusqlite::{Connection, OpenFlags, params};
use switchboard_core::Millis;

use crate::{StoreError, classify};

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

/// For each `(tier name, standard time)`, what was delivered to calls that arrived in
/// `[from, to)`. Tiers are matched by name, as the records hold them.
pub fn delivered(
    path: &Path,
    from: Millis,
    to: Millis,
    tiers: &[(String, Duration)],
) -> Result<Vec<Delivered>, StoreError> {
    let shown = path.display().to_string();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify(&shown, e))?;
    let sqlite = |source| StoreError::Sqlite {
        path: shown.clone(),
        source,
    };
    conn.busy_timeout(Duration::from_secs(5)).map_err(sqlite)?;
    let mut stmt = conn
        .prepare(
            "SELECT COUNT(answered_at),
                    COALESCE(SUM(answered_at IS NOT NULL AND wait_ms <= ?2), 0),
                    COALESCE(SUM(CASE WHEN answered_at IS NOT NULL THEN wait_ms END), 0),
                    COALESCE(SUM(outcome = 'abandoned' AND queue IS NOT NULL), 0),
                    COALESCE(SUM(outcome = 'abandoned' AND queue IS NOT NULL AND wait_ms > ?2), 0)
             FROM call_records WHERE tier = ?1 AND arrived >= ?3 AND arrived < ?4",
        )
        .map_err(sqlite)?;
    let ms = |t: Millis| i64::try_from(t.0).unwrap_or(i64::MAX);
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    tiers
        .iter()
        .map(|(tier, within)| {
            let within = i64::try_from(within.as_millis()).unwrap_or(i64::MAX);
            stmt.query_row(params![tier, within, ms(from), ms(to)], |r| {
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
}
