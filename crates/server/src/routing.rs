//! `switchboard.v1.Routing`: the switch's service.

use std::pin::Pin;

use switchboard_core::router::{CallRequest, Input, MAX_CALL_ID};
use switchboard_proto::v1::{self as pb, routing_server::Routing};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::{App, convert, error::ApiError};

#[derive(Debug, Clone)]
pub(crate) struct RoutingService {
    pub app: App,
}

type AssignmentStream = Pin<Box<dyn Stream<Item = Result<pb::Assignment, Status>> + Send>>;

#[tonic::async_trait]
impl Routing for RoutingService {
    async fn route_call(
        &self,
        request: Request<pb::RouteCallRequest>,
    ) -> Result<Response<pb::Decision>, Status> {
        let req = request.into_inner();
        let channel = convert::channel(req.channel)?;
        if req.switch_id.len() > MAX_CALL_ID {
            return Err(ApiError::invalid("switch_id", "longer than 128 characters").into());
        }
        let call = CallRequest {
            call_id: &req.call_id,
            caller: &req.caller,
            dialed: &req.dialed,
            channel,
            switch_id: &req.switch_id,
        };
        let routed = self
            .app
            .router
            .route(&call, self.app.clock.now())
            .map_err(|e| ApiError::route(&req.call_id, e))?;
        tracing::debug!(
            call_id = %req.call_id,
            replayed = routed.replayed,
            reason = %switchboard_core::router::describe_reason(&routed.plan, routed.decision.reason),
            "routed call"
        );
        Ok(Response::new(convert::decision(
            &routed.plan,
            &req.call_id,
            &routed.decision,
        )))
    }

    async fn submit_input(
        &self,
        request: Request<pb::SubmitInputRequest>,
    ) -> Result<Response<pb::Decision>, Status> {
        let req = request.into_inner();
        let input = match &req.input {
            Some(pb::submit_input_request::Input::Digits(d)) => Input::Digits(d),
            Some(pb::submit_input_request::Input::Intent(i)) => Input::Intent(i),
            None => return Err(ApiError::invalid("input", "set digits or intent").into()),
        };
        let routed = self
            .app
            .router
            .submit_input(&req.call_id, input, self.app.clock.now())
            .map_err(|e| ApiError::route(&req.call_id, e))?;
        Ok(Response::new(convert::decision(
            &routed.plan,
            &req.call_id,
            &routed.decision,
        )))
    }

    async fn report_call_event(
        &self,
        _: Request<pb::CallEvent>,
    ) -> Result<Response<pb::CallEventAck>, Status> {
        Err(
            ApiError::Unimplemented("Routing.ReportCallEvent", "call events arrive with the ACD")
                .into(),
        )
    }

    type WatchAssignmentsStream = AssignmentStream;

    async fn watch_assignments(
        &self,
        _: Request<pb::WatchAssignmentsRequest>,
    ) -> Result<Response<Self::WatchAssignmentsStream>, Status> {
        Err(ApiError::Unimplemented(
            "Routing.WatchAssignments",
            "assignments arrive with the ACD",
        )
        .into())
    }
}
