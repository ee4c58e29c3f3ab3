//! Named waiters, terraform-provider-aws style. Per object kind, `status_*`
//! is one look, saying whether the target state is reached (a [`Poll`]), and
//! `wait_*` looks until it is, paced by what earlier waits learned. The
//! lookups they use (`describe_instance`, `describe_image`) are the `find`s.

use super::Ec2;
use super::Ec2Error;
use super::model::{ImageInfo, InstanceInfo};
use super::pace::Pace;
use super::wait::{self, Poll, WaitError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a snapshot may stay "in use" after its image is deregistered.
const SNAPSHOT_RELEASE: Duration = Duration::from_secs(600);

impl Ec2 {
    /// Running is the target; pending or not yet visible (eventual
    /// consistency right after RunInstances) is on the way; else a failure.
    pub async fn status_instance_running(&self, id: &str) -> Result<Poll<InstanceInfo>, WaitError> {
        match self.describe_instance(id).await? {
            Some(i) if i.state == "running" => Ok(Poll::Ready(i)),
            Some(i) if i.state == "pending" => Ok(Poll::Pending(i.state)),
            Some(i) => Err(WaitError::Failed(format!(
                "build instance {id} is {} instead of running{}",
                i.state,
                i.state_reason
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ))),
            None => Ok(Poll::Pending("not visible yet".into())),
        }
    }

    pub async fn wait_instance_running(
        &self,
        id: &str,
        pace: Pace<'_>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<InstanceInfo, WaitError> {
        wait::paced(
            "the build instance to run",
            Some(pace),
            timeout,
            cancel,
            || self.status_instance_running(id),
        )
        .await
    }

    /// Stopped is the target; an instance that vanishes or ends elsewhere fails.
    pub async fn status_instance_stopped(&self, id: &str) -> Result<Poll<()>, WaitError> {
        match self.describe_instance(id).await? {
            Some(i) if i.state == "stopped" => Ok(Poll::Ready(())),
            Some(i) if matches!(i.state.as_str(), "stopping" | "running" | "pending") => {
                Ok(Poll::Pending(i.state))
            }
            Some(i) => Err(WaitError::Failed(format!(
                "build instance {id} is {} instead of stopping",
                i.state
            ))),
            None => Err(WaitError::Failed(format!(
                "build instance {id} disappeared"
            ))),
        }
    }

    pub async fn wait_instance_stopped(
        &self,
        id: &str,
        pace: Pace<'_>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<(), WaitError> {
        wait::paced(
            "the build instance to stop",
            Some(pace),
            timeout,
            cancel,
            || self.status_instance_stopped(id),
        )
        .await
    }

    /// Terminated, or no longer known at all, is the target.
    pub async fn status_instance_terminated(&self, id: &str) -> Result<Poll<()>, WaitError> {
        match self.describe_instance(id).await? {
            Some(i) if i.state != "terminated" => Ok(Poll::Pending(i.state)),
            _ => Ok(Poll::Ready(())),
        }
    }

    /// Waits (up to `limit` each) until the instances are gone; the first
    /// wait is paced. Cleanup work: not cancellable, only bounded.
    pub async fn wait_instances_terminated(
        &self,
        ids: &[String],
        pace: Option<Pace<'_>>,
        limit: Duration,
    ) -> Result<(), WaitError> {
        let never = CancellationToken::new();
        let mut pace = pace;
        for id in ids {
            wait::paced(
                "an instance to terminate",
                pace.take(),
                limit,
                &never,
                || self.status_instance_terminated(id),
            )
            .await?;
        }
        Ok(())
    }

    /// Available is the target; pending or not yet visible is on the way;
    /// failed (or anything else) is a failure, with EC2's reason.
    pub async fn status_image_available(&self, id: &str) -> Result<Poll<ImageInfo>, WaitError> {
        match self.describe_image(id).await? {
            Some(i) if i.state == "available" => Ok(Poll::Ready(i)),
            Some(i) if i.state == "pending" => Ok(Poll::Pending(i.state)),
            Some(i) => Err(WaitError::Failed(format!(
                "image {id} is {}: {}",
                i.state,
                i.state_reason.unwrap_or_default()
            ))),
            None => Ok(Poll::Pending("not visible yet".into())),
        }
    }

    pub async fn wait_image_available(
        &self,
        id: &str,
        pace: Pace<'_>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<ImageInfo, WaitError> {
        wait::paced(
            "the image to become available",
            Some(pace),
            timeout,
            cancel,
            || self.status_image_available(id),
        )
        .await
    }

    /// One attempt to delete the group: EC2's DependencyViolation (a
    /// terminating instance's interface still holds it) means "not yet".
    /// Deleting is the cheapest look at whether it can be deleted.
    pub async fn status_security_group_deleted(&self, id: &str) -> Result<Poll<()>, WaitError> {
        match self.delete_security_group(id).await {
            Ok(()) => Ok(Poll::Ready(())),
            Err(e) if e.has_code("DependencyViolation") => Ok(Poll::Pending(e.message)),
            Err(e) => Err(WaitError::Api(e)),
        }
    }

    /// Deletes the group, waiting (up to `limit`) while something still
    /// uses it. Cleanup work: not cancellable, only bounded.
    pub async fn wait_security_group_deleted(
        &self,
        id: &str,
        pace: Option<Pace<'_>>,
        limit: Duration,
    ) -> Result<(), WaitError> {
        let never = CancellationToken::new();
        wait::paced(
            "a security group to be deletable",
            pace,
            limit,
            &never,
            || self.status_security_group_deleted(id),
        )
        .await
    }

    /// [`Ec2::wait_security_group_deleted`] for a group this bake created a
    /// moment ago: "not found" is taken for EC2's eventual consistency for
    /// `fresh_not_found` before it counts as gone (see `removal`).
    pub async fn wait_new_security_group_deleted(
        &self,
        id: &str,
        pace: Option<Pace<'_>>,
        limit: Duration,
    ) -> Result<(), WaitError> {
        let never = CancellationToken::new();
        let fresh_until = tokio::time::Instant::now() + self.fresh_not_found;
        wait::paced(
            "a security group to be deletable",
            pace,
            limit,
            &never,
            || async move {
                match self.api.delete_security_group(id).await {
                    Ok(()) => Ok(Poll::Ready(())),
                    Err(e) if e.has_code("DependencyViolation") => Ok(Poll::Pending(e.message)),
                    Err(e) if e.is_not_found() && tokio::time::Instant::now() < fresh_until => {
                        Ok(Poll::Pending("not visible yet".into()))
                    }
                    Err(e) if e.is_not_found() => Ok(Poll::Ready(())),
                    Err(e) => Err(WaitError::Api(e)),
                }
            },
        )
        .await
    }

    /// One attempt to delete the snapshot of `image` (being deregistered):
    /// InvalidSnapshot.InUse means "not yet" while only that deregistration
    /// holds it; when another image uses the snapshot, no wait will free it,
    /// and the failure names that image.
    pub async fn status_snapshot_deleted(
        &self,
        id: &str,
        image: &str,
    ) -> Result<Poll<()>, WaitError> {
        match self.delete_snapshot(id).await {
            Ok(()) => Ok(Poll::Ready(())),
            Err(e) if e.has_code("InvalidSnapshot.InUse") => {
                // Only sharpens the error: a failed look keeps the wait going.
                let holders = self.images_using_snapshot(id).await.unwrap_or_else(|e| {
                    tracing::debug!(snapshot = %id, error = %e, "cannot look for images using the snapshot");
                    Vec::new()
                });
                let others: Vec<String> = holders
                    .into_iter()
                    .filter(|i| i.id != image)
                    .map(|i| format!("{} ({})", i.id, i.name))
                    .collect();
                if others.is_empty() {
                    return Ok(Poll::Pending(e.message));
                }
                Err(WaitError::Failed(format!(
                    "snapshot {id} is also used by image {}; image {image} is deregistered, \
                     but its snapshot cannot be deleted while another image uses it. \
                     Deregister that image first, then destroy again.",
                    others.join(", ")
                )))
            }
            Err(e) => Err(WaitError::Api(e)),
        }
    }

    /// Deletes the snapshot of `image`, waiting out EC2's brief hold after
    /// the image's deregistration.
    pub async fn wait_snapshot_deleted(
        &self,
        id: &str,
        image: &str,
        cancel: &CancellationToken,
    ) -> Result<(), WaitError> {
        wait::until(
            &format!("snapshot {id} to be deletable"),
            SNAPSHOT_RELEASE,
            cancel,
            || self.status_snapshot_deleted(id, image),
        )
        .await
    }

    /// Reads the console until `look` finds what it looks for in it. Asks
    /// for the live output (`Latest=true`) first: EC2 posts the buffered
    /// output only shortly after state transitions, minutes late on Xen
    /// types. Those refuse `Latest`, and from the first refusal on the
    /// buffered output is read.
    pub async fn wait_console_output<T>(
        &self,
        id: &str,
        what: &str,
        timeout: Duration,
        cancel: &CancellationToken,
        look: impl Fn(&str) -> Poll<T>,
    ) -> Result<T, WaitError> {
        let look = &look;
        let latest = &std::sync::atomic::AtomicBool::new(true);
        wait::until(what, timeout, cancel, || async move {
            use std::sync::atomic::Ordering::Relaxed;
            let text = match self.console_output(id, latest.load(Relaxed)).await {
                Err(e) if latest.load(Relaxed) && refuses_latest(&e) => {
                    tracing::debug!(instance = %id, error = %e, "no live console output; reading the buffered one");
                    latest.store(false, Relaxed);
                    self.console_output(id, false).await?
                }
                r => r?,
            };
            Ok(look(&text.unwrap_or_default()))
        })
        .await
    }
}

/// EC2's answer to `Latest=true` on an instance type without live console
/// output (Xen): a request error, not a throttle or an outage.
fn refuses_latest(e: &Ec2Error) -> bool {
    e.code
        .as_deref()
        .is_some_and(|c| c.starts_with("Unsupported") || c.starts_with("InvalidParameter"))
}
