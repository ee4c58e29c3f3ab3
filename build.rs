//! Generates the tfplugin6 and go-plugin controller servers from `proto/`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    tonic_prost_build::configure()
        .build_client(false)
        .compile_protos(
            &["proto/tfplugin6.proto", "proto/grpc_controller.proto"],
            &["proto"],
        )?;
    Ok(())
}
