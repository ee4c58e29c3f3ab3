//! Provisioning steps run over the build instance's SSH connection, in order.

mod error;
mod file;
mod mask;
mod shell;

pub use error::ProvisionError;
pub use file::FileStep;
pub use mask::Masker;
pub use shell::ShellStep;

use crate::retry::Cancelled;
use crate::ssh::SshSession;
use tokio_util::sync::CancellationToken;

/// One `provision` block.
#[derive(Debug, Clone)]
pub enum ProvisionStep {
    Shell(ShellStep),
    File(FileStep),
}

impl ProvisionStep {
    /// True for a step after which the instance is expected to drop the
    /// connection (a reboot): the next step reconnects.
    pub fn expects_disconnect(&self) -> bool {
        matches!(self, ProvisionStep::Shell(s) if s.expect_disconnect)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ProvisionStep::Shell(_) => "shell",
            ProvisionStep::File(_) => "file",
        }
    }
}

/// A masker for the environment values of every shell step of a bake.
pub fn masker_for(steps: &[ProvisionStep]) -> Masker {
    Masker::new(steps.iter().flat_map(|s| match s {
        ProvisionStep::Shell(s) => s.environment.values().map(String::as_str).collect(),
        ProvisionStep::File(_) => Vec::new(),
    }))
}

/// Runs one step; `index` is its position among the `provision` blocks.
/// `masker` hides the environment values of every step of the bake in what
/// the step logs and reports.
pub async fn run(
    step: &ProvisionStep,
    index: usize,
    ssh: &SshSession,
    masker: &Masker,
    cancel: &CancellationToken,
) -> Result<(), ProvisionError> {
    tracing::info!(step = index, kind = step.kind(), "provisioning");
    match step {
        ProvisionStep::Shell(s) => s.run(index, ssh, masker, cancel).await,
        ProvisionStep::File(f) => tokio::select! {
            _ = cancel.cancelled() => Err(Cancelled.into()),
            r = f.run(ssh) => r,
        },
    }
}
