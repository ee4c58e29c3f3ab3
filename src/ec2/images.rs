//! AMIs: finding the source image, making, describing and changing images.

use super::Ec2;
use super::error::{Ec2Error, absent_is_none, gone_is_ok};
use super::model::{self, Filters};
use std::collections::BTreeMap;
use std::time::Duration;

pub use super::model::ImageInfo;

/// A source AMI looked up by its id this long ago is taken as is, by this
/// process and the next ones in the same directory: `terraform apply` plans
/// in one process and plans again and applies in another, and what an AMI
/// id names never changes. (A filter's answer can: it is asked at each plan.)
const SOURCE_SEEN_FOR: Duration = Duration::from_secs(600);

/// The image with this id among EC2's answer, unless deregistered (EC2 lists
/// a deregistered image for a while).
fn live(images: Vec<ImageInfo>, id: &str) -> Option<ImageInfo> {
    images
        .into_iter()
        .find(|i| i.id == id && i.state != "deregistered")
}

/// Why no single source image could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error(transparent)]
    Api(#[from] Ec2Error),
    #[error("no AMI matches filters {filters:?} with owners {owners:?}")]
    NoMatch {
        filters: BTreeMap<String, String>,
        owners: Vec<String>,
    },
    #[error(
        "{count} AMIs match filters {filters:?}; make the filter more specific or set most_recent = true"
    )]
    Ambiguous {
        count: usize,
        filters: BTreeMap<String, String>,
    },
}

fn owned_by_us() -> Vec<String> {
    vec!["self".to_string()]
}

impl Ec2 {
    /// ENA and SR-IOV support on the stopped build instance, which
    /// CreateImage then carries to the image (as Packer's
    /// `ena_support`/`sriov_support` do).
    pub async fn set_network_support(
        &self,
        instance: &str,
        ena: Option<bool>,
        sriov: bool,
    ) -> Result<(), Ec2Error> {
        if let Some(enabled) = ena {
            self.api
                .modify_instance_ena_support(instance, enabled)
                .await?;
        }
        if sriov {
            self.api
                .modify_instance_sriov_net_support(instance, "simple")
                .await?;
        }
        Ok(())
    }

    /// ModifyImageAttribute `ImdsSupport` (`v2.0`, the one value EC2 takes).
    pub async fn set_imds_support(&self, id: &str, value: &str) -> Result<(), Ec2Error> {
        self.api.modify_image_imds_support(id, value).await
    }

    /// Resolves a `source_ami_filter` the way Packer does: one match, or the
    /// newest when `most_recent` is set.
    pub async fn find_image(
        &self,
        filters: &Filters,
        owners: &[String],
        most_recent: bool,
    ) -> Result<ImageInfo, FindError> {
        let mut images = self.api.describe_images(owners, filters).await?;
        match images.len() {
            0 => Err(FindError::NoMatch {
                filters: filters.clone(),
                owners: owners.to_vec(),
            }),
            1 => Ok(images.remove(0)),
            n if !most_recent => Err(FindError::Ambiguous {
                count: n,
                filters: filters.clone(),
            }),
            _ => {
                // ISO 8601 dates sort as strings; the id breaks ties so the choice is stable.
                images.sort_by(|a, b| (&a.creation_date, &a.id).cmp(&(&b.creation_date, &b.id)));
                Ok(images.pop().unwrap_or_default())
            }
        }
    }

    /// This account's image named `name`, if any.
    pub async fn own_image_named(&self, name: &str) -> Result<Option<ImageInfo>, Ec2Error> {
        let found = self
            .api
            .describe_images(&owned_by_us(), &model::filters([("name", name)]))
            .await?;
        Ok(found.into_iter().next())
    }

    /// Every image of this account named `name` (EC2 allows one per Region;
    /// a list, so a caller never assumes it).
    pub async fn own_images_named(&self, name: &str) -> Result<Vec<ImageInfo>, Ec2Error> {
        self.api
            .describe_images(&owned_by_us(), &model::filters([("name", name)]))
            .await
    }

    /// This account's images carrying the tag.
    pub async fn images_tagged(&self, key: &str, value: &str) -> Result<Vec<ImageInfo>, Ec2Error> {
        let found = self
            .api
            .describe_images(&owned_by_us(), &model::tag_filter(key, value))
            .await?;
        Ok(found
            .into_iter()
            .filter(|i| model::tagged_exactly(&i.tags, key, value))
            .collect())
    }

    /// This account's images whose block devices use `snapshot` (an image
    /// registered from it). Owners are given: DescribeImages without them
    /// searches every public image, which is slow, and this runs on each
    /// "in use" answer while a deregistration settles.
    pub async fn images_using_snapshot(&self, snapshot: &str) -> Result<Vec<ImageInfo>, Ec2Error> {
        let found = self
            .api
            .describe_images(
                &owned_by_us(),
                &model::filters([("block-device-mapping.snapshot-id", snapshot)]),
            )
            .await?;
        Ok(found
            .into_iter()
            .filter(|i| i.state != "deregistered" && i.snapshot_ids.iter().any(|s| s == snapshot))
            .collect())
    }

    fn source_key(&self, id: &str) -> String {
        format!("source|{}|{id}", self.scope())
    }

