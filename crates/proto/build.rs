//! Compiles `proto/switchboard/v1/*.proto` with protox (a protobuf compiler in Rust), so a
//! build needs no system `protoc`.

use std::{env, fs, path::PathBuf};

use prost::Message;

const FILES: &[&str] = &[
    "switchboard/v1/types.proto",
    "switchboard/v1/routing.proto",
    "switchboard/v1/agents.proto",
    "switchboard/v1/floor.proto",
    "switchboard/v1/admin.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let fds = protox::compile(FILES, [&root])?;
    // Server reflection serves this set, so clients such as grpcurl need no .proto files.
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("switchboard_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
