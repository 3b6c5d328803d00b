//! Reports and the audit trail read from a PostgreSQL store, on connections of their own
//! (a pool of `store.pool_size`), so a report never waits on the writer.

use std::time::Duration;

use switchboard_core::Millis;

use super::{PgOptions, classify, connect, shown};
use crate::{
    StoreError,
    audit::AuditEntry,
    report::{Delivered, HandledCall, HandledCalls, ReplayedCall},
};

fn ms(t: Millis) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

fn at(n: i64) -> Millis {
    Millis(u64::try_from(n).unwrap_or(0))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Runs `f` on a connection of the pool, the errors in the store's words.
fn read<T>(
    o: &PgOptions,
    f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
) -> Result<T, StoreError> {
    let mut client = pool::take(o)?;
    let out = f(&mut client).map_err(|e| classify(&shown(&o.url), &o.domain, &e));
    pool::give_back(o, client);
    out
}

/// The connections reports read on, per store: at most `store.pool_size` open at once
/// (a report beyond them waits for one), kept open between reports.
mod pool {
    use std::{
        collections::HashMap,
        sync::{Condvar, Mutex, OnceLock},
    };

    use super::{PgOptions, connect};
    use crate::StoreError;

    #[derive(Default)]
    struct Pool {
        idle: Vec<postgres::Client>,
        /// Connections handed out or idle.
        open: usize,
    }

    fn pools() -> &'static (Mutex<HashMap<String, Pool>>, Condvar) {
        static POOLS: OnceLock<(Mutex<HashMap<String, Pool>>, Condvar)> = OnceLock::new();
        POOLS.get_or_init(Default::default)
    }

    pub(super) fn take(o: &PgOptions) -> Result<postgres::Client, StoreError> {
        let (lock, freed) = pools();
        let mut all = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let pool = all.entry(o.url.clone()).or_default();
            if let Some(c) = pool.idle.pop() {
                if !c.is_closed() {
                    return Ok(c);
                }
                pool.open -= 1;
                continue;
            }
            if pool.open < o.pool_size.max(1) {
                pool.open += 1;
                drop(all);
                return connect(o).inspect_err(|_| {
                    let mut all = lock.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(p) = all.get_mut(&o.url) {
                        p.open -= 1;
                    }
                    freed.notify_one();
                });
            }
            all = freed.wait(all).unwrap_or_else(|e| e.into_inner());
        }
    }

    pub(super) fn give_back(o: &PgOptions, client: postgres::Client) {
        let (lock, freed) = pools();
        let mut all = lock.lock().unwrap_or_else(|e| e.into_inner());
        let pool = all.entry(o.url.clone()).or_default();
        if client.is_closed() {
            pool.open = pool.open.saturating_sub(1);
        } else {
            pool.idle.push(client);
        }
        freed.notify_one();
    }
}

/// As [`crate::report::handled_calls`].
pub(crate) fn handled_calls(
    o: &PgOptions,
    from: Millis,
    to: Millis,
) -> Result<HandledCalls, StoreError> {
    read(o, |c| {
        let calls = c
            .query(
                "SELECT agent, queue, caller, answered_at, ended_at, resolved, satisfaction,
                        retention
                 FROM call_records
                 WHERE arrived >= $1 AND arrived < $2 AND outcome = 'completed'
                   AND agent IS NOT NULL AND answered_at IS NOT NULL AND ended_at IS NOT NULL
                 ORDER BY arrived, id",
                &[&ms(from), &ms(to)],
            )?
            .iter()
            .map(|r| HandledCall {
                agent: r.get(0),
                queue: r.get(1),
                caller: r.get(2),
                answered: at(r.get(3)),
                ended: at(r.get(4)),
                resolved: r.get::<_, Option<bool>>(5).unwrap_or(false),
                satisfaction: r
                    .get::<_, Option<i16>>(6)
                    .map(|v| u8::try_from(v).unwrap_or(u8::MAX)),
                retention: r.get(7),
            })
            .collect();
        let contacts = c
            .query(
                "SELECT caller, arrived FROM call_records
                 WHERE arrived >= $1 AND arrived < $2 AND caller IS NOT NULL
                 ORDER BY arrived, id",
                &[&ms(from), &ms(to)],
            )?
            .iter()
            .map(|r| (r.get(0), at(r.get(1))))
            .collect();
        Ok(HandledCalls { calls, contacts })
    })
}

