//! Switchboard's embedded store: one SQLite file (compiled in, WAL mode) created on first
//! start. It refuses to open what it cannot trust (a file that is not a database, a
//! damaged one, one written by a newer Switchboard, a place it cannot write) with a
//! message naming the file, and never starts empty over existing data.
//!
//! Layout:
//! - [`Store`]: opening, schema, and the customer table.
//! - [`lock`]: one daemon per store.
//! - [`journal`]: the journal of live calls and agents, and the call detail records.
//! - `call_log`: the journal's calls as a log of batches, and its compaction.
//! - `pending`: changes on their way to the disk, each thing once as last changed.
//! - [`writer`]: the writer thread that batches changes into transactions (group
//!   commit), so that nothing on the route path waits for the disk, and keeps and
//!   retries a batch the disk refused.
//! - [`report`]: reading the call records for reports, beside a running writer.
//! - [`postgres`]: the same store in a PostgreSQL database shared by several nodes, and
//!   [`migrate`]: moving a file's store into one.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use switchboard_core::{
    Customer, E164, Millis, Preference, Profile, TierId,
    behaviour::{LastContact, Learned},
    channel::Channel,
};

pub mod audit;
mod backend;
pub mod backup;
mod call_log;
pub mod journal;
pub mod lock;
pub mod migrate;
mod pending;
pub mod postgres;
pub mod report;
#[doc(hidden)]
pub mod testing;
pub mod writer;

pub use backend::{Backend, Location};
pub use postgres::{PgOptions, PgStore};

/// The schema this build reads and writes.
pub const SCHEMA_VERSION: i64 = 7;

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: cannot create the store's folder: {source}")]
    CreateFolder {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a Switchboard store (not an SQLite database); move it away or point the store elsewhere"
    )]
    NotADatabase { path: String },
    #[error(
        "{path}: the database is damaged ({detail}); restore it from a backup, or move it away to start empty"
    )]
    Damaged { path: String, detail: String },
    #[error(
        "{path}: written by a newer Switchboard (schema {found}, this build reads up to {SCHEMA_VERSION})"
    )]
    NewerSchema { path: String, found: i64 },
    #[error("{path}: in use by another Switchboard ({holder}); one server per store")]
    Locked { path: String, holder: String },
    #[error("{path}: cannot write here ({detail})")]
    ReadOnly { path: String, detail: String },
    #[error("{url}: {detail}")]
    Postgres { url: String, detail: String },
    /// A write carried an epoch the routing domain's lease has left: another node leads.
    #[error("routing domain {domain}: {detail}")]
    Fenced { domain: String, detail: String },
    #[error("call {call_id}: cannot be written to the journal ({detail})")]
    Encode { call_id: String, detail: String },
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
}

/// One step of the schema, from the version before it.
type Migration = fn(&Store) -> Result<(), StoreError>;

/// An open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The journal's log of calls: its size, and when it is next compacted.
    pub(crate) log: call_log::LogSize,
}

/// A customer row that no longer fits the config (a tier that was removed), kept in the
/// store and served as the lowest tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowNote {
    pub customer_id: String,
    pub note: String,
}

