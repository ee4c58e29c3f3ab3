//! Resolves where the build instance runs and which of the user's groups
//! guard it (`ec2::placement`): the plan checked the same, but filters are
//! asked again, as the account may have changed since.

use super::{Step, StepFuture};
use crate::bake::{BakeContext, BakeError};
use crate::ec2::placement::NetworkError;

pub struct Network;

impl Step for Network {
    fn name(&self) -> &'static str {
        "network"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            let chosen = cx
                .cancellable(async {
                    cx.ec2
                        .choose_network(&cx.spec.network)
                        .await
                        .map_err(|e| match e {
                            NetworkError::Ec2(e) => BakeError::Ec2(e),
                            choice => BakeError::Invalid(choice.to_string()),
                        })
                })
                .await?;
            if !chosen.security_group_ids.is_empty() {
                tracing::info!(groups = ?chosen.security_group_ids, "the user's security groups; no temporary group");
            }
            cx.network = chosen;
            Ok(())
        })
    }
}
