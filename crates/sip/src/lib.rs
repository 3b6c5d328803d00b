//! Switchboard's SIP front without I/O: a strict, bounded parser of SIP messages, the
//! responses of a redirect server, and its server transactions (retransmitted requests
//! answered with the same bytes, responses retransmitted over UDP until the ACK). The
//! daemon owns the sockets and the routing decision; this crate says what to send.
//!
//! Layout:
//! - [`error`]: what can be wrong with a message.
//! - [`message`]: reading a message, and framing messages on a stream.
//! - [`header`]: header names and the values a redirect server reads.
//! - [`uri`]: the user and host of SIP and tel URIs.
//! - [`response`]: building a response to a request.
//! - [`transaction`]: server transactions and their timers.
//! - [`redirect`]: handling one message as a redirect server.

pub mod error;
pub mod header;
pub mod message;
pub mod redirect;
pub mod response;
pub mod transaction;
pub mod uri;

pub use error::ParseError;
pub use message::{MAX_MESSAGE, Message, Method, Request, frame, parse};
pub use redirect::{Answer, Destination, Handled, Invite, RedirectServer};

#[cfg(test)]
mod tests;
