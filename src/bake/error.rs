//! Why a bake step failed.

use crate::ec2::Ec2Error;
use crate::ec2::images::FindError;
use crate::ec2::wait::WaitError;
use crate::provision::ProvisionError;
use crate::retry::Cancelled;
use crate::ssh::SshError;

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum BakeError {
    #[error(transparent)]
    Ec2(#[from] Ec2Error),
    #[error(transparent)]
    Find(#[from] FindError),
    #[error(transparent)]
    Wait(#[from] WaitError),
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("provision[{index}] ({kind}) failed: {source}")]
    Provision {
        index: usize,
        kind: &'static str,
        #[source]
        source: ProvisionError,
    },
    #[error("cannot generate the temporary SSH key: {0}")]
    Key(String),
    /// The input cannot be baked (a source AMI that is not there, a host
    /// key that does not parse, no address of the asked kind).
    #[error("{0}")]
    Invalid(String),
    /// The copy of the image to another region was refused or failed.
    #[error("copy to {region} failed: {message}")]
    Copy { region: String, message: String },
    /// A step ran without what an earlier step must have provided: a bug.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("cleanup did not finish within {0}s")]
    CleanupTimedOut(u64),
    /// Every spot launch was refused for want of capacity (or price) and
    /// falling back to on demand was not asked for.
    #[error(
        "no spot capacity for {types} (last answer: {source}); nothing was launched. \
         Retry later, add instance types, or allow an on-demand build instance (spot_fallback_on_demand)"
    )]
    NoSpotCapacity {
        types: String,
        #[source]
        source: Ec2Error,
    },
    #[error("cancelled (Terraform asked the provider to stop)")]
    Cancelled(#[from] Cancelled),
    #[error("timed out: the create timeout ({0}s) passed")]
    TimedOut(u64),
}

impl BakeError {
    /// True when the bake's cancellation stopped the step, whichever layer
    /// (a wait, SSH, a provisioner) noticed it first.
    pub fn is_cancelled(&self) -> bool {
        match self {
            BakeError::Cancelled(_) => true,
            BakeError::Wait(e) => e.is_cancelled(),
            BakeError::Ssh(e) => e.is_cancelled(),
            BakeError::Provision { source, .. } => source.is_cancelled(),
            _ => false,
        }
    }
}
