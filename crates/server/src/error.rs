//! Every failure a client can see, and the one place that turns it into a gRPC status.

pub(crate) use switchboard_core::text::shown;
use switchboard_core::{acd::AcdError, customer::DirectoryError, router::RouteError};
use tonic::{Code, Status};

/// The longest status message sent: standard clients refuse metadata past 16 KiB (and
/// would report RESOURCE_EXHAUSTED instead of the real error), and no message of ours
/// needs more. Echoed values are cut far shorter ([`shown`]); this is the last guard.
pub const MAX_STATUS_MESSAGE: usize = 1_000;

/// What went wrong with a request, in the API's terms.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {problem}")]
    InvalidArgument { field: String, problem: String },
    #[error("call_id: unknown call {}", shown(call_id))]
    UnknownCall { call_id: String },
    #[error("call {} is not at a menu", shown(call_id))]
    NotAtMenu { call_id: String },
    #[error("call {} is not waiting: an agent has it already", shown(call_id))]
    NotWaiting { call_id: String },
    #[error("call {} is over: the caller hung up at a menu", shown(call_id))]
    HungUp { call_id: String },
    #[error("{what} {} not found", shown(key))]
    NotFound { what: &'static str, key: String },
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("agent {}: {error}", shown(agent_id))]
    Agent { agent_id: String, error: AcdError },
    #[error(
        "agent {} is logged in: log out first to change skills, endpoint, tags or capacity",
        shown(agent_id)
    )]
    AlreadyLoggedIn { agent_id: String },
    #[error("call {}: {error}", shown(call_id))]
    Call { call_id: String, error: AcdError },
    #[error(
        "the server runs on the embedded default config, which cannot change: start it with --config FILE|DIR to reload"
    )]
    NoConfigFile,
    #[error("{0}")]
    Unavailable(String),
    /// What the caller's identity is not bound to.
    #[error("{what} {} is not bound to {identity}", shown(key))]
    NotBound {
        what: &'static str,
        key: String,
        identity: String,
    },
    #[error(
        "call_id {} is in use by another switch: call ids must be unique",
        shown(call_id)
    )]
    CallIdTaken { call_id: String },
    #[error(
        "switch {} is watched by {holder}: only the identity that holds a stream may replace it",
        shown(switch_id)
    )]
    StreamHeld { switch_id: String, holder: String },
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

/// Rejected requests logged per second at most; past that they are counted, and the
/// count is logged with the next line, so a flood of bad requests cannot fill a disk.
const LOGGED_PER_SECOND: u64 = 10;

/// Logs a rejected request at info, within [`LOGGED_PER_SECOND`]. The handlers of calls
/// run in a span carrying the call id, so the line carries it too.
fn log_rejected(code: Code, message: &str) {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static SECOND: AtomicU64 = AtomicU64::new(0);
    static LOGGED: AtomicU64 = AtomicU64::new(0);
    static UNLOGGED: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if SECOND.swap(now, Relaxed) != now {
        LOGGED.store(0, Relaxed);
    }
    if LOGGED.fetch_add(1, Relaxed) >= LOGGED_PER_SECOND {
        UNLOGGED.fetch_add(1, Relaxed);
        return;
    }
    let unlogged = UNLOGGED.swap(0, Relaxed);
    tracing::info!(code = ?code, rejected_unlogged = unlogged, "request rejected: {message}");
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let code = match &e {
            ApiError::InvalidArgument { .. } => Code::InvalidArgument,
            ApiError::UnknownCall { .. } | ApiError::NotFound { .. } => Code::NotFound,
            ApiError::NotAtMenu { .. } | ApiError::NotWaiting { .. } | ApiError::HungUp { .. } => {
                Code::FailedPrecondition
            }
            ApiError::Directory(
                DirectoryError::NumberTaken { .. } | DirectoryError::AddressTaken { .. },
            ) => Code::FailedPrecondition,
            ApiError::Agent { error, .. } | ApiError::Call { error, .. } => match error {
                AcdError::UnknownAgent | AcdError::UnknownQueue => Code::NotFound,
                AcdError::IllegalTransition { .. }
                | AcdError::NotHolding
                | AcdError::CallConnected
                | AcdError::AlreadyWaiting
                | AcdError::NotWaiting
                | AcdError::QueuesMoved => Code::FailedPrecondition,
            },
            ApiError::AlreadyLoggedIn { .. } | ApiError::NoConfigFile => Code::FailedPrecondition,
            ApiError::Unavailable(_) => Code::Unavailable,
            ApiError::NotBound { .. } => Code::PermissionDenied,
            ApiError::CallIdTaken { .. } | ApiError::StreamHeld { .. } => Code::AlreadyExists,
        };
        let message = bounded(e.to_string());
        if code != Code::Unavailable {
            log_rejected(code, &message);
        }
        Status::new(code, message)
    }
}

/// `message` cut to [`MAX_STATUS_MESSAGE`] bytes, at a character boundary.
fn bounded(mut message: String) -> String {
    if message.len() > MAX_STATUS_MESSAGE {
        let mut cut = MAX_STATUS_MESSAGE - '…'.len_utf8();
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}
