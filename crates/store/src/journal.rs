//! The journal of live state (calls in progress, agents) and the call detail records.
//!
//! The journal holds each call and agent as it is now rather than every step: the writer
//! is told *which* call or agent changed and reads its state when it writes the batch, so
//! what the journal holds can never be older than the last change reported before the
//! batch began. Agents are one row each; calls are a log of batches, compacted
//! ([`crate::call_log`]). A call leaves the journal when it is forgotten; its call detail
//! record stays until retention prunes it.

use std::sync::Arc;

use rusqlite::{Transaction, params};
use switchboard_core::{
    Millis, Router,
    acd::AgentImage,
    router::{ActionImage, CallImage, Outcome, ReasonImage},
};

use crate::{Store, StoreError, call_log};

/// Where the writer reads the current state of what changed.
pub trait LiveSource: Send + Sync {
    /// The call as it is now; `None` once it is forgotten.
    fn call(&self, call_id: &str) -> Option<CallImage>;
    /// The agent as they are now; `None` for an agent the process never saw.
    fn agent(&self, agent_id: &str) -> Option<AgentImage>;
    /// How many calls are in progress: what the journal holds as live.
    fn calls_in_progress(&self) -> usize;
}

impl LiveSource for Router {
    fn call(&self, call_id: &str) -> Option<CallImage> {
        self.call_image(call_id)
    }

    fn agent(&self, agent_id: &str) -> Option<AgentImage> {
        self.acd().agent_image(agent_id)
    }

    fn calls_in_progress(&self) -> usize {
        Router::calls_in_progress(self)
    }
}

/// What the journal holds, read back at start.
#[derive(Debug, Default)]
pub struct Journal {
    /// Agents, in no particular order.
    pub agents: Vec<AgentImage>,
    /// Calls, in order of arrival.
    pub calls: Vec<CallImage>,
    /// Rows that could not be read, by key; they are left in place.
    pub unreadable: Vec<String>,
    /// Queues a supervisor closed, by name, with why.
    pub closed_queues: Vec<(String, String)>,
}

impl Journal {
    /// The calls a log holds as live, decoded in key order; a call that does not read,
    /// and a log row whose framing does not, are named in `unreadable`.
    pub(crate) fn add_calls(&mut self, live: &call_log::Live) {
        self.calls.reserve(live.len());
        for (id, image) in live.calls() {
            match call_log::decode(image) {
                Ok(call) => self.calls.push(call),
                Err(e) => self.unreadable.push(format!("call {id}: {e}")),
            }
        }
        self.unreadable.extend(live.broken.iter().cloned());
    }

    /// An agent as stored (JSON); one that does not read is named in `unreadable`.
    pub(crate) fn add_agent(&mut self, id: &str, image: &str) {
        match serde_json::from_str(image) {
            Ok(a) => self.agents.push(a),
            Err(e) => self.unreadable.push(format!("agent {id}: {e}")),
        }
    }
}

/// One call detail record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecordRow {
    pub call_id: String,
    pub arrived: Millis,
    pub switch_id: String,
    /// E.164 with a leading `+`, when the number was usable.
    pub caller: Option<String>,
    pub tier: String,
    pub channel: String,
    pub line: String,
    /// Menu answers in order, comma-separated.
    pub menu_path: String,
    /// The first decision: `queue NAME` or `menu NAME`.
    pub decision: String,
    /// The rule that decided, if a rule did.
    pub rule: Option<String>,
    /// Every rule that matched, comma-separated.
    pub matched: String,
    pub queue: Option<String>,
    pub queued_at: Option<Millis>,
    pub answered_at: Option<Millis>,
    /// From entering the queue to an agent answering, or to hanging up unanswered.
    pub wait_ms: Option<u64>,
    pub agent: Option<String>,
    pub ended_at: Option<Millis>,
    /// `in_progress`, `completed`, `abandoned`, `voicemail` or `expired`.
    pub outcome: String,
    pub disposition: Option<String>,
    pub resolved: Option<bool>,
    pub satisfaction: Option<u8>,
    pub recommend: Option<u8>,
    pub transfers: u8,
    /// A retention offer: accepted (a customer save), declined, or none made.
    pub retention: Option<bool>,
}

