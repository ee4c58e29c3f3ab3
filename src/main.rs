//! terraform-provider-golden: a Terraform provider that bakes AWS golden images.

mod aws;
mod bake;
mod choices;
mod convert;
mod ec2;
mod logging;
mod plugin;
mod protocol;
mod provider;
mod provision;
mod public_ip;
mod retry;
mod ssh;
mod ssm;
mod sts;

use std::process::ExitCode;
use std::sync::Arc;

/// The plugin protocol this binary serves (tfplugin6), as the Registry's
/// manifest states it.
const PROTOCOL_VERSION: &str = "6.0";

/// The release this binary is: `GOLDEN_VERSION` at build time (scripts/release.sh sets it, so a
/// release needs no edit of Cargo.toml), else the crate's version.
const VERSION: &str = match option_env!("GOLDEN_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!(
            "terraform-provider-golden {VERSION} (Terraform plugin protocol {PROTOCOL_VERSION})"
        );
        return ExitCode::SUCCESS;
    }
    // A command of its own; without one the binary is the plugin Terraform starts.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("convert") {
        return convert::main(&args[2..]);
    }
    let _log_guard = logging::init();
    if let Err(e) = plugin::handshake::check_env() {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    // Blocking work (file reads, hashing, RSA key generation) is short; a few
    // threads serve fifty bakes, and each extra thread would bring its own
    // malloc arena and stack to the provider's memory.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        ignore_sigint();
        plugin::serve(Arc::new(provider::Provider::new())).await
    });
    // Bakes still cleaning up get a moment; the controller already cancelled them.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// A terminal Ctrl-C reaches the whole process group. Terraform answers it
/// with StopProvider, which cancels bakes cleanly; dying here instead would
/// lose the state of everything a create had made.
fn ignore_sigint() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::interrupt()) {
        Ok(mut s) => {
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    tracing::debug!("SIGINT ignored; waiting for Terraform's StopProvider");
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot install the SIGINT handler"),
    }
}
