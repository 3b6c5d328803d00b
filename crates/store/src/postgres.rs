//! The shared store of several Switchboard nodes: the same tables as the SQLite file, in
//! a PostgreSQL database, written by the leader of the routing domain and followed by
//! its standbys.
//!
//! Layout:
//! - [`PgStore`]: connecting (TLS by rustls against the CA named in the config), the
//!   schema, and its errors in the store's words.
//! - `write`: a batch of the writer in one transaction, each table's rows in one
//!   statement, led by the fence when the writer holds the domain's lease.
//! - `read`: customers, learned behaviour, the journal, call records and compaction.
//! - `report`: reports and the audit trail, each on a connection of its own.
//!
//! - [`lease`]: the lease of a routing domain and its epoch.
//! - [`follow`]: a standby's warm copy, following what the leader writes.
//!
//! Every write can carry the epoch of the routing domain's lease ([`PgStore::fence_with`]):
//! the database refuses it once the lease has moved on (`switchboard_fence`).

use std::{path::PathBuf, time::Duration};

use postgres::{Client, NoTls, config::SslMode};

use crate::{StoreError, call_log};

pub mod follow;
pub mod lease;
pub(crate) mod read;
pub(crate) mod report;
pub(crate) mod write;

/// The schema of a PostgreSQL store this build reads and writes (numbered apart from the
/// SQLite file's: the two began at different times).
pub const PG_SCHEMA_VERSION: i64 = 1;

/// The SQLSTATE the fence raises when a write carries an epoch the lease has left.
pub(crate) const FENCED: &str = "SB001";

/// Where a PostgreSQL store is and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// `postgres://user[:password]@host[:port]/database[?options]`.
    pub url: String,
    /// The certificate authority (PEM) the database's certificate must chain to. With it
    /// every connection uses TLS and checks the server's name; without it, none does.
    pub tls_ca: Option<PathBuf>,
    /// Most connections the node opens for reports beside the writer and the lease.
    pub pool_size: usize,
    /// The routing domain whose lease the node takes.
    pub domain: String,
    /// How long a lease lasts unless renewed.
    pub lease: Duration,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &shown(&self.url))
            .field("tls_ca", &self.tls_ca)
            .field("pool_size", &self.pool_size)
            .field("domain", &self.domain)
            .field("lease", &self.lease)
            .finish()
    }
}

/// An open PostgreSQL store.
pub struct PgStore {
    client: Client,
    options: PgOptions,
    /// The URL without its password, for messages.
    shown: String,
    log: call_log::LogSize,
    /// The epoch every write carries: the lease this node holds. `None` writes without a
    /// fence (a store of one node, the migration).
    epoch: Option<i64>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.shown)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// The tables, as [`PG_SCHEMA_VERSION`] has them. Rows a standby follows carry `seq`
