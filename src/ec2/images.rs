//! AMIs: finding the source image, making, describing and removing images.

use super::tags::{from_sdk, spec};
use super::wait::{self, Poll, WaitError};
use super::{Ec2, Ec2Error, api_err, gone_is_ok};
use aws_sdk_ec2::types::{Filter, Image, ResourceType};
use std::collections::BTreeMap;
use std::time::Duration;

/// Images seen lately, by id, with when they were seen.
pub type RecentImages = std::sync::Arc<
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, ImageInfo)>>,
>;

/// A source AMI looked up this long ago is still taken as is: Terraform plans
/// again right before it applies, in the same process.
const RECENT: std::time::Duration = std::time::Duration::from_secs(120);

/// What we need to know of an AMI.
#[derive(Debug, Clone, Default)]
pub struct ImageInfo {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub state: String,
    pub state_reason: Option<String>,
    pub creation_date: String,
    pub snapshot_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

impl From<&Image> for ImageInfo {
    fn from(i: &Image) -> Self {
        ImageInfo {
            id: i.image_id().unwrap_or_default().to_string(),
            name: i.name().unwrap_or_default().to_string(),
            description: i.description().map(str::to_string),
            state: i
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            state_reason: i
                .state_reason()
                .and_then(|r| r.message())
                .map(str::to_string),
            creation_date: i.creation_date().unwrap_or_default().to_string(),
            snapshot_ids: i
                .block_device_mappings()
                .iter()
                .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()))
                .map(str::to_string)
                .collect(),
            tags: from_sdk(i.tags()),
        }
    }
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

impl Ec2 {
    /// Resolves a `source_ami_filter` the way Packer does: one match, or the
    /// newest when `most_recent` is set.
    pub async fn find_image(
        &self,
        filters: &BTreeMap<String, String>,
        owners: &[String],
        most_recent: bool,
    ) -> Result<ImageInfo, FindError> {
        let sdk_filters = filters
            .iter()
            .map(|(k, v)| Filter::builder().name(k).values(v).build())
            .collect();
        let out = self
            .client
            .describe_images()
            .set_filters(Some(sdk_filters))
            .set_owners((!owners.is_empty()).then(|| owners.to_vec()))
            .send()
            .await
            .map_err(api_err("DescribeImages"))?;
        let mut images: Vec<ImageInfo> = out.images().iter().map(ImageInfo::from).collect();
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
        let out = self
            .client
            .describe_images()
            .owners("self")
            .filters(Filter::builder().name("name").values(name).build())
            .send()
            .await
            .map_err(api_err("DescribeImages"))?;
        Ok(out.images().iter().map(ImageInfo::from).next())
    }

    /// Remembers a source AMI the plan resolved.
    pub fn remember_source(&self, image: &ImageInfo) {
        if let Ok(mut m) = self.recent_sources.lock() {
            m.retain(|_, (at, _)| at.elapsed() < RECENT);
            m.insert(image.id.clone(), (std::time::Instant::now(), image.clone()));
        }
    }

    /// The source AMI, from the plan's lookup when that was moments ago.
    pub async fn source_image(&self, id: &str) -> Result<Option<ImageInfo>, Ec2Error> {
        let recent = self.recent_sources.lock().ok().and_then(|m| {
            m.get(id)
                .filter(|(at, _)| at.elapsed() < RECENT)
                .map(|(_, i)| i.clone())
        });
        match recent {
            Some(i) => Ok(Some(i)),
            None => self.describe_image(id).await,
        }
    }

