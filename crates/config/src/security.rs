//! `[security]`: TLS, who may connect and what each identity may do. Without the section
//! the server is open to whoever reaches it, which is only allowed on a loopback address
//! (or with `insecure = true`, said loudly at every start).

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use switchboard_core::text::shown;

use crate::{
    diagnostic::did_you_mean,
    raw::{RawClient, RawSecurity, S},
    validate::Checker,
};

/// The most requests an identity may make per second.
const MAX_RATE_LIMIT: i64 = 1_000_000;
/// Switch ids and agent ids bound to one identity.
const MAX_BINDINGS: usize = 10_000;
/// Longest certificate name or bound id.
const MAX_ID: usize = 256;

/// What an identity may do. Each role's methods are listed in the README's role table
/// and enforced by the server's one authorization layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A telephony switch: Routing, for its own switch ids only.
    Switch,
    /// An agent desktop: its agents' state.
    Desk,
    /// Read-only Admin and the supervisors' actions.
    Supervisor,
    /// Everything.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Switch, Role::Desk, Role::Supervisor, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::Switch => "switch",
            Role::Desk => "desk",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The role named `name`; the error says which names there are.
    pub fn parse(name: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| {
                let hint = did_you_mean(name, Role::ALL.map(Role::name));
                format!("{name:?} is not a role (switch, desk, supervisor or admin){hint}")
            })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The agents a desk may act for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Agents {
    /// `agents = ["*"]`.
    Any,
    Listed(BTreeSet<String>),
}

impl Agents {
    pub fn allows(&self, agent_id: &str) -> bool {
        match self {
            Agents::Any => true,
            Agents::Listed(ids) => ids.contains(agent_id),
        }
    }
}

/// A role and what it is bound to: the grant of a token or of a client certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    /// The switch ids a `switch` may route, watch and report for.
    pub switches: BTreeSet<String>,
    /// The agents a `desk` may act for.
    pub agents: Agents,
}

impl Grant {
    /// Checks the bindings a role needs (a switch its switch ids, a desk its agents)
    /// and refuses bindings a role does not use; the error names the key.
    pub fn new(role: Role, switches: Vec<String>, agents: Vec<String>) -> Result<Grant, String> {
        for id in switches.iter().chain(&agents) {
            if id.is_empty() || id.len() > MAX_ID || id.chars().any(char::is_control) {
                return Err(format!(
                    "{} is not an id (1 to {MAX_ID} characters, no control characters)",
                    shown(id)
                ));
            }
        }
        if switches.len() > MAX_BINDINGS || agents.len() > MAX_BINDINGS {
            return Err(format!(
                "more than {MAX_BINDINGS} ids bound to one identity"
            ));
        }
        match role {
            Role::Switch if switches.is_empty() => {
                return Err(
                    "a switch needs the switch ids it routes for: switches = [\"sbc-1\"]".into(),
                );
            }
            Role::Desk if agents.is_empty() => {
                return Err(
                    "a desk needs the agents it acts for: agents = [\"a-100\"], or [\"*\"] for any"
                        .into(),
                );
            }
            _ => {}
        }
        if role != Role::Switch && !switches.is_empty() {
            return Err(format!("switches are bound to a switch only, not a {role}"));
        }
        if role != Role::Desk && !agents.is_empty() {
            return Err(format!("agents are bound to a desk only, not a {role}"));
        }
        let agents = if agents.iter().any(|a| a == "*") {
            if agents.len() > 1 {
                return Err("agents = [\"*\"] stands alone: any agent".into());
            }
            Agents::Any
        } else {
            Agents::Listed(agents.into_iter().collect())
        };
        Ok(Grant {
            role,
            switches: switches.into_iter().collect(),
            agents,
        })
    }
}

/// A client certificate's name (a DNS or URI subject alternative name, or else the
/// subject's common name) and what it grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub name: String,
    pub grant: Grant,
}

/// The server's certificate and key, and the CA its clients' certificates come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Client certificates signed by this CA identify their clients (mutual TLS).
    pub client_ca: Option<PathBuf>,
    /// Certificate revocation lists (PEM) of that CA: a revoked client certificate is
    /// refused at the handshake.
    pub client_crl: Option<PathBuf>,
}

