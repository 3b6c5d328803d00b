//! Every failure a client can see, and the one place that turns it into a gRPC status.

use switchboard_core::{acd::AcdError, customer::DirectoryError, router::RouteError};
use tonic::{Code, Status};

/// What went wrong with a request, in the API's terms.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {problem}")]
    InvalidArgument { field: String, problem: String },
    #[error("call_id: unknown call {call_id:?}")]
    UnknownCall { call_id: String },
    #[error("call {call_id:?} is not at a menu")]
    NotAtMenu { call_id: String },
    #[error("call {call_id:?} is not waiting: an agent has it already")]
    NotWaiting { call_id: String },
    #[error("{what} {key:?} not found")]
    NotFound { what: &'static str, key: String },
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("agent {agent_id:?}: {error}")]
    Agent { agent_id: String, error: AcdError },
    #[error(
        "agent {agent_id:?} is logged in: log out first to change skills, endpoint, tags or capacity"
    )]
    AlreadyLoggedIn { agent_id: String },
    #[error("call {call_id:?}: {error}")]
    Call { call_id: String, error: AcdError },
    #[error(
        "the server runs on the embedded default config, which cannot change: start it with --config FILE|DIR to reload"
    )]
    NoConfigFile,
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ApiError::InvalidArgument {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// A router refusal, with the call it concerns.
    pub fn route(call_id: &str, e: RouteError) -> Self {
        match e {
            RouteError::InvalidField { field, problem } => ApiError::invalid(field, problem),
            RouteError::UnknownCall => ApiError::UnknownCall {
                call_id: call_id.to_owned(),
            },
            RouteError::NotAtMenu => ApiError::NotAtMenu {
                call_id: call_id.to_owned(),
            },
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let code = match &e {
            ApiError::InvalidArgument { .. } => Code::InvalidArgument,
            ApiError::UnknownCall { .. } | ApiError::NotFound { .. } => Code::NotFound,
            ApiError::NotAtMenu { .. } | ApiError::NotWaiting { .. } => Code::FailedPrecondition,
            ApiError::Directory(DirectoryError::NumberTaken { .. }) => Code::FailedPrecondition,
            ApiError::Agent { error, .. } | ApiError::Call { error, .. } => match error {
                AcdError::UnknownAgent | AcdError::UnknownQueue => Code::NotFound,
                AcdError::IllegalTransition { .. }
                | AcdError::NotHolding
                | AcdError::CallConnected
                | AcdError::AlreadyWaiting
                | AcdError::QueuesMoved => Code::FailedPrecondition,
            },
            ApiError::AlreadyLoggedIn { .. } | ApiError::NoConfigFile => Code::FailedPrecondition,
            ApiError::Unavailable(_) => Code::Unavailable,
        };
        Status::new(code, e.to_string())
    }
}