/// from one sequence, set anew at every write, so "what changed since" is one range.
const SCHEMA: &str = "
CREATE SEQUENCE changes;
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    numbers TEXT NOT NULL,
    tier TEXT NOT NULL,
    preference TEXT NOT NULL,
    language TEXT NOT NULL,
    lifetime_value DOUBLE PRECISION NOT NULL,
    influence SMALLINT NOT NULL,
    tags TEXT NOT NULL,
    attributes TEXT NOT NULL,
    preferred_agent TEXT,
    contacts TEXT NOT NULL,
    preferred_channel TEXT,
    seq BIGINT NOT NULL
);
CREATE INDEX customers_by_seq ON customers (seq);
CREATE TABLE learned (
    number BIGINT PRIMARY KEY,
    zero_out_bits INTEGER NOT NULL,
    observed SMALLINT NOT NULL,
    chosen TEXT,
    last_call BIGINT,
    seq BIGINT NOT NULL
);
CREATE INDEX learned_by_seq ON learned (seq);
CREATE TABLE last_contact (
    number BIGINT PRIMARY KEY,
    agent TEXT NOT NULL,
    at BIGINT NOT NULL,
    queue TEXT NOT NULL,
    resolved BOOLEAN NOT NULL,
    wrap_up_code TEXT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX last_contact_by_seq ON last_contact (seq);
CREATE TABLE call_records (
    id BIGINT PRIMARY KEY,
    call_id TEXT NOT NULL,
    arrived BIGINT NOT NULL,
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
    queued_at BIGINT,
    answered_at BIGINT,
    wait_ms BIGINT,
    agent TEXT,
    ended_at BIGINT,
    outcome TEXT NOT NULL,
    disposition TEXT,
    resolved BOOLEAN,
    satisfaction SMALLINT,
    recommend SMALLINT,
    transfers SMALLINT NOT NULL,
    retention BOOLEAN
);
CREATE INDEX call_records_by_arrival ON call_records (arrived);
CREATE INDEX call_records_by_call ON call_records (call_id);
CREATE TABLE call_log (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entries BYTEA NOT NULL
);
CREATE TABLE live_agents (
    agent_id TEXT PRIMARY KEY,
    image TEXT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE TABLE closed_queues (
    queue TEXT PRIMARY KEY,
    reason TEXT NOT NULL
);
CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    who TEXT NOT NULL,
    role TEXT NOT NULL,
    remote TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit (at);
CREATE TABLE leases (
    domain TEXT PRIMARY KEY,
    epoch BIGINT NOT NULL,
    holder TEXT NOT NULL,
    address TEXT NOT NULL,
    acquired TIMESTAMPTZ NOT NULL,
    expires TIMESTAMPTZ NOT NULL
);
CREATE FUNCTION switchboard_fence(d TEXT, e BIGINT) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    current BIGINT;
BEGIN
    -- A share lock: a takeover (which updates the row) waits for this write to end,
    -- and every write after the takeover sees the new epoch.
    SELECT epoch INTO current FROM leases WHERE domain = d FOR SHARE;
    IF current IS DISTINCT FROM e THEN
        RAISE EXCEPTION USING ERRCODE = 'SB001', MESSAGE = format(
            'fenced: the lease of routing domain %s is at epoch %s; this write carries epoch %s',
            d, coalesce(current::text, 'none'), e);
    END IF;
END $$;
";

impl PgStore {
    /// Connects and brings the schema up to this build's (creating it in an empty
    /// database). Several nodes starting at once create it once.
    pub fn open(options: PgOptions) -> Result<PgStore, StoreError> {
        let mut client = connect(&options)?;
        let shown = shown(&options.url);
        migrate(&mut client, &shown)?;
        let mut store = PgStore {
            client,
            options,
            shown,
            log: call_log::LogSize::new(call_log::COMPACT_MIN),
            epoch: None,
        };
        store.log = store.count_log()?;
        Ok(store)
    }

    /// Connects to read beside a running server: nothing is created or written. `None`
    /// when the database holds no Switchboard store yet.
    pub fn open_existing(options: PgOptions) -> Result<Option<PgStore>, StoreError> {
        let mut client = connect(&options)?;
        let shown = shown(&options.url);
        let err = |e: postgres::Error| classify(&shown, &options.domain, &e);
        let exists: bool = client
            .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])
            .map_err(err)?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let version: Option<String> = client
            .query_opt("SELECT value FROM meta WHERE key = 'schema'", &[])
            .map_err(err)?
            .map(|r| r.get(0));
        if crate::schema_version(version.as_deref(), PG_SCHEMA_VERSION, &shown)?.is_none() {
            return Ok(None);
        }
        Ok(Some(PgStore {
            client,
            options,
            shown,
            log: call_log::LogSize::new(call_log::COMPACT_MIN),
            epoch: None,
        }))
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn options(&self) -> &PgOptions {
        &self.options
    }

    /// Every write from now on carries `epoch` and is refused by the database once the
    /// domain's lease has moved past it; `None` writes without a fence.
    pub fn fence_with(&mut self, epoch: Option<i64>) {
        self.epoch = epoch;
    }

    pub(crate) fn err(&self, e: &postgres::Error) -> StoreError {
        classify(&self.shown, &self.options.domain, e)
    }

    /// The connection, opened again if it was lost.
    pub(crate) fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_closed() {
            self.client = connect(&self.options)?;
        }
        Ok(&mut self.client)
    }
}

/// A step of a transaction that failed: before the database (reconnecting) or in it.
pub(crate) enum Failed {
    Store(StoreError),
    Pg(postgres::Error),
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed::Store(e)
    }
}

