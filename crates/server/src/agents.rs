//! `switchboard.v1.Agents`: the agent desktop's service. The ACD that holds agents is the
//! next piece of work; until it lands every RPC says so with UNIMPLEMENTED.

use switchboard_proto::v1::{self as pb, agents_server::Agents};
use tonic::{Request, Response, Status};

use crate::error::ApiError;

#[derive(Debug, Clone, Default)]
pub(crate) struct AgentsService;

const NOT_YET: &str = "agents are held by the ACD, which is not built yet";

#[tonic::async_trait]
impl Agents for AgentsService {
    async fn set_agent_state(
        &self,
        _: Request<pb::SetAgentStateRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        Err(ApiError::Unimplemented("Agents.SetAgentState", NOT_YET).into())
    }

    async fn get_agent(
        &self,
        _: Request<pb::GetAgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        Err(ApiError::Unimplemented("Agents.GetAgent", NOT_YET).into())
    }

    async fn list_agents(
        &self,
        _: Request<pb::ListAgentsRequest>,
    ) -> Result<Response<pb::ListAgentsResponse>, Status> {
        Err(ApiError::Unimplemented("Agents.ListAgents", NOT_YET).into())
    }
}
