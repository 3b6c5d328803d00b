//! `switchboard.v1.Agents`: the agent desktop's service.

use switchboard_core::acd::AgentState;
use switchboard_proto::v1::{self as pb, agents_server::Agents};
use tonic::{Request, Response, Status};

use crate::{App, convert, error::ApiError, security::Caller};

#[derive(Debug, Clone)]
pub(crate) struct AgentsService {
    pub app: App,
}

const MAX_AGENT_ID: usize = 64;
const MAX_REASON: usize = 64;

fn state_from(value: i32) -> Result<pb::AgentState, ApiError> {
    pb::AgentState::try_from(value)
        .map_err(|_| ApiError::invalid("state", format!("unknown value {value}")))
}

#[tonic::async_trait]
impl Agents for AgentsService {
    async fn set_agent_state(
        &self,
        request: Request<pb::SetAgentStateRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        convert::check_id("agent_id", &req.agent_id, MAX_AGENT_ID)?;
        caller.may_agent(&req.agent_id)?;
        let acd = self.app.router.acd();
        let now = self.app.clock.now();
        let agent_err = |error| ApiError::Agent {
            agent_id: req.agent_id.clone(),
            error,
        };
        let logging_in =
            req.endpoint.len() + req.skills.len() + req.style_tags.len() + req.capacity.len() > 0;
        match state_from(req.state)? {
            pb::AgentState::Unspecified => {
                return Err(ApiError::invalid("state", "required").into());
            }
            pb::AgentState::Reserved | pb::AgentState::OnCall | pb::AgentState::WrapUp => {
                return Err(ApiError::invalid(
                    "state",
                    "reserved, on call and wrap-up follow from call events; set AVAILABLE, NOT_READY or LOGGED_OUT",
                )
                .into());
            }
            pb::AgentState::LoggedOut => {
                acd.log_out(&req.agent_id, now).map_err(agent_err)?;
                tracing::info!(agent_id = %req.agent_id, "agent logged out");
            }
            target @ (pb::AgentState::Available | pb::AgentState::NotReady) => {
                if req.reason.chars().count() > MAX_REASON
                    || req.reason.chars().any(char::is_control)
                {
                    return Err(ApiError::invalid(
                        "reason",
                        "at most 64 characters without control characters",
                    )
                    .into());
                }
                let logged_in = acd
                    .agent(&req.agent_id)
                    .is_some_and(|a| a.state() != AgentState::LoggedOut);
                if logging_in && logged_in {
                    return Err(ApiError::AlreadyLoggedIn {
                        agent_id: req.agent_id.clone(),
                    }
                    .into());
                }
                if !logged_in {
                    let profile =
                        convert::agent_profile(&req, self.app.router.plan().capacity.limits)?;
                    acd.log_in(profile, now).map_err(agent_err)?;
                    tracing::info!(agent_id = %req.agent_id, "agent logged in");
                }
                if target == pb::AgentState::Available {
                    for a in acd.ready(&req.agent_id, now).map_err(agent_err)? {
                        self.app.dispatch.send(&self.app.router, &a, now);
                    }
                } else {
                    let reason = if req.reason.is_empty() {
                        "unspecified"
                    } else {
                        req.reason.as_str()
                    };
                    acd.not_ready(&req.agent_id, reason, now)
                        .map_err(agent_err)?;
                }
            }
        }
        self.app.mark_agent(&req.agent_id);
        let agent = acd
            .agent(&req.agent_id)
            .ok_or_else(|| agent_err(switchboard_core::acd::AcdError::UnknownAgent))?;
        // A desk changing its own agents is the floor's ordinary work; an administrator
        // changing an agent is a change to audit.
        if caller.identity.grant.role == switchboard_config::security::Role::Admin
            && caller.identity.via != crate::security::Via::Open
        {
            self.app.audit(
                &caller,
                "switchboard.v1.Agents/SetAgentState",
                &req.agent_id,
                format!("state {:?}", agent.state()),
            );
        }
        Ok(Response::new(convert::agent_to(
            &agent,
            self.app.figures(&agent.profile.id),
        )))
    }

    async fn get_agent(
        &self,
        request: Request<pb::GetAgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        convert::check_id("agent_id", &req.agent_id, MAX_AGENT_ID)?;
        // Supervisors see every agent; a desk sees its own.
        if caller.identity.grant.role != switchboard_config::security::Role::Supervisor {
            caller.may_agent(&req.agent_id)?;
        }
        let agent = self
            .app
            .router
            .acd()
            .agent(&req.agent_id)
            .ok_or(ApiError::NotFound {
                what: "agent",
                key: req.agent_id,
            })?;
        Ok(Response::new(convert::agent_to(
            &agent,
            self.app.figures(&agent.profile.id),
        )))
    }

    async fn list_agents(
        &self,
        request: Request<pb::ListAgentsRequest>,
    ) -> Result<Response<pb::ListAgentsResponse>, Status> {
        let filter = state_from(request.into_inner().state)?;
        let agents = self
            .app
            .router
            .acd()
            .agents()
            .iter()
            .map(|a| convert::agent_to(a, self.app.figures(&a.profile.id)))
            .filter(|a| filter == pb::AgentState::Unspecified || a.state == i32::from(filter))
            .collect();
        Ok(Response::new(pb::ListAgentsResponse { agents }))
    }
}
