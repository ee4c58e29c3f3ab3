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

/// What a configured provider holds: the shared EC2, STS and SSM clients and settings.
pub struct Configured {
    pub ec2: crate::ec2::Ec2,
    pub sts: Arc<dyn crate::sts::StsApi>,
    /// SSM in the provider's region; [`Configured::ssm_in`] for another.
    pub ssm: crate::ssm::Ssm,
    /// `channel_path_prefix`: where channels' parameters live.
    pub channel_path_prefix: String,
    pub accounts: super::accounts::AccountRule,
    /// Set once the account guard passed: STS is asked once per provider.
    pub account_checked: tokio::sync::OnceCell<()>,
    pub tags: super::tag_policy::TagPolicy,
    pub public_ip_url: String,
}

impl Configured {
    /// EC2 in another region of the same account, with the provider's
    /// credentials and endpoint settings (one client per region, cached).
    pub fn ec2_in(&self, region: &str) -> crate::ec2::Ec2 {
        self.ec2.in_region(region)
    }

    /// The account guard, run before the first AWS call that reads or makes
    /// anything; a refusal is asked again (it costs one call, and the
    /// credentials may change).
    pub async fn check_account(&self) -> Result<(), Diagnostic> {
        self.account_checked
            .get_or_try_init(|| self.accounts.check(self.sts.as_ref()))
            .await
            .map(|_| ())
    }

    /// SSM in `region`, with the provider's credentials and endpoint.
    pub fn ssm_in(&self, region: &str) -> Result<crate::ssm::Ssm, Diagnostic> {
        self.ssm
            .in_region(region)
            .map_err(|e| Diagnostic::error(format!("Cannot reach SSM in {region}"), e.to_string()))
    }
}