/// As [`crate::report::delivered`].
pub(crate) fn delivered(
    o: &PgOptions,
    from: Millis,
    to: Millis,
    tiers: &[(String, Vec<(String, Duration)>)],
) -> Result<Vec<Vec<Delivered>>, StoreError> {
    read(o, |c| {
        let stmt = c.prepare(
            "SELECT count(answered_at),
                    count(*) FILTER (WHERE answered_at IS NOT NULL AND wait_ms <= $2),
                    coalesce(sum(wait_ms) FILTER (WHERE answered_at IS NOT NULL), 0)::int8,
                    count(*) FILTER (WHERE outcome = 'abandoned' AND queue IS NOT NULL),
                    count(*) FILTER (WHERE outcome = 'abandoned' AND queue IS NOT NULL
                                     AND wait_ms > $2)
             FROM call_records
             WHERE tier = $1 AND channel = $5 AND arrived >= $3 AND arrived < $4",
        )?;
        tiers
            .iter()
            .map(|(tier, by_channel)| {
                by_channel
                    .iter()
                    .map(|(channel, within)| {
                        let within = i64::try_from(within.as_millis()).unwrap_or(i64::MAX);
                        let r =
                            c.query_one(&stmt, &[tier, &within, &ms(from), &ms(to), channel])?;
                        Ok(Delivered {
                            answered: count(r.get(0)),
                            answered_in_standard: count(r.get(1)),
                            answer_wait: Duration::from_millis(count(r.get(2))),
                            abandoned: count(r.get(3)),
                            abandoned_after_standard: count(r.get(4)),
                        })
                    })
                    .collect()
            })
            .collect()
    })
}

/// As [`crate::report::replayed_calls`].
pub(crate) fn replayed_calls(
    o: &PgOptions,
    from: Millis,
    to: Millis,
) -> Result<Vec<ReplayedCall>, StoreError> {
    read(o, |c| {
        Ok(c.query(
            "SELECT arrived, caller, channel, line, menu_path, queued_at, answered_at,
                        ended_at, outcome
                 FROM call_records WHERE arrived >= $1 AND arrived < $2 ORDER BY arrived, id",
            &[&ms(from), &ms(to)],
        )?
        .iter()
        .map(|r| ReplayedCall {
            arrived: at(r.get(0)),
            caller: r.get(1),
            channel: r.get(2),
            line: r.get(3),
            digits: r
                .get::<_, &str>(4)
                .split(',')
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect(),
            queued_at: r.get::<_, Option<i64>>(5).map(at),
            answered_at: r.get::<_, Option<i64>>(6).map(at),
            ended_at: r.get::<_, Option<i64>>(7).map(at),
            outcome: r.get(8),
        })
        .collect())
    })
}

/// As [`crate::audit::list`].
pub(crate) fn audit(
    o: &PgOptions,
    since: Millis,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    read(o, |c| {
        Ok(c.query(
            "SELECT at, who, role, remote, action, target, detail FROM audit
                 WHERE at >= $1 ORDER BY at DESC, id DESC LIMIT $2",
            &[&ms(since), &i64::try_from(limit).unwrap_or(i64::MAX)],
        )?
        .iter()
        .map(|r| AuditEntry {
            at: at(r.get(0)),
            who: r.get(1),
            role: r.get(2),
            remote: r.get(3),
            action: r.get(4),
            target: r.get(5),
            detail: r.get(6),
        })
        .collect())
    })
}
