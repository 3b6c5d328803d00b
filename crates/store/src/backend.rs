//! Either backend behind one type: the SQLite file of one node, or the PostgreSQL
//! database several nodes share. The writer, the start and the tools use [`Backend`];
//! what only one backend has (the file's lock and backup, the database's lease) stays on
//! [`Store`] and [`PgStore`].

use std::path::PathBuf;

use switchboard_core::{
    Customer, E164, Profile, TierId,
    behaviour::{LastContact, Learned},
};

use crate::{
    RowNote, Store, StoreError,
    journal::{CallRecordRow, Journal},
    pending::Prepared,
    postgres::{PgOptions, PgStore},
};

/// Where a store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file, created on first start.
    File(PathBuf),
    /// A PostgreSQL database, its schema created on first start.
    Postgres(PgOptions),
}

impl Location {
    /// The file's path, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Location::File(p) => p.display().to_string(),
            Location::Postgres(o) => crate::postgres::shown(&o.url),
        }
    }
}

/// An open store of either kind.
#[derive(Debug)]
pub enum Backend {
    Sqlite(Store),
    Postgres(Box<PgStore>),
}

impl From<Store> for Backend {
    fn from(s: Store) -> Self {
        Backend::Sqlite(s)
    }
}

impl From<PgStore> for Backend {
    fn from(s: PgStore) -> Self {
        Backend::Postgres(Box::new(s))
    }
}

impl Backend {
    /// Opens (creating if need be) the store at `location`.
    pub fn open(location: &Location) -> Result<Backend, StoreError> {
        Ok(match location {
            Location::File(path) => Store::open(path)?.into(),
            Location::Postgres(options) => PgStore::open(options.clone())?.into(),
        })
    }

    /// Opens an existing store to read beside a running server: nothing is created,
    /// migrated or written. `None` when there is no store there yet.
    pub fn open_read_only(location: &Location) -> Result<Option<Backend>, StoreError> {
        Ok(match location {
            Location::File(path) => Store::open_read_only(path)?.map(Backend::from),
            Location::Postgres(options) => {
                PgStore::open_existing(options.clone())?.map(Backend::from)
            }
        })
    }

    /// The file's path, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Backend::Sqlite(s) => s.path().display().to_string(),
            Backend::Postgres(p) => p.shown().to_owned(),
        }
    }

    pub fn customers(
        &mut self,
        tier_id: impl Fn(&str) -> Option<TierId>,
    ) -> Result<(Vec<Profile>, Vec<RowNote>), StoreError> {
        match self {
            Backend::Sqlite(s) => s.customers(tier_id),
            Backend::Postgres(p) => p.customers(tier_id),
        }
    }

    pub fn learned(&mut self) -> Result<Vec<(E164, Learned, Option<LastContact>)>, StoreError> {
        match self {
            Backend::Sqlite(s) => s.learned(),
            Backend::Postgres(p) => p.learned(),
        }
    }

    pub fn journal(&mut self) -> Result<Journal, StoreError> {
        match self {
            Backend::Sqlite(s) => s.journal(),
            Backend::Postgres(p) => p.journal(),
        }
    }

    /// Writes customers in one transaction, replacing any with the same id.
    pub fn put_customers<'a, 'n>(
        &mut self,
        customers: impl IntoIterator<Item = &'a Customer>,
        tier_name: impl Fn(TierId) -> &'n str,
    ) -> Result<usize, StoreError> {
        let rows = crate::customer_rows(customers, tier_name);
        match self {
            Backend::Sqlite(s) => s.put_customer_rows(&rows),
            Backend::Postgres(p) => p
                .write_unfenced(|tx| crate::postgres::write::put_customers(tx, &rows))
                .map(|()| rows.len()),
        }
    }

    pub fn call_records(&mut self, call_id: &str) -> Result<Vec<CallRecordRow>, StoreError> {
        match self {
            Backend::Sqlite(s) => s.call_records(call_id),
            Backend::Postgres(p) => p.call_records(call_id),
        }
    }

    pub fn count_call_records(&mut self) -> Result<u64, StoreError> {
        match self {
            Backend::Sqlite(s) => s.count_call_records(),
            Backend::Postgres(p) => p.count_call_records(),
        }
    }

    pub fn has_live_call(&mut self, call_id: &str) -> Result<bool, StoreError> {
        match self {
            Backend::Sqlite(s) => s.has_live_call(call_id),
            Backend::Postgres(p) => p.has_live_call(call_id),
        }
    }

    pub fn compact_journal(&mut self) -> Result<bool, StoreError> {
        match self {
            Backend::Sqlite(s) => s.compact_journal(),
            Backend::Postgres(p) => p.compact_journal(),
        }
    }

    /// The journal log's (live, dead) bytes, as the store estimates them.
    pub fn journal_log_bytes(&self) -> (u64, u64) {
        let log = match self {
            Backend::Sqlite(s) => &s.log,
            Backend::Postgres(p) => p.log_size(),
        };
        (log.live_bytes(), log.dead_bytes())
    }

    /// Compacts the journal's log from `bytes` dead bytes on: for tests.
    #[doc(hidden)]
    pub fn compact_journal_from(&mut self, bytes: u64) {
        match self {
            Backend::Sqlite(s) => s.compact_journal_from(bytes),
            Backend::Postgres(p) => p.log().compact_from(bytes),
        }
    }

    /// Writes a batch of changes in one transaction.
    pub fn apply(&mut self, changes: &[crate::writer::Change]) -> Result<(), StoreError> {
        let mut batch = crate::pending::Pending::default();
        for c in changes {
            batch.add(c.clone());
        }
        batch.write(self, None).map(|_| ())
    }

    /// Writes from now on carry `epoch` (PostgreSQL); the journal's log is counted again
    /// as it stands, since another node may have written it.
    pub(crate) fn fence_with(&mut self, epoch: i64) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(p) => {
                p.fence_with(Some(epoch));
                let size = p.count_log()?;
                *p.log() = size;
                Ok(())
            }
        }
    }

    pub(crate) fn write(&mut self, batch: &Prepared<'_>) -> Result<u64, StoreError> {
        match self {
            Backend::Sqlite(s) => s.write_prepared(batch),
            Backend::Postgres(p) => p.write_prepared(batch),
        }
    }

    /// Counts a batch's row of the journal's log, and compacts when it is due.
    pub(crate) fn appended(&mut self, batch: &crate::call_log::LogBatch, live: Option<usize>) {
        match self {
            Backend::Sqlite(s) => s.appended(batch, live),
            Backend::Postgres(p) => {
                p.log().appended(batch, live);
                if p.log().due() {
                    let _ = p.compact_journal();
                }
            }
        }
    }
}