/// Opens a connection as the options say, with TLS when they name a CA.
pub(crate) fn connect(options: &PgOptions) -> Result<Client, StoreError> {
    let shown = shown(&options.url);
    let bad = |detail: String| StoreError::Postgres {
        url: shown.clone(),
        detail,
    };
    let mut config: postgres::Config = options
        .url
        .parse()
        .map_err(|e: postgres::Error| bad(format!("not a PostgreSQL URL: {e}")))?;
    // A session left inside a transaction (a node paused or cut off mid-write) is ended
    // by the server after a lease, so its lock on the lease row never holds a takeover
    // up for longer.
    let lease_ms = options.lease.as_millis().max(1_000);
    let session = match config.get_options() {
        Some(given) => format!("{given} -c idle_in_transaction_session_timeout={lease_ms}"),
        None => format!("-c idle_in_transaction_session_timeout={lease_ms}"),
    };
    config
        .options(&session)
        .connect_timeout(Duration::from_secs(5))
        .keepalives_idle(Duration::from_secs(10))
        .application_name("switchboard");
    let connected = match &options.tls_ca {
        None => {
            if matches!(config.get_ssl_mode(), SslMode::Require) {
                return Err(bad(
                    "the URL asks for TLS (sslmode=require); name the database's certificate \
                     authority in store.tls_ca so its certificate can be checked"
                        .to_owned(),
                ));
            }
            config.ssl_mode(SslMode::Disable).connect(NoTls)
        }
        Some(ca) => {
            let tls = tls(ca).map_err(bad)?;
            config.ssl_mode(SslMode::Require).connect(tls)
        }
    };
    connected.map_err(|e| classify(&shown, &options.domain, &e))
}

/// rustls trusting only the certificates in `ca`.
fn tls(ca: &std::path::Path) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let pem = std::fs::read(ca).map_err(|e| format!("store.tls_ca: {}: {e}", ca.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("store.tls_ca: {}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("store.tls_ca: {}: {e}", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "store.tls_ca: {}: holds no PEM certificate",
            ca.display()
        ));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("store.tls_ca: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Creates the schema in an empty database, or checks the one there; under an advisory
/// lock, so nodes starting together do it once.
fn migrate(client: &mut Client, shown: &str) -> Result<(), StoreError> {
    let err = |e: postgres::Error| classify(shown, "", &e);
    let mut tx = client.transaction().map_err(err)?;
    // The number is the store's own: "SWBD" in ASCII.
    tx.execute("SELECT pg_advisory_xact_lock(1398227524)", &[])
        .map_err(err)?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])
        .map_err(err)?
        .get(0);
    if !exists {
        tx.batch_execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .map_err(err)?;
    }
    let version: Option<String> = tx
        .query_opt("SELECT value FROM meta WHERE key = 'schema'", &[])
        .map_err(err)?
        .map(|r| r.get(0));
    // Version 1 is the only one so far: a store either is at it or is created.
    if crate::schema_version(version.as_deref(), PG_SCHEMA_VERSION, shown)?.is_none() {
        tx.batch_execute(SCHEMA).map_err(err)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema', $1), ('compactions', '0')",
            &[&PG_SCHEMA_VERSION.to_string()],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}

/// The URL with its password replaced by `***`.
pub fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// PostgreSQL's errors in the store's words: the fence's refusal apart, and the server's
/// own message (with its SQLSTATE) or the connection's.
pub(crate) fn classify(shown: &str, domain: &str, e: &postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if db.code().code() == FENCED {
            return StoreError::Fenced {
                domain: domain.to_owned(),
                detail: db.message().to_owned(),
            };
        }
        return StoreError::Postgres {
            url: shown.to_owned(),
            detail: format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        };
    }
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    StoreError::Postgres {
        url: shown.to_owned(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            shown("postgres://sb:secret@db.example:5432/switchboard?sslmode=require"),
            "postgres://sb:***@db.example:5432/switchboard?sslmode=require"
        );
        assert_eq!(
            shown("postgres://sb@127.0.0.1/switchboard"),
            "postgres://sb@127.0.0.1/switchboard"
        );
        assert_eq!(shown("postgres://h/db"), "postgres://h/db");
    }
}
