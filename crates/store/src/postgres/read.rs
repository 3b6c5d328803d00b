//! Reading a PostgreSQL store: what a start loads (customers, learned behaviour, the
//! journal), call records, and compaction of the journal's log.

use std::collections::HashSet;

use switchboard_core::{
    E164, Profile, TierId,
    behaviour::{LastContact, Learned},
};

use super::PgStore;
use crate::{
    RowNote, StoreError, StoredCustomer, StoredLearned, call_log,
    journal::{CallRecordRow, Journal},
};

fn from_ms(t: i64) -> switchboard_core::Millis {
    switchboard_core::Millis(u64::try_from(t).unwrap_or(0))
}

fn small(v: i16) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

/// A customer row as `customers` selects it (its first 13 columns, in table order).
pub(super) fn stored_customer(r: &postgres::Row) -> StoredCustomer {
    StoredCustomer {
        id: r.get(0),
        name: r.get(1),
        numbers: r.get(2),
        tier: r.get(3),
        preference: r.get(4),
        language: r.get(5),
        lifetime_value: r.get(6),
        influence: small(r.get(7)),
        tags: r.get(8),
        attributes: r.get(9),
        preferred_agent: r.get(10),
        contacts: r.get(11),
        preferred_channel: r.get(12),
    }
}

/// A learned row joined with its last contact, as `learned` selects it (10 columns).
pub(super) fn stored_learned(r: &postgres::Row) -> StoredLearned {
    StoredLearned {
        number: r.get(0),
        bits: i64::from(r.get::<_, i32>(1)),
        observed: i64::from(r.get::<_, i16>(2)),
        chosen: r.get(3),
        last_call: r.get(4),
        contact: r
            .get::<_, Option<String>>(5)
            .map(|agent| (agent, r.get(6), r.get(7), r.get(8), r.get(9))),
    }
}

/// The calls live in the log's rows (seq, entries), applied in order.
fn live_of(rows: &[postgres::Row]) -> call_log::Live {
    let mut live = call_log::Live::default();
    for r in rows {
        live.apply(r.get(0), r.get::<_, &[u8]>(1));
    }
    live
}

/// The journal of the agents' rows (id, image), a log's live calls and the closed
/// queues' rows (queue, reason).
pub(super) fn journal_from(
    agents: &[postgres::Row],
    live: &call_log::Live,
    queues: &[postgres::Row],
) -> Journal {
    let mut out = Journal::default();
    for r in agents {
        out.add_agent(r.get(0), r.get(1));
    }
    out.add_calls(live);
    out.closed_queues = queues.iter().map(|r| (r.get(0), r.get(1))).collect();
    out
}

impl PgStore {
    /// Every stored customer, as [`crate::Store::customers`] reads them.
    pub fn customers(
        &mut self,
        tier_id: impl Fn(&str) -> Option<TierId>,
    ) -> Result<(Vec<Profile>, Vec<RowNote>), StoreError> {
        let rows = self
            .client()?
            .query(
                "SELECT id, name, numbers, tier, preference, language, lifetime_value, influence,
                        tags, attributes, preferred_agent, contacts, preferred_channel
                 FROM customers ORDER BY id",
                &[],
            )
            .map_err(|e| self.err(&e))?;
        let mut out = Vec::with_capacity(rows.len());
        let mut notes = Vec::new();
        for r in rows {
            out.push(stored_customer(&r).profile(&self.shown, &tier_id, &mut notes)?);
        }
        Ok((out, notes))
    }

    /// What was learned of every number, with the last contact where there was one.
    pub fn learned(&mut self) -> Result<Vec<(E164, Learned, Option<LastContact>)>, StoreError> {
        let rows = self
            .client()?
            .query(
                "SELECT coalesce(l.number, c.number), coalesce(l.zero_out_bits, 0::int4),
                        coalesce(l.observed, 0::int2), l.chosen, l.last_call,
                        c.agent, c.at, c.queue, c.resolved, c.wrap_up_code
                 FROM learned l FULL JOIN last_contact c ON c.number = l.number",
                &[],
            )
            .map_err(|e| self.err(&e))?;
        rows.iter()
            .map(|r| stored_learned(r).decode(&self.shown))
            .collect()
    }

    /// The journal of live state, to put back at start or at a takeover.
    pub fn journal(&mut self) -> Result<Journal, StoreError> {
        let client = self.client()?;
        let read = (|| {
            let agents = client.query(
                "SELECT agent_id, image FROM live_agents ORDER BY agent_id",
                &[],
            )?;
            let log = client.query("SELECT seq, entries FROM call_log ORDER BY seq", &[])?;
            let queues = client.query(
                "SELECT queue, reason FROM closed_queues ORDER BY queue",
                &[],
            )?;
            Ok((agents, log, queues))
        })();
        let (agents, log, queues) = read.map_err(|e: postgres::Error| self.err(&e))?;
        Ok(journal_from(&agents, &live_of(&log), &queues))
    }

