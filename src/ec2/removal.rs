//! Removing what a bake made, in the order EC2 allows: instances before the
//! group they hold, images before their snapshots. Shared by the steps'
//! cleanups, the leftover sweep and `terraform destroy`.

use super::Ec2;
use super::error::Ec2Error;
use super::wait::WaitError;
use crate::retry::{Backoff, sleep_or_cancel};
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// EC2 is eventually consistent: an object created a moment ago may be
/// "not found" by the next call for a few seconds (DeregisterImage right
/// after CreateImage, TerminateInstances right after RunInstances). For
/// what a bake created itself, a not-found is retried this long before it
/// counts as gone; what the leftover sweep found by a describe was visible,
/// so its not-found means gone at once.
pub const FRESH_NOT_FOUND: Duration = Duration::from_secs(30);

impl Ec2 {
    /// Runs `call` (one removal of something this bake created) until it
    /// succeeds, fails otherwise than "not found", or has answered "not
    /// found" for `fresh_not_found` (then it counts as gone), backing off
    /// between tries; `cancel` ends the retrying early, also as gone.
    async fn remove_fresh<F, Fut>(
        &self,
        what: &str,
        cancel: &CancellationToken,
        call: F,
    ) -> Result<(), Ec2Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), Ec2Error>>,
    {
        let deadline = tokio::time::Instant::now() + self.fresh_not_found;
        let mut backoff = Backoff::default();
        loop {
            match call().await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_not_found() => {
                    let delay = backoff.next_delay();
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() || sleep_or_cancel(delay.min(left), cancel).await.is_err() {
                        tracing::info!(%what, "still not found; taken as already gone");
                        return Ok(());
                    }
                    tracing::debug!(%what, error = %e, "not found right after its creation; retrying");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Terminates instances this bake launched (see [`FRESH_NOT_FOUND`]).
    pub async fn terminate_new_instances(
        &self,
        ids: &[String],
        cancel: &CancellationToken,
    ) -> Result<(), Ec2Error> {
        for id in ids {
            self.remove_fresh(id, cancel, || self.api.terminate_instance(id))
                .await?;
        }
        Ok(())
    }

    /// Deregisters an image this bake created (see [`FRESH_NOT_FOUND`]).
    pub async fn deregister_new_image(
        &self,
        id: &str,
        cancel: &CancellationToken,
    ) -> Result<(), Ec2Error> {
        self.remove_fresh(id, cancel, || self.api.deregister_image(id))
            .await
    }

    /// Deletes a key pair this bake imported (see [`FRESH_NOT_FOUND`]).
    pub async fn delete_new_key_pair(
        &self,
        name: &str,
        cancel: &CancellationToken,
    ) -> Result<(), Ec2Error> {
        self.remove_fresh(name, cancel, || self.api.delete_key_pair(name))
            .await
    }

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
        self.remove_image(id, known_snapshots, cancel, false).await
    }

    /// [`Ec2::delete_image_and_snapshots`] for an image this bake created a
    /// moment ago: its deregistration retries a not-found (see [`FRESH_NOT_FOUND`]).
    pub async fn delete_new_image_and_snapshots(
        &self,
        id: &str,
        known_snapshots: &[String],
        cancel: &CancellationToken,
    ) -> Result<(), WaitError> {
        self.remove_image(id, known_snapshots, cancel, true).await
    }

    async fn remove_image(
        &self,
        id: &str,
        known_snapshots: &[String],
        cancel: &CancellationToken,
        fresh: bool,
    ) -> Result<(), WaitError> {
        let seen = self.describe_image(id).await?;
        // This bake's own image, protected by its last step, is being
        // given up (Terraform went away): lift the protection first.
        if fresh
            && seen.as_ref().is_some_and(|img| {
                img.deregistration_protection
                    .as_deref()
                    .is_some_and(|p| p.starts_with("enabled"))
            })
        {
            self.set_deregistration_protection(id, None).await?;
        }
        self.remove_seen_image(id, seen.as_ref(), known_snapshots, cancel, fresh)
            .await
    }

    /// Removes an image already described (`seen`; None: EC2 no longer
    /// lists it) with its snapshots, known ones and those `seen` names.
    pub async fn remove_seen_image(
        &self,
        id: &str,
        seen: Option<&super::model::ImageInfo>,
        known_snapshots: &[String],
        cancel: &CancellationToken,
        fresh: bool,
    ) -> Result<(), WaitError> {
        let mut snapshots = known_snapshots.to_vec();
        for s in seen.iter().flat_map(|img| &img.snapshot_ids) {
            if !snapshots.contains(s) {
                snapshots.push(s.clone());
            }
        }
        if fresh {
            self.deregister_new_image(id, cancel).await?;
        } else {
            self.deregister_image(id).await?;
        }
        for s in &snapshots {
            self.wait_snapshot_deleted(s, id, cancel).await?;
        }
        Ok(())
    }
}