impl Store {
    /// Opens an existing store to read only, beside a running server: nothing is created,
    /// migrated or written. `None` when there is no store at `path` yet.
    pub fn open_read_only(path: &Path) -> Result<Option<Store>, StoreError> {
        match std::fs::metadata(path) {
            Ok(m) if m.len() > 0 => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        }
        check_header(path)?;
        let conn = report::read_only(path)?;
        let shown = path.display().to_string();
        let version: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| classify(&shown, e))?;
        match schema_version(version.as_deref(), SCHEMA_VERSION, &shown)? {
            Some(_) => Ok(Some(Store {
                conn,
                path: path.to_path_buf(),
                log: call_log::LogSize::new(call_log::COMPACT_MIN),
            })),
            None => Err(StoreError::Damaged {
                path: shown,
                detail: "no schema version".to_owned(),
            }),
        }
    }

    /// Opens the store at `path`, creating it (and its folder) if there is nothing there.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateFolder {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let existing = match std::fs::metadata(path) {
            Ok(m) => m.len() > 0,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(StoreError::Io {
                    path: shown,
                    source,
                });
            }
        };
        if existing {
            check_header(path)?;
        }
        let sqlite = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(&shown, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite)?;
        if existing {
            let check: String = conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(|e| classify(&shown, e))?;
            if check != "ok" {
                return Err(StoreError::Damaged {
                    path: shown,
                    detail: check,
                });
            }
        }
        // WAL with synchronous=FULL: a committed transaction survives a power loss, not
        // only a crash of the process.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| classify(&shown, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::ReadOnly {
                path: shown,
                detail: format!("journal mode stayed {mode}"),
            });
        }
        // A 64 MiB page cache keeps the journal's pages in memory rather than read back
        // through the kernel for every batch, and checkpoints every 40 MiB of log rather
        // than every 4 MiB copy each busy page once instead of ten times.
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;
             PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=10000;",
        )
        .map_err(|e| classify(&shown, e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            log: call_log::LogSize::new(call_log::COMPACT_MIN),
        };
        store.migrate()?;
        store.log = call_log::LogSize::count(&store.conn, call_log::COMPACT_MIN)
            .map_err(|e| store.err(e))?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        classify(&self.path.display().to_string(), e)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            )
            .map_err(|e| self.err(e))?;
        let version: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        let from = match version.map(|v| v.parse::<i64>()) {
            None => {
                self.conn
                    .execute_batch(
                        "BEGIN;
                         CREATE TABLE customers (
                             id TEXT PRIMARY KEY,
                             name TEXT NOT NULL,
                             numbers TEXT NOT NULL,
                             tier TEXT NOT NULL,
                             preference TEXT NOT NULL,
                             language TEXT NOT NULL,
                             lifetime_value REAL NOT NULL,
                             influence INTEGER NOT NULL,
                             tags TEXT NOT NULL,
                             attributes TEXT NOT NULL,
                             preferred_agent TEXT
                         ) WITHOUT ROWID;
                         CREATE TABLE learned (
                             number INTEGER PRIMARY KEY,
                             zero_out_bits INTEGER NOT NULL,
                             observed INTEGER NOT NULL,
                             chosen TEXT,
                             last_call INTEGER
                         );
                         CREATE TABLE last_contact (
                             number INTEGER PRIMARY KEY,
                             agent TEXT NOT NULL,
                             at INTEGER NOT NULL,
                             queue TEXT NOT NULL,
                             resolved INTEGER NOT NULL,
                             wrap_up_code TEXT NOT NULL
                         );
                         INSERT INTO meta (key, value) VALUES ('schema', '1');
                         COMMIT;",
                    )
                    .map_err(|e| self.err(e))?;
                1
            }
            Some(Ok(v)) if (1..SCHEMA_VERSION).contains(&v) => v,
            Some(Ok(v)) if v == SCHEMA_VERSION => return Ok(()),
            Some(Ok(v)) if v > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    path: self.path.display().to_string(),
                    found: v,
                });
            }
            Some(other) => {
                return Err(StoreError::Damaged {
                    path: self.path.display().to_string(),
                    detail: format!("unexpected schema version {other:?}"),
                });
            }
        };
        // Each step takes the schema from the version before it to its own.
        let steps: [Migration; 6] = [
            Self::migrate_to_2,
            Self::migrate_to_3,
            Self::migrate_to_4,
            Self::migrate_to_5,
            Self::migrate_to_6,
            Self::migrate_to_7,
        ];
        for step in &steps[usize::try_from(from - 1).unwrap_or(0)..] {
            step(self)?;
        }
        Ok(())
    }

    /// Schema 2 adds call detail records and the journal of live state. Both are keyed by
    /// the call's journal key, which rises with arrival time, so new rows are appended
    /// rather than inserted where unordered call ids would sort.
    fn migrate_to_2(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(
                "BEGIN;
                 CREATE TABLE call_records (
                     id INTEGER PRIMARY KEY,
                     call_id TEXT NOT NULL,
                     arrived INTEGER NOT NULL,
                     switch_id TEXT NOT NULL,
                     caller TEXT,
                     tier TEXT NOT NULL,
                     channel TEXT NOT NULL,
                     line TEXT NOT NULL,
                     menu_path TEXT NOT NULL,
                     decision TEXT NOT NULL,
                     rule TEXT,
                     matched TEXT NOT NULL,
                     queue TEXT,
                     queued_at INTEGER,
                     answered_at INTEGER,
                     wait_ms INTEGER,
                     agent TEXT,
                     ended_at INTEGER,
                     outcome TEXT NOT NULL,
                     disposition TEXT,
                     resolved INTEGER,
                     satisfaction INTEGER,
                     recommend INTEGER,
                     transfers INTEGER NOT NULL
                 );
                 CREATE INDEX call_records_by_arrival ON call_records (arrived);
                 CREATE INDEX call_records_by_call ON call_records (call_id);
                 CREATE TABLE live_calls (
                     id INTEGER PRIMARY KEY,
                     call_id TEXT NOT NULL,
                     created INTEGER NOT NULL,
                     image TEXT NOT NULL
                 );
                 CREATE TABLE live_agents (
                     agent_id TEXT PRIMARY KEY,
                     image TEXT NOT NULL
                 ) WITHOUT ROWID;
                 UPDATE meta SET value = '2' WHERE key = 'schema';
                 COMMIT;",
            )
            .map_err(|e| self.err(e))
    }

    /// Schema 7 keeps the journal's calls as a log of batches rather than a row each
    /// ([`call_log`]); the calls journaled before move into it as they were stored.
    fn migrate_to_7(&self) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        call_log::migrate_from_rows(&tx)
            .and_then(|()| tx.execute("UPDATE meta SET value = '7' WHERE key = 'schema'", []))
            .and_then(|_| tx.commit())
            .map_err(|e| self.err(e))
    }

    /// Schema 6 adds customers' email addresses and social handles (`;`-separated, in
    /// their one spelling) and preferred channel.
    fn migrate_to_6(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(
                "BEGIN;
                 ALTER TABLE customers ADD COLUMN contacts TEXT NOT NULL DEFAULT '';
                 ALTER TABLE customers ADD COLUMN preferred_channel TEXT;
                 UPDATE meta SET value = '6' WHERE key = 'schema';
                 COMMIT;",
            )
            .map_err(|e| self.err(e))
    }

    /// Schema 5 adds the queues supervisors closed, with why.
    fn migrate_to_5(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS closed_queues (
                     queue TEXT PRIMARY KEY,
                     reason TEXT NOT NULL
                 ) WITHOUT ROWID;
                 UPDATE meta SET value = '5' WHERE key = 'schema';
                 COMMIT;",
            )
            .map_err(|e| self.err(e))
    }

    /// Schema 4 adds the audit trail.
    fn migrate_to_4(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(&format!(
                "BEGIN;
                 {}
                 UPDATE meta SET value = '4' WHERE key = 'schema';
                 COMMIT;",
                audit::SCHEMA
            ))
            .map_err(|e| self.err(e))
    }

    /// Schema 3 records the retention offer of a call (NULL: none made; 0 declined, 1
    /// accepted: a customer save).
    fn migrate_to_3(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(
                "BEGIN;
                 ALTER TABLE call_records ADD COLUMN retention INTEGER;
                 UPDATE meta SET value = '3' WHERE key = 'schema';
                 COMMIT;",
            )
            .map_err(|e| self.err(e))
    }

    /// Writes customers in one transaction, replacing any with the same id. Tiers are
    /// stored by name, so a config that reorders tiers still reads them right.
    pub fn put_customers<'a, 'n>(
        &mut self,
        customers: impl IntoIterator<Item = &'a Customer>,
        tier_name: impl Fn(TierId) -> &'n str,
    ) -> Result<usize, StoreError> {
        self.put_customer_rows(&customer_rows(customers, tier_name))
    }

    pub(crate) fn put_customer_rows(
        &mut self,
        rows: &[(&Customer, &str)],
    ) -> Result<usize, StoreError> {
        self.in_transaction(|tx| {
            for (c, tier) in rows {
                put_customer(tx, c, tier)?;
            }
            Ok(())
        })?;
        Ok(rows.len())
    }

    /// Runs `f` in one transaction, committed if it succeeds.
    pub(crate) fn in_transaction(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(), rusqlite::Error>,
    ) -> Result<(), StoreError> {
        let path = self.path.display().to_string();
        let tx = self.conn.transaction().map_err(|e| classify(&path, e))?;
        f(&tx).map_err(|e| classify(&path, e))?;
        tx.commit().map_err(|e| classify(&path, e))
    }

    /// Counts a batch's row of the journal's log, and compacts the log when it is due.
    /// A compaction that fails changes nothing and is tried again once as much again of
    /// the log has been replaced; the batch was written either way.
    pub(crate) fn appended(&mut self, batch: &call_log::LogBatch, live_calls: Option<usize>) {
        self.log.appended(batch, live_calls);
        if self.log.due() {
            let _ = self.compact_journal();
        }
    }

    /// Rewrites the calls the journal holds as live as fresh rows of its log and deletes
    /// the rows before them, in one transaction. False, changing nothing, when a row of
    /// the log does not read (it stays in place, named at every start).
    pub fn compact_journal(&mut self) -> Result<bool, StoreError> {
        let path = self.path.display().to_string();
        let compacted = self
            .conn
            .transaction()
            .and_then(|tx| {
                let written = call_log::compact(&tx)?;
                tx.commit()?;
                Ok(written)
            })
            .map_err(|e| classify(&path, e));
        self.log.after_compaction(compacted)
    }

    /// The bytes of the journal's log of calls: (live, dead), as the store estimates
    /// them. Live is each call's last entry; dead, the entries since replaced and the
    /// calls gone, until compaction.
    pub fn journal_log_bytes(&self) -> (u64, u64) {
        (self.log.live_bytes(), self.log.dead_bytes())
    }

    /// Compacts the journal's log from `bytes` dead bytes on (and as many as are live),
    /// instead of 8 MiB: for tests that compact small logs.
    #[doc(hidden)]
    pub fn compact_journal_from(&mut self, bytes: u64) {
        self.log.compact_from(bytes);
    }

    /// What was learned of every number, with the last contact where there was one.
    pub fn learned(&self) -> Result<Vec<(E164, Learned, Option<LastContact>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT l.number, l.zero_out_bits, l.observed, l.chosen, l.last_call,
                        c.agent, c.at, c.queue, c.resolved, c.wrap_up_code
                 FROM learned l LEFT JOIN last_contact c ON c.number = l.number
                 UNION ALL
                 SELECT c.number, 0, 0, NULL, NULL, c.agent, c.at, c.queue, c.resolved, c.wrap_up_code
                 FROM last_contact c WHERE c.number NOT IN (SELECT number FROM learned)",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        let shown = self.path.display().to_string();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let row = (|| {
                Ok(StoredLearned {
                    number: r.get(0)?,
                    bits: r.get(1)?,
                    observed: r.get(2)?,
                    chosen: r.get(3)?,
                    last_call: r.get(4)?,
                    contact: match r.get::<_, Option<String>>(5)? {
                        None => None,
                        Some(agent) => Some((agent, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?)),
                    },
                })
            })()
            .map_err(|e| self.err(e))?;
            out.push(row.decode(&shown)?);
        }
        Ok(out)
    }

    /// Every stored customer. `tier_id` maps a stored tier name to the config's tier; a
    /// name the config no longer has is served as the lowest tier and noted.
    pub fn customers(
        &self,
        tier_id: impl Fn(&str) -> Option<TierId>,
    ) -> Result<(Vec<Profile>, Vec<RowNote>), StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, name, numbers, tier, preference, language, lifetime_value, influence,
                        tags, attributes, preferred_agent, contacts, preferred_channel
                 FROM customers ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        let mut notes = Vec::new();
        let shown = self.path.display().to_string();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let stored = (|| {
                Ok(StoredCustomer {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    numbers: r.get(2)?,
                    tier: r.get(3)?,
                    preference: r.get(4)?,
                    language: r.get(5)?,
                    lifetime_value: r.get(6)?,
                    influence: r.get(7)?,
                    tags: r.get(8)?,
                    attributes: r.get(9)?,
                    preferred_agent: r.get(10)?,
                    contacts: r.get(11)?,
                    preferred_channel: r.get(12)?,
                })
            })()
            .map_err(|e| self.err(e))?;
            out.push(stored.profile(&shown, &tier_id, &mut notes)?);
        }
        Ok((out, notes))
    }
}