    /// The image, or None when it does not exist (or is deregistered).
    pub async fn describe_image(&self, id: &str) -> Result<Option<ImageInfo>, Ec2Error> {
        let r = self.client.describe_images().image_ids(id).send().await;
        match r.map_err(api_err("DescribeImages")) {
            Ok(out) => Ok(out
                .images()
                .iter()
                .map(ImageInfo::from)
                .find(|i| i.state != "deregistered")),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, Ec2Error> {
        let out = self
            .client
            .create_image()
            .instance_id(instance_id)
            .name(name)
            .set_description(description.map(str::to_string))
            .tag_specifications(spec(ResourceType::Image, tags))
            .send()
            .await
            .map_err(api_err("CreateImage"))?;
        out.image_id().map(str::to_string).ok_or_else(|| Ec2Error {
            action: "CreateImage",
            code: None,
            message: "EC2 returned no image id".into(),
        })
    }

    pub async fn set_image_description(&self, id: &str, description: &str) -> Result<(), Ec2Error> {
        self.client
            .modify_image_attribute()
            .image_id(id)
            .description(
                aws_sdk_ec2::types::AttributeValue::builder()
                    .value(description)
                    .build(),
            )
            .send()
            .await
            .map_err(api_err("ModifyImageAttribute"))?;
        Ok(())
    }

    /// Grants and revokes launch permission; `all` is the public group.
    pub async fn set_launch_permissions(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Ec2Error> {
        use aws_sdk_ec2::types::{
            LaunchPermission, LaunchPermissionModifications, PermissionGroup,
        };
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let perm = |u: &String| {
            if u == "all" {
                LaunchPermission::builder()
                    .group(PermissionGroup::All)
                    .build()
            } else {
                LaunchPermission::builder().user_id(u).build()
            }
        };
        let mods = LaunchPermissionModifications::builder()
            .set_add((!add.is_empty()).then(|| add.iter().map(perm).collect()))
            .set_remove((!remove.is_empty()).then(|| remove.iter().map(perm).collect()))
            .build();
        self.client
            .modify_image_attribute()
            .image_id(id)
            .launch_permission(mods)
            .send()
            .await
            .map_err(api_err("ModifyImageAttribute"))?;
        Ok(())
    }

    /// Schedules deprecation at an RFC 3339 time, or cancels it with None.
    pub async fn set_deprecation(&self, id: &str, at: Option<&str>) -> Result<(), Ec2Error> {
        match at {
            Some(at) => {
                let when = aws_smithy_types::DateTime::from_str(
                    at,
                    aws_smithy_types::date_time::Format::DateTime,
                )
                .map_err(|e| Ec2Error {
                    action: "EnableImageDeprecation",
                    code: None,
                    message: format!("{at:?}: {e}"),
                })?;
                self.client
                    .enable_image_deprecation()
                    .image_id(id)
                    .deprecate_at(when)
                    .send()
                    .await
                    .map_err(api_err("EnableImageDeprecation"))?;
            }
            None => {
                self.client
                    .disable_image_deprecation()
                    .image_id(id)
                    .send()
                    .await
                    .map_err(api_err("DisableImageDeprecation"))?;
            }
        }
        Ok(())
    }

    /// Who may launch the image: user ids, and `all` when public.
    pub async fn launch_permissions(&self, id: &str) -> Result<Vec<String>, Ec2Error> {
        let out = self
            .client
            .describe_image_attribute()
            .image_id(id)
            .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
            .send()
            .await
            .map_err(api_err("DescribeImageAttribute"))?;
        Ok(out
            .launch_permissions()
            .iter()
            .filter_map(|p| {
                p.user_id()
                    .map(str::to_string)
                    .or_else(|| p.group().map(|g| g.as_str().to_string()))
            })
            .collect())
    }

    /// Deregisters the image; already gone is success.
    pub async fn deregister_image(&self, id: &str) -> Result<(), Ec2Error> {
        gone_is_ok(
            self.client
                .deregister_image()
                .image_id(id)
                .send()
                .await
                .map_err(api_err("DeregisterImage")),
        )
    }

    /// Deletes a snapshot; already gone is success.
    pub async fn delete_snapshot(&self, id: &str) -> Result<(), Ec2Error> {
        gone_is_ok(
            self.client
                .delete_snapshot()
                .snapshot_id(id)
                .send()
                .await
                .map_err(api_err("DeleteSnapshot")),
        )
    }

    /// Deregisters an image and deletes every snapshot it had, waiting out
    /// EC2's brief "still in use" after a deregistration.
    pub async fn delete_image_and_snapshots(
        &self,
        id: &str,
        known_snapshots: &[String],
        cancel: &tokio_util::sync::CancellationToken,
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
            wait::until(
                &format!("snapshot {s} to be deletable"),
                Duration::from_secs(600),
                cancel,
                || async {
                    match self.delete_snapshot(s).await {
                        Ok(()) => Ok(Poll::Ready(())),
                        Err(e) if e.code.as_deref() == Some("InvalidSnapshot.InUse") => {
                            Ok(Poll::Pending(e.message))
                        }
                        Err(e) => Err(WaitError::Api(e)),
                    }
                },
            )
            .await?;
        }
        Ok(())
    }
}