    /// The call detail records of a call id, newest first.
    pub fn call_records(&mut self, call_id: &str) -> Result<Vec<CallRecordRow>, StoreError> {
        let rows = self
            .client()?
            .query(
                "SELECT call_id, arrived, switch_id, caller, tier, channel, line, menu_path,
                        decision, rule, matched, queue, queued_at, answered_at, wait_ms, agent,
                        ended_at, outcome, disposition, resolved, satisfaction, recommend,
                        transfers, retention
                 FROM call_records WHERE call_id = $1 ORDER BY arrived DESC",
                &[&call_id],
            )
            .map_err(|e| self.err(&e))?;
        Ok(rows
            .into_iter()
            .map(|r| CallRecordRow {
                call_id: r.get(0),
                arrived: from_ms(r.get(1)),
                switch_id: r.get(2),
                caller: r.get(3),
                tier: r.get(4),
                channel: r.get(5),
                line: r.get(6),
                menu_path: r.get(7),
                decision: r.get(8),
                rule: r.get(9),
                matched: r.get(10),
                queue: r.get(11),
                queued_at: r.get::<_, Option<i64>>(12).map(from_ms),
                answered_at: r.get::<_, Option<i64>>(13).map(from_ms),
                wait_ms: r
                    .get::<_, Option<i64>>(14)
                    .map(|w| u64::try_from(w).unwrap_or(0)),
                agent: r.get(15),
                ended_at: r.get::<_, Option<i64>>(16).map(from_ms),
                outcome: r.get(17),
                disposition: r.get(18),
                resolved: r.get(19),
                satisfaction: r.get::<_, Option<i16>>(20).map(small),
                recommend: r.get::<_, Option<i16>>(21).map(small),
                transfers: small(r.get(22)),
                retention: r.get(23),
            })
            .collect())
    }

    /// How many call detail records the store holds.
    pub fn count_call_records(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self
            .client()?
            .query_one("SELECT count(*) FROM call_records", &[])
            .map_err(|e| self.err(&e))?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether the journal holds this call as live (reads the whole journal).
    pub fn has_live_call(&mut self, call_id: &str) -> Result<bool, StoreError> {
        let rows = self
            .client()?
            .query("SELECT seq, entries FROM call_log ORDER BY seq", &[])
            .map_err(|e| self.err(&e))?;
        Ok(live_of(&rows).calls().any(|(id, _)| id == call_id))
    }

    /// Counts the log as it stands, as at open.
    pub(crate) fn count_log(&mut self) -> Result<call_log::LogSize, StoreError> {
        let rows = self
            .client()?
            .query("SELECT entries FROM call_log ORDER BY seq", &[])
            .map_err(|e| self.err(&e))?;
        let mut size = call_log::LogSize::new(self.log.min);
        let mut live = HashSet::new();
        for r in &rows {
            size.count_row(r.get::<_, &[u8]>(0), &mut live);
        }
        size.set_live_calls(live.len());
        Ok(size)
    }

    /// Rewrites the calls the journal holds as live as fresh rows and deletes the rows
    /// before them, in one transaction (fenced, as any write); counts the compaction so
    /// a standby following the log knows to read it again. False, changing nothing,
    /// when a row of the log does not read.
    pub fn compact_journal(&mut self) -> Result<bool, StoreError> {
        let compacted = self.transaction(true, |tx| {
            let seqs: Vec<i64> = tx
                .query("SELECT seq FROM call_log ORDER BY seq DESC", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let Some(&last) = seqs.first() else {
                return Ok(Some(0));
            };
            let read = tx.prepare("SELECT entries FROM call_log WHERE seq = $1")?;
            let mut fresh: Vec<Vec<u8>> = Vec::new();
            let written = call_log::compact_rows(
                &seqs,
                |seq, row| {
                    let r = tx.query_one(&read, &[&seq])?;
                    row.extend_from_slice(r.get::<_, &[u8]>(0));
                    Ok(true)
                },
                |row| {
                    fresh.push(row.to_vec());
                    Ok::<(), postgres::Error>(())
                },
            )?;
            if written.is_some() {
                for row in &fresh {
                    tx.execute("INSERT INTO call_log (entries) VALUES ($1)", &[row])?;
                }
                tx.execute("DELETE FROM call_log WHERE seq <= $1", &[&last])?;
                tx.execute(
                    "UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'compactions'",
                    &[],
                )?;
            }
            Ok(written)
        });
        self.log.after_compaction(compacted)
    }

    pub(crate) fn log(&mut self) -> &mut call_log::LogSize {
        &mut self.log
    }

    pub(crate) fn log_size(&self) -> &call_log::LogSize {
        &self.log
    }
}
