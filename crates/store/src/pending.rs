//! Changes on their way to the disk, folded together: what matters of a customer, a
//! number, a call or an agent is how it is now, so a later change replaces an earlier
//! one of the same thing. A batch is written as one transaction, so folding never
//! reorders what the disk sees; and while the store cannot write, the backlog grows with
//! the number of things changed, not the number of changes.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use switchboard_core::{
    Customer, E164, Millis, Preference,
    behaviour::{LastContact, Learned},
};

use switchboard_core::acd::AgentImage;

use crate::{
    Backend, Store, StoreError,
    call_log::LogBatch,
    journal::{self, CallRecordRow, LiveSource},
    writer::Change,
};

/// What a batch holds, each thing once, as it was last changed.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub(crate) customers: HashMap<Box<str>, (Arc<Customer>, Arc<str>)>,
    pub(crate) learned: HashMap<E164, Learned>,
    pub(crate) served: HashMap<E164, LastContact>,
    pub(crate) calls: HashSet<Arc<str>>,
    pub(crate) agents: HashSet<Arc<str>>,
    /// Finished calls by journal key: their final record, and their journal row goes.
    pub(crate) done: HashMap<i64, CallRecordRow>,
    pub(crate) prune: Option<Millis>,
    /// Queues closed (with why) or opened (`None`), by name, as last changed.
    pub(crate) queues: HashMap<Arc<str>, Option<Arc<str>>>,
    /// Audit entries, each kept (they are events, not states), in order.
    pub(crate) audit: Vec<crate::audit::AuditEntry>,
    /// Changes folded in since the last write.
    changes: u64,
    /// About how much memory the batch holds.
    bytes: u64,
}

/// Bytes of a map entry beyond its key and value: the slot, its control byte and the
/// room a growing table keeps free. 32 brings the count within a few percent of the
/// heap the backlog really holds (`cargo bench --bench outage` prints both).
const ENTRY: u64 = 32;

fn text(s: &str) -> u64 {
    s.len() as u64
}

impl Pending {
    pub(crate) fn is_empty(&self) -> bool {
        self.changes == 0
    }

    /// Changes folded in since the last write (a change that replaced another counts).
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }

    /// About how many bytes of memory the batch holds.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Folds a change in.
    pub(crate) fn add(&mut self, change: Change) {
        self.changes += 1;
        match change {
            Change::Customer { customer, tier } => {
                let size = customer_bytes(&customer);
                if let Some((old, _)) = self
                    .customers
                    .insert(customer.id().into(), (customer, tier))
                {
                    self.bytes -= customer_bytes(&old);
                } else {
                    self.bytes += ENTRY;
                }
                self.bytes += size;
            }
            Change::Learned { number, learned } => {
                if self.learned.insert(number, learned).is_none() {
                    self.bytes += ENTRY + size_of::<(E164, Learned)>() as u64;
                }
            }
            Change::Served { number, contact } => {
                let size = contact_bytes(&contact);
                match self.served.insert(number, contact) {
                    Some(old) => self.bytes -= contact_bytes(&old),
                    None => self.bytes += ENTRY,
                }
                self.bytes += size;
            }
            Change::Call(id) => {
                let size = ENTRY + 16 + text(&id);
                if self.calls.insert(id) {
                    self.bytes += size;
                }
            }
            Change::Agent(id) => {
                let size = ENTRY + 16 + text(&id);
                if self.agents.insert(id) {
                    self.bytes += size;
                }
            }
            Change::CallDone(image) => {
                let key = i64::try_from(image.key).unwrap_or(i64::MAX);
                let row = CallRecordRow::from_image(&image);
                let size = record_bytes(&row);
                match self.done.insert(key, row) {
                    Some(old) => self.bytes -= record_bytes(&old),
                    None => self.bytes += ENTRY,
                }
                self.bytes += size;
            }
            Change::Prune(before) => {
                self.prune = Some(self.prune.map_or(before, |p| p.max(before)));
            }
            Change::Audit(entry) => {
                self.bytes += entry.bytes();
                self.audit.push(*entry);
            }
            Change::Queue { name, closed } => {
                let size = ENTRY + text(&name) + closed.as_deref().map_or(0, text);
                if self.queues.insert(name, closed).is_none() {
                    self.bytes += size;
                }
            }
        }
    }

    /// Reads the live state of the calls and agents the batch names, for a backend to
    /// write the batch in one transaction. Read before the transaction: the source takes
    /// locks of its own, and none is held while the database waits for the disk.
    pub(crate) fn prepare(
        &self,
        source: Option<&dyn LiveSource>,
    ) -> Result<Prepared<'_>, StoreError> {
        let mut calls = LogBatch::with_capacity(self.calls.len());
        // Finished calls first: a call id the switch reused for a new call is journaled
        // after them under the new call's key.
        for key in self.done.keys() {
            calls.gone(*key);
        }
        if let Some(s) = source {
            for image in self.calls.iter().filter_map(|id| s.call(id)) {
                calls.push(&image).map_err(|e| StoreError::Encode {
                    call_id: image.call_id.clone(),
                    detail: e.to_string(),
                })?;
            }
        }
        let agents: Vec<_> = match source {
            Some(s) => self.agents.iter().map(|id| (&**id, s.agent(id))).collect(),
            None => Vec::new(),
        };
        Ok(Prepared {
            pending: self,
            calls,
            agents,
        })
    }

    /// Writes the batch with the live state read now, in one transaction; returns how
    /// many call records retention removed. On an error nothing was written and the
    /// batch is as it was.
    pub(crate) fn write(
        &self,
        store: &mut Backend,
        source: Option<&dyn LiveSource>,
    ) -> Result<u64, StoreError> {
        let batch = self.prepare(source)?;
        let pruned = store.write(&batch)?;
        store.appended(&batch.calls, source.map(LiveSource::calls_in_progress));
        Ok(pruned)
    }
}