/// Server reflection under security.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reflection {
    /// Served to admins.
    Admin,
    /// Not served.
    Off,
}

/// `[security]`, validated. The default (no section) is an open server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Security {
    pub tls: Option<TlsFiles>,
    /// Serve the metrics port over TLS too, with the same certificate.
    pub metrics_tls: bool,
    /// The file of token hashes `switchboard token new` writes.
    pub tokens: Option<PathBuf>,
    /// Identities of client certificates.
    pub clients: Vec<Client>,
    pub reflection: Reflection,
    /// Requests per second one identity may make (a burst of as many is allowed).
    pub rate_limit: Option<u32>,
    /// Serve without TLS or authentication off loopback anyway.
    pub insecure: bool,
}

impl Default for Security {
    fn default() -> Security {
        Security {
            tls: None,
            metrics_tls: false,
            tokens: None,
            clients: Vec::new(),
            reflection: Reflection::Admin,
            rate_limit: None,
            insecure: false,
        }
    }
}

impl Security {
    /// Requests must come with an identity (a token or a client certificate).
    pub fn authenticates(&self) -> bool {
        self.tokens.is_some() || self.tls.as_ref().is_some_and(|t| t.client_ca.is_some())
    }

    /// Why the server must not listen on `at` with this security, if it must not: an
    /// address other hosts can reach needs TLS and authentication, or `insecure = true`.
    pub fn refusal(&self, at: SocketAddr) -> Option<String> {
        let safe =
            at.ip().is_loopback() || self.insecure || (self.tls.is_some() && self.authenticates());
        (!safe).then(|| off_loopback(at))
    }
}