impl CallRecordRow {
    /// The record of a call as its image shows it.
    pub fn from_image(c: &CallImage) -> CallRecordRow {
        let r = &c.record;
        let queued_at = c.queued.as_ref().map(|(_, t)| *t);
        let wait_until = r.answered.or(match r.outcome {
            Some(Outcome::Abandoned | Outcome::Voicemail) => r.ended,
            _ => None,
        });
        CallRecordRow {
            call_id: c.call_id.clone(),
            arrived: c.created,
            switch_id: c.switch_id.clone(),
            caller: c.number.map(|n| format!("+{n}")),
            tier: c.tier.clone(),
            channel: c.channel.as_str().to_owned(),
            line: c.first.line.clone(),
            menu_path: c.digits.clone(),
            decision: match &c.first.action {
                ActionImage::Menu { menu, .. } => format!("menu {menu}"),
                ActionImage::Enqueue { queue, .. } => format!("queue {queue}"),
            },
            rule: match &c.first.reason {
                ReasonImage::Rule(r) => Some(r.clone()),
                _ => None,
            },
            matched: c.first.matched.join(","),
            queue: c.queued.as_ref().map(|(q, _)| q.clone()),
            queued_at,
            answered_at: r.answered,
            wait_ms: queued_at
                .zip(wait_until)
                .map(|(from, to)| to.0.saturating_sub(from.0)),
            agent: r.agent.clone(),
            ended_at: r.ended,
            outcome: r.outcome.map_or("in_progress", Outcome::as_str).to_owned(),
            disposition: r.disposition.clone(),
            resolved: r.resolved,
            satisfaction: r.satisfaction,
            recommend: r.recommend,
            transfers: r.transfers,
            retention: r.retention,
        }
    }
}

fn ms(t: Millis) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

fn from_ms(t: i64) -> Millis {
    Millis(u64::try_from(t).unwrap_or(0))
}

pub(crate) fn put_agent(tx: &Transaction<'_>, agent: &AgentImage) -> Result<(), rusqlite::Error> {
    let image = serde_json::to_string(agent)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.prepare_cached("INSERT OR REPLACE INTO live_agents (agent_id, image) VALUES (?1, ?2)")?
        .execute(params![agent.profile.id, image])?;
    Ok(())
}

pub(crate) fn put_record(
    tx: &Transaction<'_>,
    id: i64,
    r: &CallRecordRow,
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO call_records (
             id, call_id, arrived, switch_id, caller, tier, channel, line, menu_path, decision,
             rule, matched, queue, queued_at, answered_at, wait_ms, agent, ended_at, outcome,
             disposition, resolved, satisfaction, recommend, transfers, retention)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
    )?
    .execute(params![
        id,
        r.call_id,
        ms(r.arrived),
        r.switch_id,
        r.caller,
        r.tier,
        r.channel,
        r.line,
        r.menu_path,
        r.decision,
        r.rule,
        r.matched,
        r.queue,
        r.queued_at.map(ms),
        r.answered_at.map(ms),
        r.wait_ms.map(|w| i64::try_from(w).unwrap_or(i64::MAX)),
        r.agent,
        r.ended_at.map(ms),
        r.outcome,
        r.disposition,
        r.resolved,
        r.satisfaction,
        r.recommend,
        r.transfers,
        r.retention,
    ])?;
    Ok(())
}

