//! The generated `switchboard.v1` gRPC API: messages, server traits and clients for the
//! `Routing`, `Agents` and `Admin` services, plus the encoded file descriptor set that
//! server reflection serves.
//!
//! Layout:
//! - `v1`: everything generated from `proto/switchboard/v1/*.proto`.
//! - [`FILE_DESCRIPTOR_SET`]: the compiled descriptors of those files.

/// Generated code for `package switchboard.v1`.
#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic
)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/switchboard.v1.rs"));
}

/// Encoded `FileDescriptorSet` of the API, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/switchboard_descriptor.bin"));
