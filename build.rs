//! Compiles `proto/` into Rust with tonic's builder. protox is a pure-Rust
//! protobuf compiler, so a fresh machine needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/flowctl/control_plane.proto",
        "proto/flowctl/source.proto",
        "proto/stellarflow/v1/control_plane.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
