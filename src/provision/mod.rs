//! Provisioning steps run over the build instance's SSH connection, in order.

mod file;
mod mask;
mod shell;

pub use file::FileStep;
pub use mask::Masker;
pub use shell::ShellStep;

use crate::retry::Cancelled;
use crate::ssh::{SshError, SshSession};
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

/// A provisioning step that failed, with what the user needs to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("exited with status {status}; allowed: {allowed:?}\n--- last output lines ---\n{tail}")]
    ExitStatus {
        status: u32,
        allowed: Vec<u32>,
        tail: String,
    },
    #[error("killed by signal {signal}\n--- last output lines ---\n{tail}")]
    Signal { signal: String, tail: String },
    #[error("timed out after {0}s (the step's timeout); the remote command was ended")]
    TimedOut(u64),
    #[error("cannot read {path}: {source}")]
    Local {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl ProvisionError {
    /// True when the step was stopped, by the bake or by its own timeout,
    /// whichever layer noticed.
    pub fn is_cancelled(&self) -> bool {
        match self {
            ProvisionError::Cancelled(_) => true,
            ProvisionError::Ssh(e) => e.is_cancelled(),
            _ => false,
        }
    }
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

/// A short random suffix for remote temporary names.
fn unique_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}
