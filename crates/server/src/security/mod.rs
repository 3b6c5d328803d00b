//! Who may do what: TLS on the listener, identities from bearer tokens or client
//! certificates, and one authorization layer that checks every request's method against
//! the caller's role before any service sees it.
//!
//! Layout:
//! - [`Guard`]: the security in force, built at start from `[security]`, with the
//!   tokens file and TLS files read again when they change.
//! - `authorize`: the method table (default deny) and the tower layer that applies it.
//! - [`tokens`]: the tokens file and `switchboard token new`.
//! - `tls`: rustls configs, reloaded on change, and a client certificate's names.
//!
//! Services find the caller in the request's extensions ([`Caller`]) and check what a
//! role is bound to (a switch's switch ids, a desk's agents) where the request names it.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use arc_swap::ArcSwap;
use switchboard_config::security::{Grant, Reflection, Role, Security};

pub(crate) mod authorize;
pub(crate) mod tls;
pub mod tokens;

/// How often the tokens file and the TLS files are looked at for changes.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Security that cannot be put in force at start: the message names the file and what is
/// wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error(transparent)]
    Tokens(#[from] tokens::TokenError),
    #[error("{path}: {problem}")]
    Tls { path: String, problem: String },
}

/// How an identity proved itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// A bearer token, by its id (never the token).
    Token(Arc<str>),
    /// A client certificate; the identity bears the name it matched.
    Certificate,
    /// No security: everyone is admin.
    Open,
    /// A SIP peer, by its address in `[[sip.peers]]`; the identity is its switch.
    SipPeer,
}

/// Someone the server knows, with what they may do. Each holds its own rate limiter.
#[derive(Debug)]
pub struct Identity {
    pub name: Arc<str>,
    /// Tells identities apart: `token:<id>`, `certificate:<name>` or `anyone`.
    pub(crate) key: Arc<str>,
    pub grant: Grant,
    pub via: Via,
    /// When the next request is due under the rate limit (nanoseconds since `base`;
    /// a generic cell rate algorithm, one atomic per identity).
    due: AtomicU64,
    base: Instant,
}

impl Identity {
    pub(crate) fn new(name: &str, grant: Grant, via: Via) -> Identity {
        let key = match &via {
            Via::Token(id) => format!("token:{id}"),
            Via::Certificate => format!("certificate:{name}"),
            Via::Open => "anyone".to_owned(),
            Via::SipPeer => format!("sip-peer:{name}"),
        };
        Identity {
            name: Arc::from(name),
            key: Arc::from(key.as_str()),
            grant,
            via,
            due: AtomicU64::new(0),
            base: Instant::now(),
        }
    }

    /// Whether one more request fits `per_second`, with a burst of as many.
    fn admit(&self, per_second: u32) -> bool {
        let interval = 1_000_000_000 / u64::from(per_second.max(1));
        let tolerance = interval * u64::from(per_second);
        let now = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut due = self.due.load(Ordering::Relaxed);
        loop {
            let next = due.max(now) + interval;
            if next - now > tolerance {
                return false;
            }
            match self
                .due
                .compare_exchange_weak(due, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => due = seen,
            }
        }
    }

    /// Whether this identity may act for switch `switch_id`.
    pub(crate) fn may_switch(&self, switch_id: &str) -> bool {
        match self.grant.role {
            Role::Admin => true,
            Role::Switch => self.grant.switches.contains(switch_id),
            Role::Desk | Role::Supervisor => false,
        }
    }

    /// Whether this identity may act for agent `agent_id`.
    pub(crate) fn may_agent(&self, agent_id: &str) -> bool {
        match self.grant.role {
            Role::Admin => true,
            Role::Desk => self.grant.agents.allows(agent_id),
            Role::Switch | Role::Supervisor => false,
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.via {
            Via::Token(id) => write!(f, "{} {:?} (token {id})", self.grant.role, self.name),
            Via::Certificate => write!(f, "{} {:?} (certificate)", self.grant.role, self.name),
            Via::Open => f.write_str("anyone (no [security])"),
            Via::SipPeer => write!(f, "switch {:?} (SIP peer)", self.name),
        }
    }
}

/// The caller of a request, as the authorization layer found it (a request extension).
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) identity: Arc<Identity>,
    pub(crate) remote: Option<SocketAddr>,
}

impl Caller {
    /// The caller of `request`; a request that did not pass the authorization layer
    /// has none and may do nothing.
    pub(crate) fn of<T>(request: &tonic::Request<T>) -> Result<Caller, tonic::Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| {
                tonic::Status::permission_denied("the request did not pass authorization")
            })
    }

    /// Refuses a switch id this caller is not bound to.
    pub(crate) fn may_switch(&self, switch_id: &str) -> Result<(), crate::error::ApiError> {
        if self.identity.may_switch(switch_id) {
            return Ok(());
        }
        Err(crate::error::ApiError::NotBound {
            what: "switch_id",
            key: switch_id.to_owned(),
            identity: self.identity.to_string(),
        })
    }

    /// Refuses an agent this caller is not bound to.
    pub(crate) fn may_agent(&self, agent_id: &str) -> Result<(), crate::error::ApiError> {
        if self.identity.may_agent(agent_id) {
            return Ok(());
        }
        Err(crate::error::ApiError::NotBound {
            what: "agent",
            key: agent_id.to_owned(),
            identity: self.identity.to_string(),
        })
    }
}

