//! Moving an SQLite store into PostgreSQL: every table, row by row as stored (customers,
//! learned behaviour, last contacts, call records, the audit trail, closed queues, the
//! journal's agents and its log of calls in order), in one PostgreSQL transaction. The
//! file is locked against a server for the copy and never changed; a database that
//! already holds a store is refused, so nothing is ever merged or overwritten.

use std::path::Path;

use postgres::types::ToSql;
use rusqlite::types::ValueRef;

use crate::{PgOptions, PgStore, Store, StoreError, lock::StoreLock};

/// What was copied, by table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied {
    pub customers: u64,
    pub learned: u64,
    pub last_contacts: u64,
    pub call_records: u64,
    pub audit: u64,
    pub closed_queues: u64,
    pub agents: u64,
    pub journal_rows: u64,
}

/// One table: its columns as both stores name them, and how each SQLite value becomes a
/// PostgreSQL one.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    /// Rows a standby follows carry a change sequence in PostgreSQL.
    seq: bool,
    order: &'static str,
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int8,
    Int4,
    Int2,
    Float8,
    Bool,
    Bytes,
}

use Kind::*;

const TABLES: &[Table] = &[
    Table {
        name: "customers",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("numbers", Text),
            ("tier", Text),
            ("preference", Text),
            ("language", Text),
            ("lifetime_value", Float8),
            ("influence", Int2),
            ("tags", Text),
            ("attributes", Text),
            ("preferred_agent", Text),
            ("contacts", Text),
            ("preferred_channel", Text),
        ],
        seq: true,
        order: "id",
    },
    Table {
        name: "learned",
        columns: &[
            ("number", Int8),
            ("zero_out_bits", Int4),
            ("observed", Int2),
            ("chosen", Text),
            ("last_call", Int8),
        ],
        seq: true,
        order: "number",
    },
    Table {
        name: "last_contact",
        columns: &[
            ("number", Int8),
            ("agent", Text),
            ("at", Int8),
            ("queue", Text),
            ("resolved", Bool),
            ("wrap_up_code", Text),
        ],
        seq: true,
        order: "number",
    },
    Table {
        name: "call_records",
        columns: &[
            ("id", Int8),
            ("call_id", Text),
            ("arrived", Int8),
            ("switch_id", Text),
            ("caller", Text),
            ("tier", Text),
            ("channel", Text),
            ("line", Text),
            ("menu_path", Text),
            ("decision", Text),
            ("rule", Text),
            ("matched", Text),
            ("queue", Text),
            ("queued_at", Int8),
            ("answered_at", Int8),
            ("wait_ms", Int8),
            ("agent", Text),
            ("ended_at", Int8),
            ("outcome", Text),
            ("disposition", Text),
            ("resolved", Bool),
            ("satisfaction", Int2),
            ("recommend", Int2),
            ("transfers", Int2),
            ("retention", Bool),
        ],
        seq: false,
        order: "id",
    },
    Table {
        name: "audit",
        columns: &[
            ("at", Int8),
            ("who", Text),
            ("role", Text),
            ("remote", Text),
            ("action", Text),
            ("target", Text),
            ("detail", Text),
        ],
        seq: false,
        order: "id",
    },
    Table {
        name: "closed_queues",
        columns: &[("queue", Text), ("reason", Text)],
        seq: false,
        order: "queue",
    },
    Table {
        name: "live_agents",
        columns: &[("agent_id", Text), ("image", Text)],
        seq: true,
        order: "agent_id",
    },
    // Rows of the log keep their order; PostgreSQL numbers them afresh.
    Table {
        name: "call_log",
        columns: &[("entries", Bytes)],
        seq: false,
        order: "seq",
    },
];

type Value = Box<dyn ToSql + Sync>;

