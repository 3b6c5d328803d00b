//! The audit trail: every change an administrator or supervisor made, with who made it,
//! from where, what it touched and, where small, what it was before and after. Rows are
//! only ever added (retention of call records does not touch them), and are read by a
//! connection of their own, as reports are.

use std::path::Path;

use rusqlite::{Transaction, params};
use switchboard_core::Millis;

use crate::{Location, StoreError, report::read_only};

/// One audited change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Millis,
    /// The identity as shown in logs: role, name and how it proved itself.
    pub who: String,
    pub role: String,
    /// The address the request came from, when known.
    pub remote: Option<String>,
    /// The method: `Admin/UpsertCustomer`.
    pub action: String,
    /// What it changed: a customer id, an agent id, a config path.
    pub target: String,
    /// Before and after, counts, or the outcome.
    pub detail: String,
}

impl AuditEntry {
    /// About how many bytes it holds while waiting for the disk.
    pub(crate) fn bytes(&self) -> u64 {
        (size_of::<AuditEntry>()
            + self.who.len()
            + self.role.len()
            + self.remote.as_ref().map_or(0, String::len)
            + self.action.len()
            + self.target.len()
            + self.detail.len()) as u64
    }
}

pub(crate) const SCHEMA: &str = "CREATE TABLE audit (
         id INTEGER PRIMARY KEY,
         at INTEGER NOT NULL,
         who TEXT NOT NULL,
         role TEXT NOT NULL,
         remote TEXT,
         action TEXT NOT NULL,
         target TEXT NOT NULL,
         detail TEXT NOT NULL
     );
     CREATE INDEX audit_by_time ON audit (at);";

pub(crate) fn put(tx: &Transaction<'_>, e: &AuditEntry) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit (at, who, role, remote, action, target, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        i64::try_from(e.at.0).unwrap_or(i64::MAX),
        e.who,
        e.role,
        e.remote,
        e.action,
        e.target,
        e.detail
    ])?;
    Ok(())
}

/// The entries at or after `since`, newest first, at most `limit`.
pub fn list(
    location: &Location,
    since: Millis,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    match location {
        Location::File(path) => sqlite_list(path, since, limit),
        Location::Postgres(o) => crate::postgres::report::audit(o, since, limit),
    }
}

fn sqlite_list(path: &Path, since: Millis, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let shown = path.display().to_string();
    let sqlite = |source| StoreError::Sqlite {
        path: shown.clone(),
        source,
    };
    let conn = read_only(path)?;
    let mut stmt = conn
        .prepare(
            "SELECT at, who, role, remote, action, target, detail FROM audit
             WHERE at >= ?1 ORDER BY at DESC, id DESC LIMIT ?2",
        )
        .map_err(sqlite)?;
    let rows = stmt
        .query_map(
            params![
                i64::try_from(since.0).unwrap_or(i64::MAX),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| {
                Ok(AuditEntry {
                    at: Millis(u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0)),
                    who: r.get(1)?,
                    role: r.get(2)?,
                    remote: r.get(3)?,
                    action: r.get(4)?,
                    target: r.get(5)?,
                    detail: r.get(6)?,
                })
            },
        )
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    Ok(rows)
}
