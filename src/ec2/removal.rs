//! Removing what a bake made, in the order EC2 allows: instances before the
//! group they hold, images before their snapshots. Shared by the steps'
//! cleanups, the leftover sweep and `terraform destroy`.

use super::Ec2;
use super::wait::WaitError;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl Ec2 {
    /// Asks EC2 to terminate the instances, without waiting.
    pub async fn terminate_instances(&self, ids: &[String]) -> Result<(), WaitError> {
        for id in ids {
            self.terminate_instance(id).await?;
        }
        Ok(())
    }

    /// Terminates the instances and waits (up to `limit`) until all are gone.
    /// Cleanup work: not cancellable, only bounded.
    pub async fn terminate_all(&self, ids: &[String], limit: Duration) -> Result<(), WaitError> {
        self.terminate_instances(ids).await?;
        self.wait_instances_terminated(ids, None, limit).await
    }

    /// Deregisters an image and deletes every snapshot it had, waiting out
    /// EC2's brief "still in use" after a deregistration; a snapshot another
    /// image uses fails at once, naming that image.
    pub async fn delete_image_and_snapshots(
        &self,
        id: &str,
        known_snapshots: &[String],
        cancel: &CancellationToken,
    ) -> Result<(), WaitError> {
        let mut snapshots = known_snapshots.to_vec();
        if let Some(img) = self.describe_image(id).await? {
            for s in img.snapshot_ids {
                if !snapshots.contains(&s) {
                    snapshots.push(s);
                }
            }
        }
        self.deregister_image(id).await?;
        for s in &snapshots {
            self.wait_snapshot_deleted(s, id, cancel).await?;
        }
        Ok(())
    }
}