pub(crate) fn security(
    c: &mut Checker<'_>,
    raw: Option<&S<RawSecurity>>,
    base_dir: &Path,
    listen: Option<(SocketAddr, std::ops::Range<usize>)>,
    metrics_listen: Option<Option<SocketAddr>>,
) -> Option<Security> {
    let Some(section) = raw else {
        if let Some((at, span)) = listen
            && let Some(refusal) = Security::default().refusal(at)
        {
            c.error(span, "server.listen", refusal);
        }
        return Some(Security::default());
    };
    let raw = section.get_ref();
    let mut ok = true;
    let mut file = |c: &mut Checker<'_>, value: &Option<S<String>>, key: &str| -> Option<PathBuf> {
        let v = value.as_ref()?;
        if v.get_ref().trim().is_empty() {
            c.error(v.span(), format!("security.{key}"), "must name a file");
            ok = false;
            return None;
        }
        Some(base_dir.join(v.get_ref()))
    };
    let cert = file(c, &raw.tls_cert, "tls_cert");
    let key = file(c, &raw.tls_key, "tls_key");
    let client_ca = file(c, &raw.client_ca, "client_ca");
    let client_crl = file(c, &raw.client_crl, "client_crl");
    let tokens = file(c, &raw.tokens, "tokens");
    if let Some(crl) = &raw.client_crl
        && raw.client_ca.is_none()
    {
        c.error(
            crl.span(),
            "security.client_crl",
            "revocation lists go with client certificates: set client_ca too",
        );
        ok = false;
    }
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert,
            key,
            client_ca,
            client_crl,
        }),
        (None, None) => {
            if let Some(ca) = &raw.client_ca {
                c.error(
                    ca.span(),
                    "security.client_ca",
                    "client certificates need TLS: set tls_cert and tls_key too",
                );
                ok = false;
            }
            None
        }
        (Some(_), None) | (None, Some(_)) => {
            c.error(
                section.span(),
                "security",
                "tls_cert and tls_key go together: set both, or neither",
            );
            ok = false;
            None
        }
    };
    let mut clients = Vec::new();
    let mut names = BTreeSet::new();
    for (i, client) in raw.clients.iter().enumerate() {
        let path = format!("security.clients[{i}]");
        if let Some(cl) = self::client(c, client, &path) {
            if !names.insert(cl.name.clone()) {
                c.error(
                    client.get_ref().name.span(),
                    format!("{path}.name"),
                    format!("{:?} is listed twice", cl.name),
                );
                ok = false;
            }
            clients.push(cl);
        } else {
            ok = false;
        }
    }
    if !raw.clients.is_empty() && tls.as_ref().is_none_or(|t| t.client_ca.is_none()) {
        c.error(
            raw.clients[0].span(),
            "security.clients",
            "clients are known by their certificates: set client_ca (and tls_cert, tls_key)",
        );
        ok = false;
    }
    if tls.as_ref().is_some_and(|t| t.client_ca.is_some()) && raw.clients.is_empty() {
        c.error(
            section.span(),
            "security.client_ca",
            "no [[security.clients]] entry: a client certificate would identify no one",
        );
        ok = false;
    }
    let reflection = match &raw.reflection {
        None => Reflection::Admin,
        Some(r) => match r.get_ref().as_str() {
            "admin" => Reflection::Admin,
            "off" => Reflection::Off,
            other => {
                let hint = did_you_mean(other, ["admin", "off"]);
                c.error(
                    r.span(),
                    "security.reflection",
                    format!("{other:?} is not admin or off{hint}"),
                );
                ok = false;
                Reflection::Admin
            }
        },
    };
    let rate_limit = match &raw.rate_limit {
        None => None,
        Some(n) => {
            let v = c.int_in(n, "security.rate_limit", 1..=MAX_RATE_LIMIT);
            ok &= v.is_some();
            v.map(|v| v as u32)
        }
    };
    let metrics_tls = raw.metrics_tls.unwrap_or(false);
    if metrics_tls && tls.is_none() {
        c.error(
            section.span(),
            "security.metrics_tls",
            "the metrics port uses the gRPC port's certificate: set tls_cert and tls_key",
        );
        ok = false;
    }
    if metrics_tls && metrics_listen == Some(None) {
        c.warn(
            section.span(),
            "security.metrics_tls",
            "server.metrics_listen is off: nothing to serve over TLS",
        );
    }
    let security = Security {
        tls,
        metrics_tls,
        tokens,
        clients,
        reflection,
        rate_limit,
        insecure: raw.insecure.unwrap_or(false),
    };
    if !security.authenticates() && !security.insecure {
        c.error(
            section.span(),
            "security",
            "no way to authenticate: set tokens (a file `switchboard token new` writes), or client_ca with [[security.clients]]; or insecure = true to serve everyone as admin",
        );
        ok = false;
    }
    if let Some((at, span)) = listen
        && security.authenticates()
        && let Some(refusal) = security.refusal(at)
    {
        c.error(span, "server.listen", refusal);
        ok = false;
    }
    ok.then_some(security)
}

fn off_loopback(at: SocketAddr) -> String {
    format!(
        "{at} is reachable from other hosts, so it needs TLS and authentication: set [security] tls_cert and tls_key, and tokens or client_ca (see the README's Security section); or security.insecure = true to serve it in the clear anyway"
    )
}

fn client(c: &mut Checker<'_>, raw: &S<RawClient>, path: &str) -> Option<Client> {
    let raw = raw.get_ref();
    let name = raw.name.get_ref();
    if name.is_empty() || name.len() > MAX_ID || name.chars().any(char::is_control) {
        c.error(
            raw.name.span(),
            format!("{path}.name"),
            format!(
                "{} is not a certificate name (1 to {MAX_ID} characters)",
                shown(name)
            ),
        );
        return None;
    }
    let role = match Role::parse(raw.role.get_ref()) {
        Ok(r) => r,
        Err(e) => {
            c.error(raw.role.span(), format!("{path}.role"), e);
            return None;
        }
    };
    let list = |v: &Vec<S<String>>| v.iter().map(|s| s.get_ref().clone()).collect::<Vec<_>>();
    match Grant::new(role, list(&raw.switches), list(&raw.agents)) {
        Ok(grant) => Some(Client {
            name: name.clone(),
            grant,
        }),
        Err(e) => {
            c.error(raw.role.span(), path.to_string(), e);
            None
        }
    }
}