/// A batch with the live state it names read, as a backend writes it in one
/// transaction: customers, learned behaviour, last contacts, finished calls' records,
/// retention, the audit trail, closed queues, then the journal's row of calls and the
/// agents (a call gone from the source was forgotten: its record is its last).
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    pub(crate) pending: &'a Pending,
    pub(crate) calls: LogBatch,
    /// Each agent named, as they are now; `None` for one the process never saw (their
    /// row goes).
    pub(crate) agents: Vec<(&'a str, Option<AgentImage>)>,
}

impl Store {
    /// Writes a prepared batch in one SQLite transaction; returns how many call records
    /// retention removed.
    pub(crate) fn write_prepared(&mut self, batch: &Prepared<'_>) -> Result<u64, StoreError> {
        let p = batch.pending;
        let mut pruned = 0;
        self.in_transaction(|tx| {
            for (customer, tier) in p.customers.values() {
                crate::put_customer(tx, customer, tier)?;
            }
            for (number, learned) in &p.learned {
                let (bits, observed, chosen, last_call) = learned.parts();
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO learned
                     (number, zero_out_bits, observed, chosen, last_call)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(rusqlite::params![
                    number.as_u64() as i64,
                    bits,
                    observed,
                    chosen.map(Preference::as_str),
                    last_call.map(|t| t.0 as i64),
                ])?;
            }
            for (number, contact) in &p.served {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO last_contact
                     (number, agent, at, queue, resolved, wrap_up_code)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(rusqlite::params![
                    number.as_u64() as i64,
                    &*contact.agent,
                    contact.at.0 as i64,
                    &*contact.queue,
                    contact.resolved,
                    &*contact.wrap_up_code,
                ])?;
            }
            for (key, row) in &p.done {
                journal::put_record(tx, *key, row)?;
            }
            if let Some(before) = p.prune {
                pruned = journal::prune(tx, before)?;
            }
            for entry in &p.audit {
                crate::audit::put(tx, entry)?;
            }
            for (name, closed) in &p.queues {
                match closed {
                    Some(reason) => tx
                        .prepare_cached(
                            "INSERT OR REPLACE INTO closed_queues (queue, reason) VALUES (?1, ?2)",
                        )?
                        .execute(rusqlite::params![&**name, &**reason])?,
                    None => tx
                        .prepare_cached("DELETE FROM closed_queues WHERE queue = ?1")?
                        .execute(rusqlite::params![&**name])?,
                };
            }
            batch.calls.write(tx)?;
            for (id, agent) in &batch.agents {
                match agent {
                    Some(a) => journal::put_agent(tx, a)?,
                    None => {
                        tx.prepare_cached("DELETE FROM live_agents WHERE agent_id = ?1")?
                            .execute(rusqlite::params![id])?;
                    }
                }
            }
            Ok(())
        })?;
        Ok(pruned)
    }
}

fn customer_bytes(c: &Customer) -> u64 {
    // The packed profile, its text and its pieces' ends, and the key's copy of the id.
    size_of::<Customer>() as u64
        + 2 * text(c.id())
        + c.name().len() as u64
        + c.language().len() as u64
        + c.preferred_agent().map_or(0, |a| a.len() as u64)
        + 8 * c.numbers.len() as u64
        + c.tags().map(|t| 4 + t.len() as u64).sum::<u64>()
        + c.attributes()
            .map(|(k, v)| 8 + (k.len() + v.len()) as u64)
            .sum::<u64>()
        + c.contacts().map(|a| 4 + a.len() as u64).sum::<u64>()
}

fn contact_bytes(c: &LastContact) -> u64 {
    size_of::<(E164, LastContact)>() as u64
        + text(&c.agent)
        + text(&c.queue)
        + text(&c.wrap_up_code)
}

fn record_bytes(r: &CallRecordRow) -> u64 {
    let opt = |s: &Option<String>| s.as_deref().map_or(0, text);
    size_of::<(i64, CallRecordRow)>() as u64
        + text(&r.call_id)
        + text(&r.switch_id)
        + opt(&r.caller)
        + text(&r.tier)
        + text(&r.channel)
        + text(&r.line)
        + text(&r.menu_path)
        + text(&r.decision)
        + opt(&r.rule)
        + text(&r.matched)
        + opt(&r.queue)
        + opt(&r.agent)
        + text(&r.outcome)
        + opt(&r.disposition)
}
