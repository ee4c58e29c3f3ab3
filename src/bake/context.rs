//! The typed journal of a bake: what exists so far, so each step's cleanup
//! knows exactly what to remove.

use super::error::BakeError;
use super::spec::BakeSpec;
use crate::ec2::Ec2;
use crate::ec2::images::ImageInfo;
use crate::ec2::instances::InstanceInfo;
use crate::retry::Cancelled;
use crate::ssh::keys::PrivateKey;
use crate::ssh::{HostKeyPolicy, SshSession};
use std::future::Future;
use tokio_util::sync::CancellationToken;

pub struct BakeContext<'a> {
    pub spec: &'a BakeSpec,
    pub ec2: &'a Ec2,
    /// Fires on StopProvider or when the create timeout passes.
    pub cancel: CancellationToken,
    pub source: Option<ImageInfo>,
    pub key: Option<PrivateKey>,
    /// The temporary key pair, deleted at cleanup.
    pub key_pair_name: Option<String>,
    /// The key pair the instance is launched with (temporary or the user's).
    pub launch_key_name: Option<String>,
    /// The temporary security group, deleted at cleanup.
    pub security_group_id: Option<String>,
    /// The subnet and the user's own groups (never deleted), as resolved.
    pub network: crate::ec2::model::Network,
    pub instance: Option<InstanceInfo>,
    /// The host key made for the build instance (`host_key_check =
    /// "generated"`): handed to cloud-init in the user data, pinned at
    /// connect, removed from the instance before the image is made.
    pub build_host_key: Option<PrivateKey>,
    pub host_key: HostKeyPolicy,
    pub ssh: Option<SshSession>,
    /// Where and as whom we logged in, to reconnect after a reboot step.
    pub ssh_target: Option<crate::ssh::SshTarget>,
    pub image_id: Option<String>,
    pub image: Option<ImageInfo>,
    /// Set once the image is available: from then on it is the user's, not a leftover.
    pub image_kept: bool,
    /// Instances told to terminate whose end the group's deletion waits for.
    pub terminating: Vec<String>,
    /// The build instance, told to terminate by the release that runs before
    /// the cleanups (`release`); its cleanup only waits for its end.
    pub released_instance: Option<String>,
    /// An unfinished image the release deregistered, with its snapshots,
    /// which its cleanup deletes once EC2 lets go of them.
    pub released_image: Option<(String, Vec<String>)>,
    /// The image's copies in other regions, each recorded the moment
    /// CopyImage answered (the snapshots once it is available).
    pub copies: Vec<Copy>,
    /// When what this bake makes may be removed by any provider run
    /// (`golden:expires-at`): its start plus its create and delete timeouts.
    pub expires_at: String,
    /// The spot request of a spot build instance, cancelled at cleanup.
    pub spot_request_id: Option<String>,
}

/// A copy of the image in another region.
#[derive(Debug, Clone)]
pub struct Copy {
    pub region: String,
    pub id: String,
    /// Set once the copy is available.
    pub image: Option<ImageInfo>,
}

impl<'a> BakeContext<'a> {
    pub fn new(spec: &'a BakeSpec, ec2: &'a Ec2, cancel: CancellationToken) -> Self {
        BakeContext {
            spec,
            ec2,
            cancel,
            source: None,
            key: None,
            key_pair_name: None,
            launch_key_name: None,
            security_group_id: None,
            network: Default::default(),
            instance: None,
            build_host_key: None,
            host_key: HostKeyPolicy::default(),
            ssh: None,
            ssh_target: None,
            image_id: None,
            image: None,
            image_kept: false,
            terminating: Vec::new(),
            released_instance: None,
            released_image: None,
            copies: Vec::new(),
            expires_at: crate::ec2::expiry::expires_at(
                std::time::SystemTime::now(),
                spec.create_timeout + spec.delete_timeout,
            ),
            spot_request_id: None,
        }
    }

