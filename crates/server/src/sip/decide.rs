//! A call from a SIP peer routed, and the decision as a place to send the call: shared by
//! the redirect server (which answers with a 302) and the HTTP routing endpoint for
//! Kamailio (which answers with rtjson routes).

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use switchboard_config::{
    security::{Grant, Role},
    sip::Sip,
};
use switchboard_proto::v1 as pb;
use switchboard_sip::uri::escape_param;

use crate::{
    App,
    routing::RoutingService,
    security::{Caller, Identity, Via},
};

/// A new call as a SIP peer presents it.
#[derive(Debug, Clone)]
pub(crate) struct SipCall<'a> {
    pub(crate) call_id: &'a str,
    /// The caller's number, or `anonymous` when withheld.
    pub(crate) caller: &'a str,
    pub(crate) dialed: &'a str,
    /// The host the call was sent to, for URIs relative to it.
    pub(crate) host: &'a str,
}

/// Where a decision sends the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// An agent took the call at once: their URI; `hold` is where the call waits should
    /// the agent not answer (the queue's hold URI).
    Agent {
        agent_id: String,
        uri: String,
        hold: String,
    },
    /// A menu's IVR, a queue's hold or voicemail, or the line a caller is sent to.
    Elsewhere(String),
    /// No place: the code (480, 403, 503...), a Retry-After and why.
    Refused {
        code: u16,
        retry_after: Option<u32>,
        why: String,
    },
}

/// The identities of the peers' switches, made once each.
#[derive(Debug, Default)]
pub(crate) struct Peers(HashMap<String, Arc<Identity>>);

impl Peers {
    pub(crate) fn caller(&mut self, switch_id: &str, source: SocketAddr) -> Caller {
        let identity = self.0.entry(switch_id.to_owned()).or_insert_with(|| {
            let grant = Grant::new(Role::Switch, vec![switch_id.to_owned()], vec![])
                .expect("a switch grant names its switch");
            Arc::new(Identity::new(switch_id, grant, Via::SipPeer))
        });
        Caller {
            identity: Arc::clone(identity),
            remote: Some(source),
        }
    }
}

/// Routes `call` for switch `switch_id` as `caller` (or finds its decision, for a call already
/// routed) and says where it goes. `line_redirects`: a line that turns the caller away
/// sends them to the other line's number (the redirect server, whose switch then calls
/// that line); otherwise the decision's menu or queue is the place at once.
pub(crate) fn place(
    app: &App,
    sip: &Sip,
    (switch_id, caller): (&str, &Caller),
    call: &SipCall<'_>,
    line_redirects: bool,
) -> Target {
    let known = app.router.knows_call(call.call_id);
    let request = pb::RouteCallRequest {
        call_id: call.call_id.to_owned(),
        caller: call.caller.to_owned(),
        dialed: call.dialed.to_owned(),
        channel: pb::Channel::Voice as i32,
        switch_id: switch_id.to_owned(),
    };
    let service = RoutingService { app: app.clone() };
    match service.route(caller, &request) {
        Ok(decision) => target(app, sip, call, &decision, line_redirects && !known),
        Err(e) => {
            let status = tonic::Status::from(e);
            let (code, retry) = match status.code() {
                tonic::Code::Unavailable | tonic::Code::ResourceExhausted => (503, true),
                tonic::Code::PermissionDenied | tonic::Code::AlreadyExists => (403, false),
                tonic::Code::InvalidArgument => (400, false),
                _ => (500, false),
            };
            Target::Refused {
                code,
                retry_after: retry.then(|| seconds(sip.retry_after)),
                why: status.message().to_owned(),
            }
        }
    }
}

