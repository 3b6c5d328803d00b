//! The lease of a routing domain: one row of `leases` per domain, with an epoch and an
//! expiry in the database's own clock. A node takes the lease when it has expired (the
//! epoch goes up by one), renews it well inside its time, and writes only with its epoch
//! ([`super::PgStore::fence_with`]): once another node has taken the lease, the fence in
//! the database refuses every write of the old epoch, whatever the old holder believes.
//!
//! The holder also keeps the lease's end by its own monotonic clock, counted from before
//! it asked (so never later than the database's): past that end it stops acting as the
//! leader, even while paused or cut off from the database.

use std::time::{Duration, Instant};

use postgres::Client;

use super::{PgOptions, classify, connect, shown};
use crate::StoreError;

/// Who holds a domain's lease, as the database says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The holder's node name (host, process and start).
    pub node: String,
    /// Where clients reach the holder's gRPC port.
    pub address: String,
    pub epoch: i64,
    /// How long until the lease expires unless renewed (zero once it has).
    pub expires_in: Duration,
}

/// A node's hold on a domain's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub epoch: i64,
    /// The end of the lease by this node's clock: counted from before it was asked for.
    pub until: Instant,
}

/// A connection of its own for the lease, so a busy writer never delays a renewal.
pub struct Lease {
    client: Client,
    options: PgOptions,
    shown: String,
    node: String,
    address: String,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("domain", &self.options.domain)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Lease {
    /// Connects for the lease of `options.domain`, as `node`, reachable at `address`.
    pub fn connect(options: &PgOptions, node: &str, address: &str) -> Result<Lease, StoreError> {
        Ok(Lease {
            client: connect(options)?,
            options: options.clone(),
            shown: shown(&options.url),
            node: node.to_owned(),
            address: address.to_owned(),
        })
    }

    fn err(&self, e: &postgres::Error) -> StoreError {
        classify(&self.shown, &self.options.domain, e)
    }

    fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_closed() {
            self.client = connect(&self.options)?;
        }
        Ok(&mut self.client)
    }

    /// Takes the lease if nobody holds it (it never existed, or it expired): the epoch
    /// goes up by one. `None` while another node holds it.
    pub fn try_take(&mut self) -> Result<Option<Held>, StoreError> {
        let asked = Instant::now();
        let lease = millis(self.options.lease);
        let (domain, node, address) = (
            self.options.domain.clone(),
            self.node.clone(),
            self.address.clone(),
        );
        let row = self
            .client()?
            .query_opt(
                "INSERT INTO leases (domain, epoch, holder, address, acquired, expires)
                 VALUES ($1, 1, $2, $3, clock_timestamp(),
                         clock_timestamp() + $4 * interval '1 millisecond')
                 ON CONFLICT (domain) DO UPDATE
                     SET epoch = leases.epoch + 1, holder = EXCLUDED.holder,
                         address = EXCLUDED.address, acquired = EXCLUDED.acquired,
                         expires = EXCLUDED.expires
                     WHERE leases.expires < clock_timestamp()
                 RETURNING epoch",
                &[&domain, &node, &address, &(lease as f64)],
            )
            .map_err(|e| self.err(&e))?;
        Ok(row.map(|r| Held {
            epoch: r.get(0),
            until: asked + self.options.lease,
        }))
    }

    /// Renews the lease held at `epoch`; `None` when it is no longer this node's (it
    /// expired and another node took it).
    pub fn renew(&mut self, epoch: i64) -> Result<Option<Held>, StoreError> {
        let asked = Instant::now();
        let lease = millis(self.options.lease);
        let (domain, node) = (self.options.domain.clone(), self.node.clone());
        let row = self
            .client()?
            .query_opt(
                "UPDATE leases SET expires = clock_timestamp() + $4 * interval '1 millisecond'
                 WHERE domain = $1 AND epoch = $2 AND holder = $3
                 RETURNING epoch",
                &[&domain, &epoch, &node, &(lease as f64)],
            )
            .map_err(|e| self.err(&e))?;
        Ok(row.map(|_| Held {
            epoch,
            until: asked + self.options.lease,
        }))
    }

    /// Gives the lease up at once (at shutdown), so a standby need not wait it out.
    pub fn release(&mut self, epoch: i64) -> Result<(), StoreError> {
        let (domain, node) = (self.options.domain.clone(), self.node.clone());
        self.client()?
            .execute(
                "UPDATE leases SET expires = clock_timestamp() - interval '1 millisecond'
                 WHERE domain = $1 AND epoch = $2 AND holder = $3",
                &[&domain, &epoch, &node],
            )
            .map_err(|e| self.err(&e))?;
        Ok(())
    }

    /// Who holds the lease now, if anyone ever took it.
    pub fn holder(&mut self) -> Result<Option<Holder>, StoreError> {
        let domain = self.options.domain.clone();
        let row = self
            .client()?
            .query_opt(
                "SELECT holder, address, epoch,
                        greatest(0, extract(epoch FROM expires - clock_timestamp()) * 1000)::int8
                 FROM leases WHERE domain = $1",
                &[&domain],
            )
            .map_err(|e| self.err(&e))?;
        Ok(row.map(|r| Holder {
            node: r.get(0),
            address: r.get(1),
            epoch: r.get(2),
            expires_in: Duration::from_millis(u64::try_from(r.get::<_, i64>(3)).unwrap_or(0)),
        }))
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn domain(&self) -> &str {
        &self.options.domain
    }
}