    /// The pacer's name for one of this build instance's transitions.
    pub fn pace(&self, transition: &str) -> crate::ec2::pace::Pace<'a> {
        let ec2 = self.ec2;
        ec2.pacer
            .pace(&ec2.region, &self.spec.instance_type, transition)
    }

    /// Runs `fut` unless the bake is cancelled first.
    pub async fn cancellable<T, E: Into<BakeError>>(
        &self,
        fut: impl Future<Output = Result<T, E>>,
    ) -> Result<T, BakeError> {
        tokio::select! {
            _ = self.cancel.cancelled() => Err(Cancelled.into()),
            r = fut => r.map_err(Into::into),
        }
    }

    /// Reconnects when there is no open session: after a reboot step, or a
    /// connection that dropped between steps. The host key policy is the
    /// bake's: after a reboot the instance must present the same key.
    pub async fn ensure_connected(&mut self) -> Result<(), BakeError> {
        if self.ssh.as_ref().is_some_and(|s| s.is_open()) {
            return Ok(());
        }
        let target = self
            .ssh_target
            .clone()
            .ok_or_else(|| BakeError::Internal("never connected".into()))?;
        if let Some(old) = self.ssh.take() {
            old.close().await;
        }
        tracing::info!("reconnecting to the build instance");
        self.ssh = Some(SshSession::connect(&target, &self.host_key, &self.cancel).await?);
        Ok(())
    }

    /// Fails with `Cancelled` once the bake is cancelled. Calls that create
    /// something are awaited to the end and followed by this check, never
    /// raced against cancellation: a create that completes unobserved leaks.
    pub fn check_cancel(&self) -> Result<(), BakeError> {
        Ok(crate::retry::check(&self.cancel)?)
    }

    /// Tags for temporary resources: the user's run tags plus the build id
    /// and the expiry ([`BakeContext::temporary_tags`]).
    pub fn run_tags(&self, what: &str) -> std::collections::BTreeMap<String, String> {
        let mut t = self.spec.run_tags.clone();
        t.entry("Name".into())
            .or_insert_with(|| format!("golden_ami build {} ({what})", self.spec.build_id));
        t.extend(self.temporary_tags());
        t
    }

    /// Tags for the build instance's volumes: the run tags with
    /// `run_volume_tags` over them, the temporary tags over both.
    pub fn volume_tags(&self) -> std::collections::BTreeMap<String, String> {
        let mut t = self.spec.run_tags.clone();
        t.extend(self.spec.run_volume_tags.clone());
        t.entry("Name".into())
            .or_insert_with(|| format!("golden_ami build {} (volume)", self.spec.build_id));
        t.extend(self.temporary_tags());
        t
    }

    /// What marks a resource as this bake's temporary one (build id and
    /// `golden:expires-at`), on everything it makes until it keeps it.
    pub fn temporary_tags(&self) -> std::collections::BTreeMap<String, String> {
        crate::ec2::tags::temporary_tags(&self.spec.build_id, &self.expires_at)
    }

    /// Every image of the bake so far with its region's seam and snapshots:
    /// the original first, then each available copy.
    pub fn images_everywhere(&self) -> Vec<(Ec2, String, Vec<String>)> {
        let mut all: Vec<(Ec2, String, Vec<String>)> = self
            .image
            .iter()
            .map(|i| (self.ec2.clone(), i.id.clone(), i.snapshot_ids.clone()))
            .collect();
        for c in &self.copies {
            if let Some(img) = &c.image {
                all.push((
                    self.ec2.in_region(&c.region),
                    c.id.clone(),
                    img.snapshot_ids.clone(),
                ));
            }
        }
        all
    }

    /// The `golden:copy-regions` value of this bake's images.
    pub fn copy_regions_tag(&self) -> String {
        crate::ec2::regions::copy_regions_value(
            std::iter::once(self.ec2.region.as_str())
                .chain(self.spec.copy_regions.iter().map(|c| c.region.as_str())),
        )
    }
}
