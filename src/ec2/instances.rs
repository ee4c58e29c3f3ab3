//! The build instance: launch, look, stop, terminate.

use super::Ec2;
use super::error::{Ec2Error, absent_is_none, gone_is_ok};
use super::model;

pub use super::model::{InstanceInfo, LaunchSpec};

impl Ec2 {
    pub async fn run_instance(&self, s: &LaunchSpec) -> Result<String, Ec2Error> {
        self.api.run_instance(s).await
    }

    /// The instance, or None when EC2 does not (yet, or any more) know it.
    pub async fn describe_instance(&self, id: &str) -> Result<Option<InstanceInfo>, Ec2Error> {
        absent_is_none(self.api.describe_instance(id).await)
    }

    /// Instances carrying the tag that are not terminated.
    pub async fn instances_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, Ec2Error> {
        let found = self
            .api
            .describe_instances(&model::tag_filter(key, value))
            .await?;
        Ok(found
            .into_iter()
            .filter(|i| i.state != "terminated" && model::tagged_exactly(&i.tags, key, value))
            .map(|i| i.id)
            .collect())
    }

    /// The instance's console output, decoded; None before it has any.
    /// With `latest`, the live output (Nitro instance types only).
    pub async fn console_output(&self, id: &str, latest: bool) -> Result<Option<String>, Ec2Error> {
        self.api.console_output(id, latest).await
    }

    pub async fn stop_instance(&self, id: &str) -> Result<(), Ec2Error> {
        self.api.stop_instance(id).await
    }

    /// Terminates; already gone is success.
    pub async fn terminate_instance(&self, id: &str) -> Result<(), Ec2Error> {
        gone_is_ok(self.api.terminate_instance(id).await)
    }
}