pub(crate) fn seconds(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// Where `decision` sends the call.
fn target(
    app: &App,
    sip: &Sip,
    call: &SipCall<'_>,
    decision: &pb::Decision,
    line_redirect: bool,
) -> Target {
    let id = escape_param(call.call_id);
    if let Some(redirect) = &decision.redirect
        && line_redirect
        && let Some(number) = line_number(app, &redirect.to_line)
    {
        return Target::Elsewhere(format!(
            "sip:{}@{};sb-call={id}",
            escape_param(&number),
            call.host
        ));
    }
    match &decision.action {
        Some(pb::decision::Action::PlayMenu(menu)) => Target::Elsewhere(with_params(
            &sip.ivr_uri.replace("{menu}", &escape_param(&menu.menu)),
            &[
                ("sb-call", id),
                ("sb-menu", escape_param(&menu.menu)),
                ("sb-prompt", escape_param(&menu.prompt)),
                ("sb-attempt", menu.attempt.to_string()),
            ],
        )),
        Some(pb::decision::Action::Enqueue(queue)) if queue.closed => match &sip.voicemail_uri {
            Some(uri) => Target::Elsewhere(with_params(
                &uri.replace("{queue}", &escape_param(&queue.queue)),
                &[("sb-call", id), ("sb-queue", escape_param(&queue.queue))],
            )),
            None => Target::Refused {
                code: 480,
                retry_after: Some(seconds(sip.retry_after)),
                why: format!("queue {} is closed", queue.queue),
            },
        },
        Some(pb::decision::Action::Enqueue(queue)) => {
            let mut params = vec![("sb-call", id), ("sb-queue", escape_param(&queue.queue))];
            if let Some(p) = queue.position.filter(|p| *p > 0) {
                params.push(("sb-position", p.to_string()));
            }
            if let Some(wait) = &queue.estimated_wait {
                params.push(("sb-wait", wait.seconds.max(0).to_string()));
            }
            if queue.callback_offered {
                params.push(("sb-callback", "1".to_owned()));
            }
            let hold = with_params(
                &sip.hold_uri.replace("{queue}", &escape_param(&queue.queue)),
                &params,
            );
            let agent = (queue.position == Some(0))
                .then(|| app.router.acd().holder_of(call.call_id))
                .flatten();
            match agent {
                Some(agent) => Target::Agent {
                    agent_id: agent.profile.id.clone(),
                    uri: agent_uri(&agent.profile.endpoint, sip, call.host),
                    hold,
                },
                None => Target::Elsewhere(hold),
            }
        }
        None => Target::Refused {
            code: 500,
            retry_after: None,
            why: "the decision has no action".to_owned(),
        },
    }
}

/// The number of the line named `name` in the plan in force.
fn line_number(app: &App, name: &str) -> Option<String> {
    let plan = app.router.plan();
    plan.lines
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.number.to_string())
}

/// An agent's endpoint as a URI: as it is when it is one, else an extension at
/// `sip.agent_domain` (or the host the call was sent to).
fn agent_uri(endpoint: &str, sip: &Sip, host: &str) -> String {
    let scheme = endpoint
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase());
    if matches!(scheme.as_deref(), Some("sip" | "sips" | "tel")) {
        return endpoint.to_owned();
    }
    let domain = sip.agent_domain.as_deref().unwrap_or(host);
    format!("sip:{}@{domain}", escape_param(endpoint))
}

/// `uri` with `;name=value` parameters, before any `?headers`.
fn with_params(uri: &str, params: &[(&str, String)]) -> String {
    let (base, headers) = match uri.split_once('?') {
        Some((b, h)) => (b, Some(h)),
        None => (uri, None),
    };
    let mut out = base.to_owned();
    for (name, value) in params {
        out.push(';');
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    if let Some(h) = headers {
        out.push('?');
        out.push_str(h);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, atomic::Ordering};

    use super::*;

    fn app() -> (App, Sip) {
        let text = format!(
            "{}\n[sip]\nlisten_udp = \"127.0.0.1:0\"\nivr_uri = \"sip:ivr-{{menu}}@m\"\nhold_uri = \"sip:hold-{{queue}}@m\"\nretry_after = \"7s\"\n\n[[sip.peers]]\naddress = \"127.0.0.1\"\nswitch_id = \"sbc\"\n",
            switchboard_config::DEFAULT_CONFIG
        );
        let config =
            switchboard_config::parse(&text, std::path::Path::new("t.toml")).expect("valid");
        let sip = config.settings.sip.clone();
        let (app, _) = App::new(
            config,
            &crate::CustomerSource::None,
            Arc::new(crate::SystemClock),
        )
        .unwrap();
        (app, sip)
    }

    fn call(id: &str) -> SipCall<'_> {
        SipCall {
            call_id: id,
            caller: "+13125550100",
            dialed: "+18005550100",
            host: "sb.example",
        }
    }

    #[test]
    fn while_the_server_shuts_down_a_new_call_is_refused_503_with_retry_after_and_a_known_one_keeps_its_place()
     {
        let (app, sip) = app();
        let caller = Peers::default().caller("sbc", "127.0.0.1:5060".parse().unwrap());
        let before = place(&app, &sip, ("sbc", &caller), &call("known"), true);
        assert!(matches!(&before, Target::Elsewhere(uri) if uri.starts_with("sip:ivr-main@m;")));
        app.stopping.store(true, Ordering::Relaxed);
        match place(&app, &sip, ("sbc", &caller), &call("new"), true) {
            Target::Refused {
                code,
                retry_after,
                why,
            } => {
                assert_eq!((code, retry_after), (503, Some(7)));
                assert!(why.contains("shutting down"), "{why}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // A call routed before still gets its place (an INVITE repeated by a new
        // transaction).
        assert_eq!(
            place(&app, &sip, ("sbc", &caller), &call("known"), true),
            before
        );
    }
}