    /// Remembers a source AMI the plan resolved (see [`SOURCE_SEEN_FOR`]),
    /// once it is available: a pending one is asked again, or the bake would
    /// take it for pending minutes after it is not.
    pub async fn remember_source(&self, image: &ImageInfo) {
        if image.state != "available" {
            return;
        }
        if let Ok(json) = serde_json::to_string(image) {
            self.facts
                .put(&self.source_key(&image.id), Some(vec![json]))
                .await;
        }
    }

    /// The source AMI with this id: from a lookup moments ago (this plan's,
    /// or the previous process's in this directory), else from EC2.
    pub async fn source_image(&self, id: &str) -> Result<Option<ImageInfo>, Ec2Error> {
        let seen = self
            .facts
            .within(&self.source_key(id), SOURCE_SEEN_FOR)
            .await
            .and_then(|v| serde_json::from_str::<ImageInfo>(v.first()?).ok());
        if let Some(img) = seen.filter(|i| i.id == id) {
            return Ok(Some(img));
        }
        let found = self.describe_image(id).await?;
        if let Some(img) = &found {
            self.remember_source(img).await;
        }
        Ok(found)
    }

    /// The image, or None when it does not exist (or is deregistered).
    pub async fn describe_image(&self, id: &str) -> Result<Option<ImageInfo>, Ec2Error> {
        let found = self
            .api
            .describe_images_by_id(&[id.to_string()])
            .await
            .map(|images| live(images, id));
        absent_is_none(found)
    }

    /// The image, read with its source AMI in the same call (a refresh:
    /// the plan that follows then finds the source without asking again).
    /// When the pair fails (the source is gone: EC2 refuses the whole
    /// call), the image alone is read.
    pub async fn describe_image_and_source(
        &self,
        id: &str,
        source: &str,
    ) -> Result<Option<ImageInfo>, Ec2Error> {
        if source == id {
            return self.describe_image(id).await;
        }
        match self
            .api
            .describe_images_by_id(&[id.to_string(), source.to_string()])
            .await
        {
            Ok(found) => {
                if let Some(src) = live(found.clone(), source) {
                    self.remember_source(&src).await;
                }
                Ok(live(found, id))
            }
            Err(_) => self.describe_image(id).await,
        }
    }

    pub async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: Option<&str>,
        tags: &BTreeMap<String, String>,
        snapshot_tags: &BTreeMap<String, String>,
        devices: &[super::volumes::BlockDevice],
    ) -> Result<String, Ec2Error> {
        self.api
            .create_image(instance_id, name, description, tags, snapshot_tags, devices)
            .await
    }

    pub async fn set_image_description(&self, id: &str, description: &str) -> Result<(), Ec2Error> {
        self.api.modify_image_description(id, description).await
    }

    /// Grants and revokes launch permission; `all` is the public group.
    pub async fn set_launch_permissions(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Ec2Error> {
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        self.api.modify_launch_permissions(id, add, remove).await
    }

    /// Schedules deprecation at an RFC 3339 time, or cancels it with None.
    pub async fn set_deprecation(&self, id: &str, at: Option<&str>) -> Result<(), Ec2Error> {
        match at {
            Some(at) => self.api.enable_image_deprecation(id, at).await,
            None => self.api.disable_image_deprecation(id).await,
        }
    }

    /// Turns deregistration protection on (`Some(with_cooldown)`) or off.
    pub async fn set_deregistration_protection(
        &self,
        id: &str,
        on: Option<bool>,
    ) -> Result<(), Ec2Error> {
        match on {
            Some(cooldown) => {
                self.api
                    .enable_image_deregistration_protection(id, cooldown)
                    .await
            }
            None => self.api.disable_image_deregistration_protection(id).await,
        }
    }

    /// Who may create volumes from each snapshot: the same change on all.
    pub async fn set_snapshot_permissions(
        &self,
        snapshots: &[String],
        add: &[String],
        remove: &[String],
    ) -> Result<(), Ec2Error> {
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        for s in snapshots {
            self.api.modify_snapshot_permissions(s, add, remove).await?;
        }
        Ok(())
    }

    /// Who may create volumes from the snapshot: account ids, `all` when public.
    pub async fn snapshot_permissions(&self, snapshot: &str) -> Result<Vec<String>, Ec2Error> {
        self.api.describe_snapshot_permissions(snapshot).await
    }

    /// Who may launch the image: user ids, and `all` when public.
    pub async fn launch_permissions(&self, id: &str) -> Result<Vec<String>, Ec2Error> {
        self.api.describe_launch_permissions(id).await
    }

    /// Deregisters the image; already gone is success.
    pub async fn deregister_image(&self, id: &str) -> Result<(), Ec2Error> {
        gone_is_ok(self.api.deregister_image(id).await)
    }

    /// Each snapshot's tags, by id (one DescribeSnapshots call).
    pub async fn snapshot_tags(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, Ec2Error> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let found = self.api.describe_snapshots(ids).await?;
        Ok(found.into_iter().map(|s| (s.id, s.tags)).collect())
    }

    /// Deletes a snapshot; already gone is success.
    pub async fn delete_snapshot(&self, id: &str) -> Result<(), Ec2Error> {
        gone_is_ok(self.api.delete_snapshot(id).await)
    }
}
