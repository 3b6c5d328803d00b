//! The one authorization layer: every request's gRPC method is looked up in [`RULES`]
//! before any service sees it. A method without a rule is denied to everyone (default
//! deny), so a new RPC is unreachable until it is given one.
//!
//! In order: the method's rule (health is open); the caller's identity (a bearer token,
//! else the connection's client certificate; UNAUTHENTICATED without one); the role the
//! rule needs (PERMISSION_DENIED naming it); the identity's rate limit
//! (RESOURCE_EXHAUSTED naming it). What a role is bound to (switch ids, agents) is
//! checked by the services, which see the request's fields.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use switchboard_config::security::Role;
use tonic::{
    Status,
    body::Body,
    codegen::{Service, http},
};

use super::{Caller, Guard};
use crate::{connections::ConnInfo, error::shown};

/// Who may call a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone, with or without credentials.
    Open,
    /// Identities with one of these roles.
    Roles(&'static [Role]),
}

const SWITCH: Access = Access::Roles(&[Role::Switch, Role::Admin]);
const DESK: Access = Access::Roles(&[Role::Desk, Role::Admin]);
const DESK_OR_SUPERVISOR: Access = Access::Roles(&[Role::Desk, Role::Supervisor, Role::Admin]);
const SUPERVISOR: Access = Access::Roles(&[Role::Supervisor, Role::Admin]);
const ADMIN: Access = Access::Roles(&[Role::Admin]);

/// Every method the server serves and who may call it; nothing else is allowed.
pub(crate) const RULES: &[(&str, Access)] = &[
    ("/grpc.health.v1.Health/Check", Access::Open),
    ("/grpc.health.v1.Health/Watch", Access::Open),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ADMIN,
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ADMIN,
    ),
    ("/switchboard.v1.Routing/RouteCall", SWITCH),
    ("/switchboard.v1.Routing/SubmitInput", SWITCH),
    ("/switchboard.v1.Routing/ReportCallEvent", SWITCH),
    ("/switchboard.v1.Routing/WatchAssignments", SWITCH),
    ("/switchboard.v1.Agents/SetAgentState", DESK),
    ("/switchboard.v1.Agents/GetAgent", DESK_OR_SUPERVISOR),
    ("/switchboard.v1.Agents/ListAgents", SUPERVISOR),
    ("/switchboard.v1.Admin/UpsertCustomer", ADMIN),
    ("/switchboard.v1.Admin/GetCustomer", SUPERVISOR),
    ("/switchboard.v1.Admin/ImportCustomers", ADMIN),
    ("/switchboard.v1.Admin/ReloadConfig", ADMIN),
    ("/switchboard.v1.Admin/GetQueueStats", SUPERVISOR),
    ("/switchboard.v1.Admin/ExplainRoute", SUPERVISOR),
    ("/switchboard.v1.Admin/GetAgentStats", SUPERVISOR),
    ("/switchboard.v1.Admin/GetStandardsReport", SUPERVISOR),
    ("/switchboard.v1.Admin/ListAudit", SUPERVISOR),
    ("/switchboard.v1.Admin/WatchFloor", SUPERVISOR),
    ("/switchboard.v1.Admin/ListWaitingCalls", SUPERVISOR),
    ("/switchboard.v1.Admin/MoveCall", SUPERVISOR),
    ("/switchboard.v1.Admin/SuperviseAgent", SUPERVISOR),
    ("/switchboard.v1.Admin/CloseQueue", SUPERVISOR),
    ("/switchboard.v1.Admin/OpenQueue", SUPERVISOR),
    ("/switchboard.v1.Admin/GetNode", SUPERVISOR),
];

/// The one method of the API a standby answers (besides health).
const ANSWERED_BY_STANDBYS: &str = "/switchboard.v1.Admin/GetNode";

/// `method` as named in messages: `switchboard.v1.Admin/ReloadConfig`.
fn method(path: &str) -> &str {
    path.strip_prefix('/').unwrap_or(path)
}

fn roles(needed: &[Role]) -> String {
    let names: Vec<&str> = needed.iter().map(|r| r.name()).collect();
    match names.as_slice() {
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        [] => String::new(),
    }
}

