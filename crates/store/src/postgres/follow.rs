//! A standby's warm copy of what the leader writes, read on a connection of its own in
//! one snapshot a poll: the journal's log of calls row by row as it grows (read again
//! whole after a compaction), and the customers and learned behaviour that changed, for
//! the standby to load at once. Agents and closed queues are few; they are read whole
//! when the copy is taken over.

use std::time::{Duration, Instant};

use postgres::{Client, IsolationLevel};
use switchboard_core::{
    E164, Profile, TierId,
    behaviour::{LastContact, Learned},
};

use super::{PgOptions, classify, connect, read, shown};
use crate::{RowNote, StoreError, call_log, journal::Journal};

/// What changed since the last poll, besides the calls the copy keeps.
#[derive(Debug, Default)]
pub struct Followed {
    pub customers: Vec<Profile>,
    pub notes: Vec<RowNote>,
    pub learned: Vec<(E164, Learned, Option<LastContact>)>,
    /// Rows of the journal's log read.
    pub log_rows: usize,
}

/// Where a copy starts following customers and learned behaviour: what changed after
/// the rows a start loaded (read before it loads them).
#[derive(Debug, Clone, Copy, Default)]
pub struct FollowFrom {
    customers: i64,
    learned: i64,
    contacts: i64,
}

impl super::PgStore {
    /// Where a copy starts following, to be read before the customers and learned
    /// behaviour are loaded.
    pub fn follow_from(&mut self) -> Result<FollowFrom, StoreError> {
        let r = self
            .client()?
            .query_one(
                "SELECT (SELECT coalesce(max(seq), 0) FROM customers),
                        (SELECT coalesce(max(seq), 0) FROM learned),
                        (SELECT coalesce(max(seq), 0) FROM last_contact)",
                &[],
            )
            .map_err(|e| self.err(&e))?;
        Ok(FollowFrom {
            customers: r.get(0),
            learned: r.get(1),
            contacts: r.get(2),
        })
    }
}

/// The warm copy.
pub struct Follower {
    client: Client,
    options: PgOptions,
    shown: String,
    live: call_log::Live,
    log_seq: i64,
    compactions: i64,
    customer_seq: i64,
    learned_seq: i64,
    contact_seq: i64,
    /// When the copy last matched the database (the start of the poll's snapshot).
    caught_up: Option<Instant>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("url", &self.shown)
            .field("log_seq", &self.log_seq)
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// Connects a copy that follows customers and learned behaviour from `from`, and
    /// the journal's calls from the start of the log.
    pub fn connect(options: &PgOptions, from: FollowFrom) -> Result<Follower, StoreError> {
        Ok(Follower {
            client: connect(options)?,
            options: options.clone(),
            shown: shown(&options.url),
            live: call_log::Live::default(),
            log_seq: 0,
            compactions: -1,
            customer_seq: from.customers,
            learned_seq: from.learned,
            contact_seq: from.contacts,
            caught_up: None,
        })
    }

    /// How far behind the database the copy may be: the time since the snapshot of
    /// the last poll that succeeded; `None` before the first.
    pub fn lag(&self) -> Option<Duration> {
        self.caught_up.map(|t| t.elapsed())
    }

    /// Reads what changed since the last poll. Customers' tiers are mapped by
    /// `tier_id`, as at start.
    pub fn poll(
        &mut self,
        tier_id: impl Fn(&str) -> Option<TierId>,
    ) -> Result<Followed, StoreError> {
        let started = Instant::now();
        if self.client.is_closed() {
            self.client = connect(&self.options)?;
        }
        let (shown, domain) = (self.shown.clone(), self.options.domain.clone());
        let err = |e: postgres::Error| classify(&shown, &domain, &e);
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(err)?;
        let compactions: i64 = tx
            .query_one(
                "SELECT coalesce((SELECT value::int8 FROM meta WHERE key = 'compactions'), 0)",
                &[],
            )
            .map_err(err)?
            .get(0);
        if compactions != self.compactions {
            // Rows the copy has not read may be gone: read the log again whole.
            self.live = call_log::Live::default();
            self.log_seq = 0;
            self.compactions = compactions;
        }
        let log = tx
            .query(
                "SELECT seq, entries FROM call_log WHERE seq > $1 ORDER BY seq",
                &[&self.log_seq],
            )
            .map_err(err)?;
        let customers = tx
            .query(
                "SELECT id, name, numbers, tier, preference, language, lifetime_value, influence,
                        tags, attributes, preferred_agent, contacts, preferred_channel, seq
                 FROM customers WHERE seq > $1 ORDER BY seq",
                &[&self.customer_seq],
            )
            .map_err(err)?;
        let learned = tx
            .query(
                "SELECT coalesce(l.number, c.number), coalesce(l.zero_out_bits, 0::int4),
                        coalesce(l.observed, 0::int2), l.chosen, l.last_call,
                        c.agent, c.at, c.queue, c.resolved, c.wrap_up_code,
                        coalesce(l.seq, 0), coalesce(c.seq, 0)
                 FROM learned l FULL JOIN last_contact c ON c.number = l.number
                 WHERE l.seq > $1 OR c.seq > $2",
                &[&self.learned_seq, &self.contact_seq],
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        let mut out = Followed {
            log_rows: log.len(),
            ..Followed::default()
        };
        for r in &log {
            let seq: i64 = r.get(0);
            self.live.apply(seq, r.get::<_, &[u8]>(1));
            self.log_seq = seq;
        }
        for r in customers {
            self.customer_seq = self.customer_seq.max(r.get(13));
            out.customers.push(read::stored_customer(&r).profile(
                &self.shown,
                &tier_id,
                &mut out.notes,
            )?);
        }
        for r in learned {
            self.learned_seq = self.learned_seq.max(r.get(10));
            self.contact_seq = self.contact_seq.max(r.get(11));
            out.learned
                .push(read::stored_learned(&r).decode(&self.shown)?);
        }
        self.caught_up = Some(started);
        Ok(out)
    }

    /// The journal as the copy holds it: the calls followed, with the agents and closed
    /// queues read now. Call [`Follower::poll`] first for the latest.
    pub fn journal(&mut self) -> Result<Journal, StoreError> {
        let (shown, domain) = (self.shown.clone(), self.options.domain.clone());
        let err = |e: postgres::Error| classify(&shown, &domain, &e);
        let agents = self
            .client
            .query(
                "SELECT agent_id, image FROM live_agents ORDER BY agent_id",
                &[],
            )
            .map_err(err)?;
        let queues = self
            .client
            .query(
                "SELECT queue, reason FROM closed_queues ORDER BY queue",
                &[],
            )
            .map_err(err)?;
        Ok(read::journal_from(&agents, &self.live, &queues))
    }

    /// Calls the copy holds as live.
    pub fn calls(&self) -> usize {
        self.live.len()
    }
}
