//! A batch of the writer in one transaction: the fence first (when the node holds the
//! lease), then each table's rows in one statement over arrays (`UNNEST`), so a batch
//! costs a handful of round trips however many calls it holds.

use std::collections::BTreeMap;

use postgres::types::ToSql;
use switchboard_core::Preference;

use super::{Failed, PgStore};
use crate::{StoreError, journal::CallRecordRow, pending::Prepared};

const CUSTOMERS: &str = "INSERT INTO customers
    (id, name, numbers, tier, preference, language, lifetime_value, influence, tags,
     attributes, preferred_agent, contacts, preferred_channel, seq)
    SELECT *, nextval('changes') FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[],
        $5::text[], $6::text[], $7::float8[], $8::int2[], $9::text[], $10::text[], $11::text[],
        $12::text[], $13::text[])
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, numbers = EXCLUDED.numbers,
        tier = EXCLUDED.tier, preference = EXCLUDED.preference, language = EXCLUDED.language,
        lifetime_value = EXCLUDED.lifetime_value, influence = EXCLUDED.influence,
        tags = EXCLUDED.tags, attributes = EXCLUDED.attributes,
        preferred_agent = EXCLUDED.preferred_agent, contacts = EXCLUDED.contacts,
        preferred_channel = EXCLUDED.preferred_channel, seq = EXCLUDED.seq";

const LEARNED: &str = "INSERT INTO learned
    (number, zero_out_bits, observed, chosen, last_call, seq)
    SELECT *, nextval('changes') FROM UNNEST($1::int8[], $2::int4[], $3::int2[], $4::text[],
        $5::int8[])
    ON CONFLICT (number) DO UPDATE SET zero_out_bits = EXCLUDED.zero_out_bits,
        observed = EXCLUDED.observed, chosen = EXCLUDED.chosen,
        last_call = EXCLUDED.last_call, seq = EXCLUDED.seq";

const SERVED: &str = "INSERT INTO last_contact
    (number, agent, at, queue, resolved, wrap_up_code, seq)
    SELECT *, nextval('changes') FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[],
        $5::bool[], $6::text[])
    ON CONFLICT (number) DO UPDATE SET agent = EXCLUDED.agent, at = EXCLUDED.at,
        queue = EXCLUDED.queue, resolved = EXCLUDED.resolved,
        wrap_up_code = EXCLUDED.wrap_up_code, seq = EXCLUDED.seq";

const RECORDS: &str = "INSERT INTO call_records
    (id, call_id, arrived, switch_id, caller, tier, channel, line, menu_path, decision, rule,
     matched, queue, queued_at, answered_at, wait_ms, agent, ended_at, outcome, disposition,
     resolved, satisfaction, recommend, transfers, retention)
    SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[], $5::text[],
        $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
        $13::text[], $14::int8[], $15::int8[], $16::int8[], $17::text[], $18::int8[],
        $19::text[], $20::text[], $21::bool[], $22::int2[], $23::int2[], $24::int2[],
        $25::bool[])
    ON CONFLICT (id) DO UPDATE SET call_id = EXCLUDED.call_id, arrived = EXCLUDED.arrived,
        switch_id = EXCLUDED.switch_id, caller = EXCLUDED.caller, tier = EXCLUDED.tier,
        channel = EXCLUDED.channel, line = EXCLUDED.line, menu_path = EXCLUDED.menu_path,
        decision = EXCLUDED.decision, rule = EXCLUDED.rule, matched = EXCLUDED.matched,
        queue = EXCLUDED.queue, queued_at = EXCLUDED.queued_at,
        answered_at = EXCLUDED.answered_at, wait_ms = EXCLUDED.wait_ms,
        agent = EXCLUDED.agent, ended_at = EXCLUDED.ended_at, outcome = EXCLUDED.outcome,
        disposition = EXCLUDED.disposition, resolved = EXCLUDED.resolved,
        satisfaction = EXCLUDED.satisfaction, recommend = EXCLUDED.recommend,
        transfers = EXCLUDED.transfers, retention = EXCLUDED.retention";

const AGENTS: &str = "INSERT INTO live_agents (agent_id, image, seq)
    SELECT *, nextval('changes') FROM UNNEST($1::text[], $2::text[])
    ON CONFLICT (agent_id) DO UPDATE SET image = EXCLUDED.image, seq = EXCLUDED.seq";

fn ms(t: switchboard_core::Millis) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