impl Store {
    /// The journal of live state, to put back at start.
    pub fn journal(&self) -> Result<Journal, StoreError> {
        let mut out = Journal::default();
        out.agents = self.images(
            "SELECT agent_id, image FROM live_agents ORDER BY agent_id",
            "agent",
            &mut out.unreadable,
            |v| {
                let text = v.as_str().map_err(|e| e.to_string())?;
                serde_json::from_str(text).map_err(|e| e.to_string())
            },
        )?;
        let live = call_log::read(&self.conn).map_err(|e| self.err(e))?;
        out.add_calls(&live);
        let mut stmt = self
            .conn
            .prepare("SELECT queue, reason FROM closed_queues ORDER BY queue")
            .map_err(|e| self.err(e))?;
        out.closed_queues = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// The images a query returns as (key, image) rows; a row that does not read is
    /// named in `unreadable` and skipped.
    fn images<T>(
        &self,
        sql: &str,
        what: &str,
        unreadable: &mut Vec<String>,
        decode: impl Fn(rusqlite::types::ValueRef<'_>) -> Result<T, String>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let key: String = r.get(0).map_err(|e| self.err(e))?;
            let image = r.get_ref(1).map_err(|e| self.err(e))?;
            match decode(image) {
                Ok(v) => out.push(v),
                Err(e) => unreadable.push(format!("{what} {key}: {e}")),
            }
        }
        Ok(out)
    }

    /// The call detail records of a call id, newest first (a switch may reuse an id).
    pub fn call_records(&self, call_id: &str) -> Result<Vec<CallRecordRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT call_id, arrived, switch_id, caller, tier, channel, line, menu_path,
                        decision, rule, matched, queue, queued_at, answered_at, wait_ms, agent,
                        ended_at, outcome, disposition, resolved, satisfaction, recommend,
                        transfers, retention
                 FROM call_records WHERE call_id = ?1 ORDER BY arrived DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![call_id], |r| {
                Ok(CallRecordRow {
                    call_id: r.get(0)?,
                    arrived: from_ms(r.get(1)?),
                    switch_id: r.get(2)?,
                    caller: r.get(3)?,
                    tier: r.get(4)?,
                    channel: r.get(5)?,
                    line: r.get(6)?,
                    menu_path: r.get(7)?,
                    decision: r.get(8)?,
                    rule: r.get(9)?,
                    matched: r.get(10)?,
                    queue: r.get(11)?,
                    queued_at: r.get::<_, Option<i64>>(12)?.map(from_ms),
                    answered_at: r.get::<_, Option<i64>>(13)?.map(from_ms),
                    wait_ms: r
                        .get::<_, Option<i64>>(14)?
                        .map(|w| u64::try_from(w).unwrap_or(0)),
                    agent: r.get(15)?,
                    ended_at: r.get::<_, Option<i64>>(16)?.map(from_ms),
                    outcome: r.get(17)?,
                    disposition: r.get(18)?,
                    resolved: r.get(19)?,
                    satisfaction: r.get(20)?,
                    recommend: r.get(21)?,
                    transfers: r.get(22)?,
                    retention: r.get(23)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// How many call detail records the store holds.
    pub fn count_call_records(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM call_records", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| self.err(e))
    }

    /// Whether the journal holds this call as live (reads the whole journal).
    pub fn has_live_call(&self, call_id: &str) -> Result<bool, StoreError> {
        let live = call_log::read(&self.conn).map_err(|e| self.err(e))?;
        Ok(live.calls().any(|(id, _)| id == call_id))
    }
}

/// Deletes the call detail records of calls that arrived before `before`; returns how
/// many went.
pub(crate) fn prune(tx: &Transaction<'_>, before: Millis) -> Result<u64, rusqlite::Error> {
    let n = tx
        .prepare_cached("DELETE FROM call_records WHERE arrived < ?1")?
        .execute(params![ms(before)])?;
    Ok(n as u64)
}

/// A shared, weak handle to the source, so the writer never keeps the router alive.
pub(crate) type SourceCell = std::sync::OnceLock<std::sync::Weak<dyn LiveSource>>;

pub(crate) fn source(cell: &SourceCell) -> Option<Arc<dyn LiveSource>> {
    cell.get().and_then(std::sync::Weak::upgrade)
}