fn convert(v: ValueRef<'_>, kind: Kind, at: &str) -> Result<Value, String> {
    let wrong = || format!("{at}: a value of the wrong type ({:?})", v.data_type());
    Ok(match (kind, v) {
        (_, ValueRef::Null) => match kind {
            Text => Box::new(None::<String>),
            Int8 => Box::new(None::<i64>),
            Int4 => Box::new(None::<i32>),
            Int2 => Box::new(None::<i16>),
            Float8 => Box::new(None::<f64>),
            Bool => Box::new(None::<bool>),
            Bytes => Box::new(None::<Vec<u8>>),
        },
        (Text, ValueRef::Text(t)) => Box::new(String::from_utf8(t.to_vec()).map_err(|_| wrong())?),
        (Int8, ValueRef::Integer(i)) => Box::new(i),
        (Int4, ValueRef::Integer(i)) => Box::new(i32::try_from(i).map_err(|_| wrong())?),
        (Int2, ValueRef::Integer(i)) => Box::new(i16::try_from(i).map_err(|_| wrong())?),
        (Float8, ValueRef::Real(r)) => Box::new(r),
        (Float8, ValueRef::Integer(i)) => Box::new(i as f64),
        (Bool, ValueRef::Integer(i)) => Box::new(i != 0),
        (Bytes, ValueRef::Blob(b)) => Box::new(b.to_vec()),
        _ => return Err(wrong()),
    })
}

/// Copies the SQLite store at `from` into the empty PostgreSQL database `to`.
pub fn sqlite_to_postgres(from: &Path, to: PgOptions) -> Result<Copied, StoreError> {
    let shown = from.display().to_string();
    // No server may write the file meanwhile (and none starts on it).
    let _lock = StoreLock::acquire(
        from,
        &format!("switchboard migrate, pid {}", std::process::id()),
    )?;
    // Opened for writing so an older file is brought to this build's schema first.
    let source = Store::open(from)?;
    drop(source);
    let source = crate::report::read_only(from)?;
    let mut target = PgStore::open(to)?;
    let target_shown = target.shown().to_owned();
    let occupied: bool = target
        .client()?
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM customers) OR EXISTS (SELECT 1 FROM call_log)
                 OR EXISTS (SELECT 1 FROM call_records) OR EXISTS (SELECT 1 FROM live_agents)",
            &[],
        )
        .map_err(|e| target.err(&e))?
        .get(0);
    if occupied {
        return Err(StoreError::Postgres {
            url: target_shown,
            detail:
                "already holds a store; migrate only into an empty database (nothing was copied)"
                    .to_owned(),
        });
    }
    let mut copied = Copied::default();
    let sqlite = |e| StoreError::Sqlite {
        path: shown.clone(),
        source: e,
    };
    let pg = |e: postgres::Error| crate::postgres::classify(&target_shown, "", &e);
    // Any error returns before the commit: the transaction is rolled back as it drops.
    let mut tx = target.client()?.transaction().map_err(pg)?;
    for table in TABLES {
        let names: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
        let mut placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let mut columns = names.join(", ");
        if table.seq {
            columns.push_str(", seq");
            placeholders.push("nextval('changes')".to_owned());
        }
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {} ({columns}) VALUES ({})",
                table.name,
                placeholders.join(", ")
            ))
            .map_err(pg)?;
        let mut stmt = source
            .prepare(&format!(
                "SELECT {} FROM {} ORDER BY {}",
                names.join(", "),
                table.name,
                table.order
            ))
            .map_err(sqlite)?;
        let mut rows = stmt.query([]).map_err(sqlite)?;
        let mut n = 0u64;
        while let Some(r) = rows.next().map_err(sqlite)? {
            let mut values: Vec<Value> = Vec::with_capacity(names.len());
            for (i, (name, kind)) in table.columns.iter().enumerate() {
                let at = format!("{}.{name}", table.name);
                let v = r.get_ref(i).map_err(sqlite)?;
                values.push(
                    convert(v, *kind, &at).map_err(|detail| StoreError::Damaged {
                        path: shown.clone(),
                        detail,
                    })?,
                );
            }
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| &**v).collect();
            tx.execute(&insert, &params).map_err(pg)?;
            n += 1;
        }
        *match table.name {
            "customers" => &mut copied.customers,
            "learned" => &mut copied.learned,
            "last_contact" => &mut copied.last_contacts,
            "call_records" => &mut copied.call_records,
            "audit" => &mut copied.audit,
            "closed_queues" => &mut copied.closed_queues,
            "live_agents" => &mut copied.agents,
            _ => &mut copied.journal_rows,
        } = n;
    }
    tx.commit().map_err(pg)?;
    Ok(copied)
}