impl PgStore {
    /// Writes a prepared batch in one transaction; returns how many call records
    /// retention removed. A write the fence refuses is [`StoreError::Fenced`].
    pub(crate) fn write_prepared(&mut self, batch: &Prepared<'_>) -> Result<u64, StoreError> {
        self.transaction(true, |tx| write_rows(tx, batch))
    }

    /// Writes rows without a fence, in one transaction: the start's first customers and
    /// the migration's copy.
    pub(crate) fn write_unfenced(
        &mut self,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<(), postgres::Error>,
    ) -> Result<(), StoreError> {
        self.transaction(false, f)
    }

    /// Runs `f` in one transaction, committed if it succeeds; `fenced`, it begins with
    /// the fence of the epoch this node writes with (when it holds one).
    pub(crate) fn transaction<T>(
        &mut self,
        fenced: bool,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let (domain, epoch) = (self.options.domain.clone(), self.epoch.filter(|_| fenced));
        let result = (|| {
            let mut tx = self.client()?.transaction().map_err(Failed::Pg)?;
            if let Some(epoch) = epoch {
                tx.execute("SELECT switchboard_fence($1, $2)", &[&domain, &epoch])
                    .map_err(Failed::Pg)?;
            }
            let out = f(&mut tx).map_err(Failed::Pg)?;
            tx.commit().map_err(Failed::Pg)?;
            Ok(out)
        })();
        result.map_err(|e| match e {
            Failed::Store(e) => e,
            Failed::Pg(e) => self.err(&e),
        })
    }
}

fn write_rows(
    tx: &mut postgres::Transaction<'_>,
    batch: &Prepared<'_>,
) -> Result<u64, postgres::Error> {
    let p = batch.pending;
    if !p.customers.is_empty() {
        let rows: Vec<_> = p.customers.values().collect();
        put_customers(
            tx,
            &rows.iter().map(|(c, t)| (&**c, &**t)).collect::<Vec<_>>(),
        )?;
    }
    if !p.learned.is_empty() {
        let (mut n, mut b, mut o, mut c, mut l) = (vec![], vec![], vec![], vec![], vec![]);
        for (number, learned) in &p.learned {
            let (bits, observed, chosen, last_call) = learned.parts();
            n.push(number.as_u64() as i64);
            b.push(i32::from(bits));
            o.push(i16::from(observed));
            c.push(chosen.map(Preference::as_str));
            l.push(last_call.map(ms));
        }
        tx.execute(LEARNED, &[&n, &b, &o, &c, &l])?;
    }
    if !p.served.is_empty() {
        let (mut n, mut a, mut at, mut q, mut r, mut w) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (number, contact) in &p.served {
            n.push(number.as_u64() as i64);
            a.push(&*contact.agent);
            at.push(ms(contact.at));
            q.push(&*contact.queue);
            r.push(contact.resolved);
            w.push(&*contact.wrap_up_code);
        }
        tx.execute(SERVED, &[&n, &a, &at, &q, &r, &w])?;
    }
    // Finished calls' records, then those the journal's calls carry (the later word on
    // a key wins, as it would row by row).
    let mut records: BTreeMap<i64, &CallRecordRow> = BTreeMap::new();
    for (key, row) in &p.done {
        records.insert(*key, row);
    }
    for (key, row) in batch.calls.records() {
        records.insert(*key, row);
    }
    put_records(tx, &records)?;
    let mut pruned = 0;
    if let Some(before) = p.prune {
        pruned = tx.execute(
            "DELETE FROM call_records WHERE arrived < $1",
            &[&ms(before)],
        )?;
    }
    for e in &p.audit {
        tx.execute(
            "INSERT INTO audit (at, who, role, remote, action, target, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &ms(e.at),
                &e.who,
                &e.role,
                &e.remote,
                &e.action,
                &e.target,
                &e.detail,
            ],
        )?;
    }
    for (name, closed) in &p.queues {
        match closed {
            Some(reason) => tx.execute(
                "INSERT INTO closed_queues (queue, reason) VALUES ($1, $2)
                 ON CONFLICT (queue) DO UPDATE SET reason = EXCLUDED.reason",
                &[&&**name, &&**reason],
            )?,
            None => tx.execute("DELETE FROM closed_queues WHERE queue = $1", &[&&**name])?,
        };
    }
    if let Some(row) = batch.calls.row() {
        tx.execute("INSERT INTO call_log (entries) VALUES ($1)", &[&row])?;
    }
    let (mut ids, mut images, mut gone) = (vec![], vec![], vec![]);
    for (id, agent) in &batch.agents {
        match agent {
            Some(a) => {
                ids.push(*id);
                images.push(serde_json::to_string(a).expect("an agent image is plain data"));
            }
            None => gone.push(*id),
        }
    }
    if !ids.is_empty() {
        tx.execute(AGENTS, &[&ids, &images])?;
    }
    if !gone.is_empty() {
        tx.execute("DELETE FROM live_agents WHERE agent_id = ANY($1)", &[&gone])?;
    }
    Ok(pruned)
}

