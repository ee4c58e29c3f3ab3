//! Why a provisioning step failed.

use crate::retry::Cancelled;
use crate::ssh::SshError;

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
