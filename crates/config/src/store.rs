//! Where `[store]` keeps things: an SQLite file (`path`, the default) or a PostgreSQL
//! database shared by several nodes (`url`), with its TLS, pool, routing domain and lease.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use crate::{
    raw::{RawStore, S},
    validate::{Checker, humanize},
};

/// The store's file when `store.path` is not given, against the config's folder.
pub(crate) const DEFAULT_STORE: &str = "data/switchboard.db";
const DEFAULT_POOL: usize = 4;
const MAX_POOL: i64 = 64;
const DEFAULT_DOMAIN: &str = "default";
const DEFAULT_LEASE: Duration = Duration::from_secs(5);
const MIN_LEASE: Duration = Duration::from_secs(1);
const MAX_LEASE: Duration = Duration::from_secs(300);

/// Where the store is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreAt {
    /// An SQLite file, resolved against the config's folder.
    File(PathBuf),
    /// A PostgreSQL database: one leader per routing domain, standbys beside it.
    Postgres(Postgres),
}

/// `[store] url = "postgres://..."` and what goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Postgres {
    pub url: String,
    /// The certificate authority the database's certificate must chain to; with it
    /// every connection uses TLS.
    pub tls_ca: Option<PathBuf>,
    /// Most connections opened for reports beside the writer's and the lease's.
    pub pool_size: usize,
    /// The routing domain this node leads or stands by for.
    pub domain: String,
    /// How long the leader's lease lasts unless renewed (a third of it apart).
    pub lease: Duration,
    /// The gRPC address standbys name as the leader's; `server.listen` when not given.
    pub advertise: Option<String>,
}

impl StoreAt {
    /// The file, for what only an SQLite store has (backups, the file lock).
    pub fn file(&self) -> Option<&Path> {
        match self {
            StoreAt::File(p) => Some(p),
            StoreAt::Postgres(_) => None,
        }
    }
}

/// `None` when a key is wrong (each mistake named in `c`); `Some(None)` keeps nothing.
pub(crate) fn store_at(
    c: &mut Checker<'_>,
    raw: &RawStore,
    base_dir: &Path,
) -> Option<Option<StoreAt>> {
    if raw.enabled == Some(false) {
        return Some(None);
    }
    let postgres_only = [
        ("store.tls_ca", raw.tls_ca.as_ref().map(S::span)),
        ("store.pool_size", raw.pool_size.as_ref().map(S::span)),
        ("store.domain", raw.domain.as_ref().map(S::span)),
        ("store.lease", raw.lease.as_ref().map(S::span)),
        ("store.advertise", raw.advertise.as_ref().map(S::span)),
    ];
    let Some(url) = &raw.url else {
        let mut ok = true;
        for (key, span) in postgres_only {
            if let Some(span) = span {
                c.error(span, key, "applies only to a PostgreSQL store (store.url)");
                ok = false;
            }
        }
        return match &raw.path {
            Some(p) if p.get_ref().trim().is_empty() => {
                c.error(
                    p.span(),
                    "store.path",
                    "must not be empty (set enabled = false to keep nothing)",
                );
                None
            }
            Some(p) => ok.then(|| Some(StoreAt::File(base_dir.join(p.get_ref())))),
            None => ok.then(|| Some(StoreAt::File(base_dir.join(DEFAULT_STORE)))),
        };
    };
    let mut ok = true;
    if let Some(p) = &raw.path {
        c.error(
            p.span(),
            "store.path",
            "give either store.path (an SQLite file) or store.url (PostgreSQL), not both",
        );
        ok = false;
    }
    let text = url.get_ref().trim();
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) || text.len() > 1024
    {
        c.error(
            url.span(),
            "store.url",
            "must be a PostgreSQL URL, postgres://user@host:port/database (at most 1024 characters)",
        );
        ok = false;
    }
    let pool_size = match &raw.pool_size {
        Some(n) if !(1..=MAX_POOL).contains(n.get_ref()) => {
            c.error(
                n.span(),
                "store.pool_size",
                format!("{} is not between 1 and {MAX_POOL}", n.get_ref()),
            );
            ok = false;
            DEFAULT_POOL
        }
        Some(n) => usize::try_from(*n.get_ref()).unwrap_or(DEFAULT_POOL),
        None => DEFAULT_POOL,
    };
    let domain = match &raw.domain {
        Some(d) => {
            let name = d.get_ref();
            let fits = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'));
            if !fits {
                c.error(
                    d.span(),
                    "store.domain",
                    format!("{name:?} must be 1 to 64 letters, digits, '-', '_' or '.'"),
                );
                ok = false;
            }
            name.clone()
        }
        None => DEFAULT_DOMAIN.to_owned(),
    };
    let lease = match &raw.lease {
        Some(d) => match c.duration(d, "store.lease", MIN_LEASE) {
            Some(v) if v > MAX_LEASE => {
                c.error(
                    d.span(),
                    "store.lease",
                    format!(
                        "{:?} is longer than the maximum {}",
                        d.get_ref(),
                        humanize(MAX_LEASE)
                    ),
                );
                None
            }
            other => other,
        },
        None => Some(DEFAULT_LEASE),
    };
    let advertise = match &raw.advertise {
        Some(a) if a.get_ref().trim().is_empty() || a.get_ref().len() > 256 => {
            c.error(
                a.span(),
                "store.advertise",
                "must be the address clients reach this node's gRPC port at (at most 256 characters)",
            );
            ok = false;
            None
        }
        Some(a) => Some(a.get_ref().clone()),
        None => None,
    };
    let lease = lease?;
    ok.then(|| {
        Some(StoreAt::Postgres(Postgres {
            url: text.to_owned(),
            tls_ca: raw.tls_ca.as_ref().map(|p| base_dir.join(p.get_ref())),
            pool_size,
            domain,
            lease,
            advertise,
        }))
    })
}