/// A customer row as either backend stores it.
#[derive(Debug)]
pub(crate) struct StoredCustomer {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) numbers: String,
    pub(crate) tier: String,
    pub(crate) preference: String,
    pub(crate) language: String,
    pub(crate) lifetime_value: f64,
    pub(crate) influence: u8,
    pub(crate) tags: String,
    pub(crate) attributes: String,
    pub(crate) preferred_agent: Option<String>,
    pub(crate) contacts: String,
    pub(crate) preferred_channel: Option<String>,
}

impl StoredCustomer {
    /// The profile the row holds; a tier the config no longer has is noted and served
    /// as the lowest.
    pub(crate) fn profile(
        self,
        shown: &str,
        tier_id: &impl Fn(&str) -> Option<TierId>,
        notes: &mut Vec<RowNote>,
    ) -> Result<Profile, StoreError> {
        let id = self.id;
        let tier_name = self.tier;
        let tier = tier_id(&tier_name).unwrap_or_else(|| {
            notes.push(RowNote {
                customer_id: id.clone(),
                note: format!("tier {tier_name:?} is not in the config; served as the lowest tier"),
            });
            TierId(0)
        });
        let damaged = |what: &str| StoreError::Damaged {
            path: shown.to_owned(),
            detail: format!("customer {id:?}: {what}"),
        };
        let numbers = split(&self.numbers)
            .iter()
            .map(|n| {
                n.parse::<E164>()
                    .map_err(|_| damaged("a stored number is not E.164"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let items = if self.attributes.is_empty() {
            Vec::new()
        } else {
            split_raw(&self.attributes, ';')
        };
        let attributes = items
            .iter()
            .map(|kv| split_pair(kv).ok_or_else(|| damaged("a stored attribute has no '='")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Profile {
            name: self.name.into(),
            numbers: numbers.into(),
            tier,
            preference: self
                .preference
                .parse::<Preference>()
                .map_err(|_| damaged("unknown preference"))?,
            language: self.language.into(),
            lifetime_value: self.lifetime_value,
            influence: self.influence,
            tags: split(&self.tags)
                .into_iter()
                .map(String::into_boxed_str)
                .collect(),
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k.into_boxed_str(), v.into_boxed_str()))
                .collect(),
            preferred_agent: self.preferred_agent.map(String::into_boxed_str),
            contacts: split(&self.contacts)
                .into_iter()
                .map(String::into_boxed_str)
                .collect(),
            preferred_channel: match self.preferred_channel {
                None => None,
                Some(name) => {
                    Some(Channel::parse(&name).ok_or_else(|| damaged("unknown channel"))?)
                }
            },
            id: id.into_boxed_str(),
        })
    }
}

/// A learned row, with its number's last contact (agent, at, queue, resolved, wrap-up
/// code), as either backend stores it.
#[derive(Debug)]
pub(crate) struct StoredLearned {
    pub(crate) number: i64,
    pub(crate) bits: i64,
    pub(crate) observed: i64,
    pub(crate) chosen: Option<String>,
    pub(crate) last_call: Option<i64>,
    pub(crate) contact: Option<(String, i64, String, bool, String)>,
}

impl StoredLearned {
    pub(crate) fn decode(
        self,
        shown: &str,
    ) -> Result<(E164, Learned, Option<LastContact>), StoreError> {
        let number = self.number;
        let damaged = |what: &str| StoreError::Damaged {
            path: shown.to_owned(),
            detail: format!("learned record {number}: {what}"),
        };
        let e164 = u64::try_from(number)
            .ok()
            .and_then(E164::from_u64)
            .ok_or_else(|| damaged("not a phone number"))?;
        let chosen = self
            .chosen
            .map(|p| {
                p.parse::<Preference>()
                    .map_err(|_| damaged("unknown preference"))
            })
            .transpose()?;
        let learned = Learned::from_parts(
            u16::try_from(self.bits).map_err(|_| damaged("zero-out bits out of range"))?,
            u8::try_from(self.observed).map_err(|_| damaged("observations out of range"))?,
            chosen,
            self.last_call.map(|t| Millis(t.max(0) as u64)),
        );
        let contact = self
            .contact
            .map(|(agent, at, queue, resolved, code)| LastContact {
                agent: agent.into(),
                at: Millis(at.max(0) as u64),
                queue: queue.into(),
                resolved,
                wrap_up_code: code.into(),
            });
        Ok((e164, learned, contact))
    }
}

/// A customer's stored text columns, in order: id, name, numbers, tier, preference,
/// language, tags, attributes, preferred agent, contacts, preferred channel.
pub(crate) struct CustomerFields {
    pub(crate) text: [Option<String>; 11],
}

pub(crate) fn customer_fields(c: &Customer, tier: &str) -> CustomerFields {
    let attributes = join(
        c.attributes()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v))),
    );
    CustomerFields {
        text: [
            Some(c.id().to_owned()),
            Some(c.name().to_owned()),
            Some(join(c.numbers.iter().map(ToString::to_string))),
            Some(tier.to_owned()),
            Some(c.preference.as_str().to_owned()),
            Some(c.language().to_owned()),
            Some(join(c.tags().map(escape))),
            Some(attributes),
            c.preferred_agent().map(str::to_owned),
            Some(join(c.contacts().map(escape))),
            c.preferred_channel.map(|ch| ch.as_str().to_owned()),
        ],
    }
}