/// The security in force.
#[derive(Debug)]
pub struct Guard {
    /// No authentication: every caller is [`Guard::anyone`], an admin.
    open: bool,
    anyone: Arc<Identity>,
    tokens: Option<Watched<tokens::TokenTable>>,
    /// Identities of client certificates, by certificate name.
    clients: HashMap<String, Arc<Identity>>,
    pub(crate) tls: Option<tls::Tls>,
    reflection: Reflection,
    rate_limit: Option<u32>,
    rules: HashMap<&'static str, authorize::Access, foldhash::fast::RandomState>,
}

/// A file read at start and again whenever it changes.
#[derive(Debug)]
struct Watched<T> {
    path: PathBuf,
    value: ArcSwap<T>,
    stamp: std::sync::Mutex<Option<SystemTime>>,
}

pub(crate) fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Guard {
    /// Puts `[security]` in force: reads the tokens file and the TLS files, and refuses
    /// to start on any that cannot be used.
    pub fn load(security: &Security) -> Result<Guard, SecurityError> {
        let tokens = match &security.tokens {
            Some(path) => {
                let stamp = modified(path);
                let table = tokens::TokenTable::load(path)?;
                if table.len() == 0 {
                    tracing::warn!(path = %path.display(), "no tokens yet: make one with `switchboard token new`");
                }
                Some(Watched {
                    path: path.clone(),
                    value: ArcSwap::from_pointee(table),
                    stamp: std::sync::Mutex::new(stamp),
                })
            }
            None => None,
        };
        let clients = security
            .clients
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    Arc::new(Identity::new(&c.name, c.grant.clone(), Via::Certificate)),
                )
            })
            .collect();
        let tls = match &security.tls {
            Some(files) => Some(tls::Tls::load(files, security.tokens.is_some())?),
            None => None,
        };
        let open = !security.authenticates();
        if open && security.insecure {
            tracing::warn!(
                "security.insecure = true and no authentication: anyone who reaches the server is an administrator"
            );
        } else if security.insecure && tls.is_none() {
            tracing::warn!(
                "security.insecure = true: tokens travel in the clear; set tls_cert and tls_key"
            );
        }
        Ok(Guard {
            open,
            anyone: Arc::new(Identity::new(
                "anyone",
                Grant::new(Role::Admin, vec![], vec![]).unwrap_or_else(|_| unreachable!()),
                Via::Open,
            )),
            tokens,
            clients,
            tls,
            reflection: security.reflection,
            rate_limit: security.rate_limit,
            rules: authorize::RULES.iter().copied().collect(),
        })
    }

    /// What the authorization layer decides for a request to `path` with `headers` on a
    /// connection without a client certificate: the caller's identity, or the status
    /// that refuses it (for benches and tools; the server runs the layer itself).
    pub fn check(
        &self,
        path: &str,
        headers: &tonic::codegen::http::HeaderMap,
    ) -> Result<Arc<Identity>, tonic::Status> {
        self.authorize(path, headers, None).map(|c| c.identity)
    }

    /// The identity a verified client certificate's names stand for: the first of them
    /// listed in `[[security.clients]]`.
    pub(crate) fn client(&self, names: &[String]) -> Option<Arc<Identity>> {
        names.iter().find_map(|n| self.clients.get(n).cloned())
    }

    /// Whether reflection is served at all.
    pub(crate) fn reflection(&self) -> bool {
        self.reflection == Reflection::Admin
    }

    /// Reads again what changed on disk: the tokens file (tokens added or revoked) and
    /// the TLS files (a rotated certificate). A file that cannot be used is logged and
    /// the running one stays.
    pub(crate) fn reload_changed(&self) {
        if let Some(t) = &self.tokens {
            let now = modified(&t.path);
            let mut stamp = t.stamp.lock().unwrap_or_else(|e| e.into_inner());
            if *stamp != now {
                *stamp = now;
                match tokens::TokenTable::load(&t.path) {
                    Ok(table) => {
                        tracing::info!(path = %t.path.display(), tokens = table.len(), "tokens file read again");
                        t.value.store(Arc::new(table));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "tokens file refused; the tokens read before stay")
                    }
                }
            }
        }
        if let Some(tls) = &self.tls {
            tls.reload_changed();
        }
    }
}

/// Reads changed security files once a second until `stop` says so.
pub(crate) async fn watch_files(guard: Arc<Guard>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let guard = Arc::clone(&guard);
        let _ = tokio::task::spawn_blocking(move || guard.reload_changed()).await;
    }
}

#[cfg(test)]
mod tests {
    /// The version of `name` the workspace's lock file pins, as numbers.
    fn locked(name: &str) -> Vec<u64> {
        let lock = include_str!("../../../../Cargo.lock");
        let at = lock
            .find(&format!("name = \"{name}\"\nversion = \""))
            .unwrap_or_else(|| panic!("{name} is not in Cargo.lock"));
        let rest = &lock[at..];
        let version = rest.lines().nth(1).unwrap();
        version
            .trim_start_matches("version = \"")
            .trim_end_matches('"')
            .split('.')
            .map(|n| n.parse().unwrap())
            .collect()
    }

    #[test]
    fn http2_is_at_a_version_with_the_rapid_reset_and_continuation_flood_fixes() {
        // h2 0.4.4 (April 2024) bounds CONTINUATION frames; pending-reset limits came in
        // 0.3.21 (August 2023, the rapid-reset attack).
        let h2 = locked("h2");
        assert!(
            h2 >= vec![0, 4, 4],
            "h2 {h2:?} lacks the 2023-2024 flood fixes"
        );
    }
}
