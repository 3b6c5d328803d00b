//! The audit trail: every change an administrator or supervisor makes through the API,
//! with who made it (the identity, never a token), from where, what it touched and what
//! changed. Each entry is logged (target `switchboard::audit`), kept in memory (the last
//! [`KEPT`]) and, with a store, written with the change it records.

use std::{collections::VecDeque, sync::Mutex};

use switchboard_core::{Customer, Millis, RoutePlan};
use switchboard_proto::v1 as pb;
use switchboard_store::{audit::AuditEntry, writer::Change};

use crate::{App, security::Caller};

/// Entries kept in memory for `Admin.ListAudit` when the server has no store.
const KEPT: usize = 10_000;
/// Entries one `ListAudit` returns when it does not say, and at most.
pub(crate) const DEFAULT_LIMIT: usize = 100;
pub(crate) const MAX_LIMIT: usize = 1_000;

/// The recent entries, newest last.
#[derive(Debug, Default)]
pub(crate) struct Recent(Mutex<VecDeque<AuditEntry>>);

impl Recent {
    fn push(&self, entry: AuditEntry) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back(entry);
    }

    /// Entries at or after `since`, newest first, at most `limit`.
    pub(crate) fn list(&self, since: Millis, limit: usize) -> Vec<AuditEntry> {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .rev()
            .filter(|e| e.at >= since)
            .take(limit)
            .cloned()
            .collect()
    }
}

impl App {
    /// Records a change `caller` made: logged, kept, and stored with the change.
    pub(crate) fn audit(&self, caller: &Caller, action: &str, target: &str, detail: String) {
        self.record(AuditEntry {
            at: self.clock.now(),
            who: caller.identity.to_string(),
            role: caller.identity.grant.role.name().to_owned(),
            remote: caller.remote.map(|r| r.to_string()),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
        });
    }

    /// Records a change made on the server's host rather than through the API (a config
    /// reload on SIGHUP or on a file change): `who` names the trigger, the role is `host`.
    pub(crate) fn audit_host(&self, who: &str, action: &str, target: &str, detail: String) {
        self.record(AuditEntry {
            at: self.clock.now(),
            who: who.to_owned(),
            role: "host".to_owned(),
            remote: None,
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
        });
    }

    fn record(&self, entry: AuditEntry) {
        tracing::info!(
            target: "switchboard::audit",
            who = %entry.who,
            from = entry.remote.as_deref().unwrap_or("-"),
            action = %entry.action,
            target = %entry.target,
            detail = %entry.detail,
            "audit"
        );
        if let Some(w) = &self.store {
            w.send(Change::Audit(Box::new(entry.clone())));
        }
        self.audit_trail.push(entry);
    }
}

/// What a reload did, for the audit trail.
pub(crate) fn reload_outcome(outcome: &crate::ReloadOutcome) -> String {
    if outcome.applied {
        format!("applied, {} warning(s)", outcome.warnings.len())
    } else {
        format!(
            "refused: {} error(s); the running config stays",
            outcome.errors.len()
        )
    }
}

/// What an upsert changed of a customer, without personal data (a name is "changed", not
/// shown; numbers are counted).
pub(crate) fn customer_change(
    plan: &RoutePlan,
    before: Option<&Customer>,
    after: &Customer,
) -> String {
    let tier = |c: &Customer| plan.tier(c.tier).name.clone();
    let Some(before) = before else {
        return format!(
            "created: tier {}, preference {}, {} number(s)",
            tier(after),
            after.preference.as_str(),
            after.numbers.len()
        );
    };
    let mut changes = Vec::new();
    if before.tier != after.tier {
        changes.push(format!("tier {} -> {}", tier(before), tier(after)));
    }
    if before.preference != after.preference {
        changes.push(format!(
            "preference {} -> {}",
            before.preference.as_str(),
            after.preference.as_str()
        ));
    }
    if before.numbers != after.numbers {
        changes.push(format!(
            "numbers changed ({} -> {})",
            before.numbers.len(),
            after.numbers.len()
        ));
    }
    if before.name() != after.name() {
        changes.push("name changed".to_owned());
    }
    if before.preferred_agent() != after.preferred_agent() {
        changes.push(format!(
            "preferred agent {} -> {}",
            before.preferred_agent().unwrap_or("none"),
            after.preferred_agent().unwrap_or("none")
        ));
    }
    if !before.tags().eq(after.tags()) || !before.attributes().eq(after.attributes()) {
        changes.push("tags or attributes changed".to_owned());
    }
    if before.language() != after.language()
        || before.influence != after.influence
        || before.lifetime_value.to_bits() != after.lifetime_value.to_bits()
    {
        changes.push("language, influence or lifetime value changed".to_owned());
    }
    if changes.is_empty() {
        "unchanged".to_owned()
    } else {
        changes.join("; ")
    }
}

pub(crate) fn entry_to(e: &AuditEntry) -> pb::AuditEntry {
    pb::AuditEntry {
        at: Some(crate::convert::timestamp(e.at)),
        who: e.who.clone(),
        role: e.role.clone(),
        remote: e.remote.clone().unwrap_or_default(),
        action: e.action.clone(),
        target: e.target.clone(),
        detail: e.detail.clone(),
    }
}