/// Customers with their tiers' names, as both backends store them.
pub(crate) fn customer_rows<'a, 'n>(
    customers: impl IntoIterator<Item = &'a Customer>,
    tier_name: impl Fn(TierId) -> &'n str,
) -> Vec<(&'a Customer, &'n str)> {
    customers
        .into_iter()
        .map(|c| (c, tier_name(c.tier)))
        .collect()
}

/// One customer row, replacing any with the same id.
pub(crate) fn put_customer(
    tx: &rusqlite::Transaction<'_>,
    c: &Customer,
    tier: &str,
) -> Result<(), rusqlite::Error> {
    let [
        id,
        name,
        numbers,
        tier,
        preference,
        language,
        tags,
        attributes,
        agent,
        contacts,
        channel,
    ] = customer_fields(c, tier).text;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO customers
         (id, name, numbers, tier, preference, language, lifetime_value, influence,
          tags, attributes, preferred_agent, contacts, preferred_channel)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        id,
        name,
        numbers,
        tier,
        preference,
        language,
        c.lifetime_value,
        c.influence,
        tags,
        attributes,
        agent,
        contacts,
        channel,
    ])?;
    Ok(())
}

/// Lists are stored as `;`-separated text, with `\\`, `;` and `=` escaped by a backslash
/// inside each item, so any text survives the round trip.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '\\' | ';' | '=') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(";")
}