impl Guard {
    /// The caller of a request to `path`, or the status that refuses it.
    pub(crate) fn authorize(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        conn: Option<&ConnInfo>,
    ) -> Result<Caller, Status> {
        let remote = conn.map(ConnInfo::remote);
        let Some(access) = self.rules.get(path) else {
            return Err(Status::permission_denied(format!(
                "{}: no access rule for this method, so no one may call it",
                shown(method(path))
            )));
        };
        if self.open || *access == Access::Open {
            return Ok(Caller {
                identity: Arc::clone(&self.anyone),
                remote,
            });
        }
        let identity = match headers.get(http::header::AUTHORIZATION) {
            Some(value) => {
                let token = value
                    .to_str()
                    .ok()
                    .and_then(|v| {
                        // The scheme is case-insensitive (RFC 9110).
                        let (scheme, token) = v.split_at_checked(7)?;
                        scheme.eq_ignore_ascii_case("bearer ").then_some(token)
                    })
                    .ok_or_else(|| {
                        Status::unauthenticated(
                            "authorization: expected \"Bearer <token>\" with a token from `switchboard token new`",
                        )
                    })?;
                let table = self.tokens.as_ref().map(|t| t.value.load());
                table
                    .as_ref()
                    .and_then(|t| t.verify(token.trim()).cloned())
                    .ok_or_else(|| {
                        Status::unauthenticated(
                            "the bearer token is not one this server knows (mistyped, or revoked)",
                        )
                    })?
            }
            None => match conn.map(|c| &c.peer) {
                Some(crate::connections::Peer::Known(identity)) => Arc::clone(identity),
                Some(crate::connections::Peer::Unknown(names)) => {
                    return Err(Status::unauthenticated(format!(
                        "the client certificate ({names}) is not one of [[security.clients]]"
                    )));
                }
                _ => {
                    return Err(Status::unauthenticated(
                        "no credentials: send a bearer token (authorization: Bearer <token>) or a client certificate",
                    ));
                }
            },
        };
        if let Access::Roles(needed) = access
            && !needed.contains(&identity.grant.role)
        {
            return Err(Status::permission_denied(format!(
                "{} needs role {}; {identity} has role {}",
                method(path),
                roles(needed),
                identity.grant.role
            )));
        }
        if let Some(per_second) = self.rate_limit
            && !identity.admit(per_second)
        {
            return Err(Status::resource_exhausted(format!(
                "rate limit: {identity} may make {per_second} requests per second (security.rate_limit); slow down"
            )));
        }
        Ok(Caller { identity, remote })
    }
}

/// The layer that puts [`Guard::authorize`] in front of every service.
#[derive(Clone, Debug)]
pub(crate) struct Authorize {
    pub(crate) guard: Arc<Guard>,
    pub(crate) denials: Arc<Denials>,
    /// The node's standing on a shared store: a standby refuses the API.
    pub(crate) node: Option<Arc<crate::ha::Node>>,
}

impl<S> tower_layer::Layer<S> for Authorize {
    type Service = Authorized<S>;

