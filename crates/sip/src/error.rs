//! What can be wrong with a SIP message.

/// A message the parser refused. Every text it carries is cut short, so an error never
/// repeats more than a few dozen bytes of what a peer sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message of {len} bytes is over the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("message ends before its blank line (the end of its headers)")]
    NoHeaderEnd,
    #[error("message headers are not UTF-8")]
    NotUtf8,
    #[error("bad start line {line:?}")]
    BadStartLine { line: String },
    #[error("unsupported version {version:?} (SIP/2.0 only)")]
    Version { version: String },
    #[error("bad header line {line:?}")]
    BadHeader { line: String },
    #[error("more than {limit} header lines")]
    TooManyHeaders { limit: usize },
    #[error("missing {header} header")]
    Missing { header: &'static str },
    #[error("bad {header} header: {why}")]
    BadValue {
        header: &'static str,
        why: &'static str,
    },
    #[error("Content-Length {declared} is over the {available} bytes that follow the headers")]
    Truncated { declared: usize, available: usize },
}

impl ParseError {
    /// The response a request refused this way gets, where one can be sent: 505 for a
    /// version other than SIP/2.0, 513 for a message over the limit, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            ParseError::Version { .. } => 505,
            ParseError::TooLarge { .. } => 513,
            _ => 400,
        }
    }
}

/// At most `MAX_SHOWN` characters of `text`, for an error message.
pub(crate) fn shown(text: &str) -> String {
    const MAX_SHOWN: usize = 48;
    match text.char_indices().nth(MAX_SHOWN) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}
