//! What the provider's operations take and give back.

use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The outcome of a plan.
pub struct PlanOutcome {
    pub planned: Value,
    pub requires_replace: Vec<AttrPath>,
    pub private: Vec<u8>,
    pub diags: Diagnostics,
}

/// New state (or null), private data, diagnostics.
pub struct StateOutcome {
    pub state: Value,
    pub private: Vec<u8>,
    pub diags: Diagnostics,
}

impl StateOutcome {
    pub(crate) fn err(state: Value, d: Diagnostic) -> StateOutcome {
        StateOutcome {
            state,
            private: vec![],
            diags: d.into(),
        }
    }
}

/// What an apply needs to know of the provider's own life.
pub struct Lifecycle<'a> {
    pub stop: &'a CancellationToken,
    pub tasks: &'a TaskTracker,
    pub abandoned: &'a Arc<std::sync::atomic::AtomicBool>,
}

/// What a configured provider holds: the shared EC2 client and settings.
pub struct Configured {
    pub ec2: crate::ec2::Ec2,
    pub public_ip_url: String,
}