/// Splits on unescaped `sep`, keeping escapes (for a second split).
fn split_raw(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let Some(next) = chars.next() {
                    let last = out.last_mut().expect("never empty");
                    last.push('\\');
                    last.push(next);
                }
            }
            c if c == sep => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// The items of a stored list, unescaped.
fn split(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    split_raw(s, ';').iter().map(|i| unescape(i)).collect()
}

/// `key=value` from a stored attribute.
fn split_pair(s: &str) -> Option<(String, String)> {
    match split_raw(s, '=').as_slice() {
        [k, v] => Some((unescape(k), unescape(v))),
        _ => None,
    }
}

/// The schema version a store's `meta` table holds (`None`: no store yet), checked
/// against `newest`, the one this build reads and writes: a newer one, or one that is
/// not a version, is refused.
pub(crate) fn schema_version(
    found: Option<&str>,
    newest: i64,
    shown: &str,
) -> Result<Option<i64>, StoreError> {
    match found.map(str::parse::<i64>) {
        None => Ok(None),
        Some(Ok(v)) if v > newest => Err(StoreError::NewerSchema {
            path: shown.to_owned(),
            found: v,
        }),
        Some(Ok(v)) if v >= 1 => Ok(Some(v)),
        other => Err(StoreError::Damaged {
            path: shown.to_owned(),
            detail: format!("unexpected schema version {other:?}"),
        }),
    }
}

pub(crate) fn check_header(path: &Path) -> Result<(), StoreError> {
    use std::io::Read;
    let shown = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|source| StoreError::Io {
        path: shown.clone(),
        source,
    })?;
    let mut header = [0u8; 16];
    match file.read_exact(&mut header) {
        Ok(()) if &header == SQLITE_HEADER => Ok(()),
        // Shorter than a header, or another kind of file.
        _ => Err(StoreError::NotADatabase { path: shown }),
    }
}

/// SQLite's errors in the store's words.
fn classify(path: &str, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    let detail = e.to_string();
    match e.sqlite_error_code() {
        Some(ReadOnly | CannotOpen | PermissionDenied) => StoreError::ReadOnly {
            path: path.to_owned(),
            detail,
        },
        Some(DatabaseCorrupt) => StoreError::Damaged {
            path: path.to_owned(),
            detail,
        },
        Some(NotADatabase) => StoreError::NotADatabase {
            path: path.to_owned(),
        },
        _ => StoreError::Sqlite {
            path: path.to_owned(),
            source: e,
        },
    }
}

#[cfg(test)]
mod tests;