    fn layer(&self, inner: S) -> Authorized<S> {
        Authorized {
            inner,
            guard: Arc::clone(&self.guard),
            denials: Arc::clone(&self.denials),
            node: self.node.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Authorized<S> {
    inner: S,
    guard: Arc<Guard>,
    denials: Arc<Denials>,
    node: Option<Arc<crate::ha::Node>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<http::Request<Body>> for Authorized<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let decided = self.guard.authorize(
            request.uri().path(),
            request.headers(),
            request.extensions().get::<ConnInfo>(),
        );
        match decided {
            Ok(caller) => {
                let path = request.uri().path();
                if path.starts_with("/switchboard.v1.")
                    && path != ANSWERED_BY_STANDBYS
                    && let Some(node) = &self.node
                    && let Some(why) = node.refusal()
                {
                    let mut status = Status::unavailable(why);
                    if let Some(leader) = node.leader_address()
                        && let Ok(value) = leader.parse()
                    {
                        status.metadata_mut().insert("switchboard-leader", value);
                    }
                    return Box::pin(std::future::ready(Ok(status.into_http())));
                }
                request.extensions_mut().insert(caller);
                Box::pin(self.inner.call(request))
            }
            Err(status) => {
                self.denials.count(
                    &status,
                    request.uri().path(),
                    request.extensions().get::<ConnInfo>(),
                );
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

/// Refused requests: counted by code, and logged at most once a second (a client
/// retrying without credentials must not flood the log).
#[derive(Debug, Default)]
pub(crate) struct Denials {
    pub(crate) unauthenticated: AtomicU64,
    pub(crate) permission_denied: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    logged_at: AtomicU64,
    since_logged: AtomicU64,
}

impl Denials {
    fn count(&self, status: &Status, path: &str, conn: Option<&ConnInfo>) {
        let counter = match status.code() {
            tonic::Code::Unauthenticated => &self.unauthenticated,
            tonic::Code::ResourceExhausted => &self.rate_limited,
            _ => &self.permission_denied,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let skipped = self.since_logged.fetch_add(1, Ordering::Relaxed);
        if self.logged_at.swap(second, Ordering::Relaxed) != second {
            self.since_logged.store(0, Ordering::Relaxed);
            let from = conn.map(ConnInfo::remote);
            tracing::warn!(
                method = %shown(method(path)),
                from = ?from,
                code = ?status.code(),
                refused_unlogged = skipped,
                "request refused: {}",
                status.message()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_a_method_once_and_admins_may_call_every_guarded_one() {
        let mut seen = std::collections::HashSet::new();
        for (path, access) in RULES {
            assert!(seen.insert(*path), "{path} listed twice");
            assert!(
                path.starts_with('/') && path.matches('/').count() == 2,
                "{path}"
            );
            if let Access::Roles(roles) = access {
                assert!(
                    roles.contains(&Role::Admin),
                    "{path}: admins may do everything"
                );
            }
        }
    }

    fn guard_with_token(role: Role) -> (Guard, String) {
        let dir = std::env::temp_dir().join(format!(
            "sb-authorize-{}-{}",
            std::process::id(),
            role.name()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tokens.toml");
        let grant = switchboard_config::security::Grant::new(role, vec![], vec![]).unwrap();
        let token = super::super::tokens::create(&file, "t", &grant)
            .unwrap()
            .token;
        let security = switchboard_config::security::Security {
            tokens: Some(file),
            ..Default::default()
        };
        (Guard::load(&security).unwrap(), token)
    }

    fn headers(authorization: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, authorization.parse().unwrap());
        h
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case_and_other_schemes_are_named() {
        let (guard, token) = guard_with_token(Role::Supervisor);
        let stats = "/switchboard.v1.Admin/GetQueueStats";
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let caller = guard
                .authorize(stats, &headers(&format!("{scheme} {token}")), None)
                .unwrap();
            assert_eq!(caller.identity.grant.role, Role::Supervisor);
        }
        let e = guard
            .authorize(stats, &headers(&format!("Basic {token}")), None)
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        assert!(e.message().contains("expected \"Bearer <token>\""), "{e:?}");
        let e = guard
            .authorize(stats, &headers("Bearer"), None)
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn health_is_open_and_a_path_without_a_rule_is_closed_even_to_admins() {
        let (guard, token) = guard_with_token(Role::Admin);
        guard
            .authorize(
                "/grpc.health.v1.Health/Check",
                &http::HeaderMap::new(),
                None,
            )
            .unwrap();
        let long = format!("/switchboard.v1.Admin/{}", "x".repeat(10_000));
        let e = guard
            .authorize(&long, &headers(&format!("Bearer {token}")), None)
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        assert!(
            e.message().len() < 200,
            "the path is cut short: {}",
            e.message().len()
        );
    }

    #[test]
    fn the_roles_needed_read_as_a_sentence() {
        assert_eq!(roles(&[Role::Admin]), "admin");
        assert_eq!(roles(&[Role::Switch, Role::Admin]), "switch or admin");
        assert_eq!(
            roles(&[Role::Desk, Role::Supervisor, Role::Admin]),
            "desk, supervisor or admin"
        );
    }
}