/// Customers, replacing any with the same id, in one statement.
pub(crate) fn put_customers(
    tx: &mut postgres::Transaction<'_>,
    rows: &[(&switchboard_core::Customer, &str)],
) -> Result<(), postgres::Error> {
    let mut cols: [Vec<Option<String>>; 11] = Default::default();
    let (mut value, mut influence) = (vec![], vec![]);
    for (c, tier) in rows {
        let f = crate::customer_fields(c, tier);
        for (col, v) in cols.iter_mut().zip(f.text) {
            col.push(v);
        }
        value.push(c.lifetime_value);
        influence.push(i16::from(c.influence));
    }
    let [
        id,
        name,
        numbers,
        tier,
        pref,
        lang,
        tags,
        attrs,
        agent,
        contacts,
        channel,
    ] = &cols;
    let params: [&(dyn ToSql + Sync); 13] = [
        id, name, numbers, tier, pref, lang, &value, &influence, tags, attrs, agent, contacts,
        channel,
    ];
    tx.execute(CUSTOMERS, &params)?;
    Ok(())
}

fn put_records(
    tx: &mut postgres::Transaction<'_>,
    records: &BTreeMap<i64, &CallRecordRow>,
) -> Result<(), postgres::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let n = records.len();
    let mut id = Vec::with_capacity(n);
    let mut text: [Vec<Option<&str>>; 14] = Default::default();
    let mut times: [Vec<Option<i64>>; 5] = Default::default();
    let mut flags: [Vec<Option<bool>>; 2] = Default::default();
    let mut small: [Vec<Option<i16>>; 3] = Default::default();
    for (key, r) in records {
        id.push(*key);
        let t = [
            Some(r.call_id.as_str()),
            Some(&r.switch_id),
            r.caller.as_deref(),
            Some(&r.tier),
            Some(&r.channel),
            Some(&r.line),
            Some(&r.menu_path),
            Some(&r.decision),
            r.rule.as_deref(),
            Some(&r.matched),
            r.queue.as_deref(),
            r.agent.as_deref(),
            Some(&r.outcome),
            r.disposition.as_deref(),
        ];
        for (col, v) in text.iter_mut().zip(t) {
            col.push(v);
        }
        let at = [
            Some(ms(r.arrived)),
            r.queued_at.map(ms),
            r.answered_at.map(ms),
            r.wait_ms.map(|w| i64::try_from(w).unwrap_or(i64::MAX)),
            r.ended_at.map(ms),
        ];
        for (col, v) in times.iter_mut().zip(at) {
            col.push(v);
        }
        flags[0].push(r.resolved);
        flags[1].push(r.retention);
        small[0].push(r.satisfaction.map(i16::from));
        small[1].push(r.recommend.map(i16::from));
        small[2].push(Some(i16::from(r.transfers)));
    }
    let [
        call_id,
        switch_id,
        caller,
        tier,
        channel,
        line,
        menu,
        decision,
        rule,
        matched,
        queue,
        agent,
        outcome,
        disposition,
    ] = &text;
    let [arrived, queued_at, answered_at, wait_ms, ended_at] = &times;
    let [resolved, retention] = &flags;
    let [satisfaction, recommend, transfers] = &small;
    let params: [&(dyn ToSql + Sync); 25] = [
        &id,
        call_id,
        arrived,
        switch_id,
        caller,
        tier,
        channel,
        line,
        menu,
        decision,
        rule,
        matched,
        queue,
        queued_at,
        answered_at,
        wait_ms,
        agent,
        ended_at,
        outcome,
        disposition,
        resolved,
        satisfaction,
        recommend,
        transfers,
        retention,
    ];
    tx.execute(RECORDS, &params)?;
    Ok(())
}
