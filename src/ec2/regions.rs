//! The same account in other regions: one client per region, built on the
//! provider's credentials and endpoint settings and cached, and the one way
//! an image and its copies are removed from every region they are in.

use super::Ec2;
use super::api::Ec2Api;
use super::wait::WaitError;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Tag on every image of a bake, the original and its copies: the sorted,
/// comma-separated regions where the image exists (build region included).
pub const COPY_REGIONS_TAG: &str = "golden:copy-regions";

/// The regions of an image's `golden:copy-regions` tag.
pub fn tagged_regions(img: &super::model::ImageInfo) -> Vec<String> {
    img.tags
        .get(COPY_REGIONS_TAG)
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Ec2 {
    /// The image's id in each region of its `golden:copy-regions` tag (a
    /// copy found by the build id it shares with the original), this region
    /// included. A copy not found (or not available) is left out, and logged.
    pub async fn copies_of(
        &self,
        img: &super::model::ImageInfo,
    ) -> Result<BTreeMap<String, String>, super::Ec2Error> {
        Ok(self
            .copies_seen(img)
            .await?
            .into_iter()
            .map(|(r, i)| (r, i.id))
            .collect())
    }

    /// [`Ec2::copies_of`] with what EC2 said of each copy, so a removal
    /// need not describe them again.
    pub async fn copies_seen(
        &self,
        img: &super::model::ImageInfo,
    ) -> Result<BTreeMap<String, super::model::ImageInfo>, super::Ec2Error> {
        let mut out = BTreeMap::from([(self.region.clone(), img.clone())]);
        let (Some(list), Some(build)) = (
            img.tags.get(COPY_REGIONS_TAG),
            img.tags.get(super::tags::BUILD_ID_TAG),
        ) else {
            return Ok(out);
        };
        for r in list
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty() && *r != self.region)
        {
            let found = self
                .in_region(r)
                .images_tagged(super::tags::BUILD_ID_TAG, build)
                .await?;
            match found.into_iter().find(|i| i.state == "available") {
                Some(copy) => {
                    out.insert(r.to_string(), copy);
                }
                None => tracing::warn!(region = r, build, "no available copy of the image"),
            }
        }
        Ok(out)
    }
}

/// Builds the seam for a region. The SDK's builds a client with the
/// provider's settings in that region; a test's hands out per-region fakes.
pub type ApiFactory = Arc<dyn Fn(&str) -> Arc<dyn Ec2Api> + Send + Sync>;

/// How to reach other regions, with the clients already made.
#[derive(Clone, Default)]
pub struct Regions {
    /// None: the seam serves every region itself (a single fake).
    factory: Option<ApiFactory>,
    cache: Arc<Mutex<BTreeMap<String, Ec2>>>,
}

impl std::fmt::Debug for Regions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached: Vec<String> = self
            .cache
            .lock()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("Regions").field("cached", &cached).finish()
    }
}

impl Regions {
    pub fn new(factory: ApiFactory) -> Regions {
        Regions {
            factory: Some(factory),
            cache: Default::default(),
        }
    }
}

/// The `golden:copy-regions` value: sorted, no repeats, comma-separated.
pub fn copy_regions_value<'a>(regions: impl IntoIterator<Item = &'a str>) -> String {
    let set: std::collections::BTreeSet<&str> = regions.into_iter().collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

/// Whether EC2 would refuse to deregister an image showing this protection.
pub fn protected(shown: Option<&str>) -> bool {
    shown.is_some_and(|p| p.starts_with("enabled") || p.starts_with("disabled-until"))
}

impl Ec2 {
    /// The seam in `region`: this one for its own region, else a client with
    /// the same credentials, endpoint, pacing and not-found patience, made
    /// once per region and shared by every caller.
    pub fn in_region(&self, region: &str) -> Ec2 {
        if region == self.region {
            return self.clone();
        }
        let mut cache = self.regions.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = cache.get(region) {
            return e.clone();
        }
        let api = match &self.regions.factory {
            Some(make) => make(region),
            None => self.api.clone(),
        };
        let mut e = self.clone();
        e.api = api;
        e.region = region.to_string();
        // Account facts (VPCs, recent source lookups) are per region.
        e.facts = Default::default();
        cache.insert(region.to_string(), e.clone());
        e
    }

    /// Removes an image and its copies everywhere: `images` maps each region
    /// to the image there; an empty id stands for a region whose copy is
    /// already gone. `seen` holds what the caller already read of some
    /// regions' images (None: not there), so they are not described again.
    /// Every region is looked at first, and deregistration protection
    /// anywhere refuses the whole removal before anything goes; then each
    /// region's image and snapshots go (in parallel), and the first failure
    /// is reported once all were tried. With the bake's `build_id`, where a
    /// region's image is gone or names no snapshot (a copy deregistered by
    /// hand, an image still pending), the snapshots tagged with it go too:
    /// EC2 keeps them.
    pub async fn remove_everywhere(
        &self,
        images: &BTreeMap<String, String>,
        known_snapshots: &BTreeMap<String, Vec<String>>,
        build_id: Option<&str>,
        mut seen: BTreeMap<String, Option<super::model::ImageInfo>>,
        cancel: &CancellationToken,
    ) -> Result<(), WaitError> {
        seen.retain(|region, _| images.get(region).is_some_and(|id| !id.is_empty()));
        for (region, id) in images.iter().filter(|(_, id)| !id.is_empty()) {
            let img = match seen.get(region) {
                Some(img) => img.clone(),
                None => self.in_region(region).describe_image(id).await?,
            };
            if let Some(img) = &img
                && protected(img.deregistration_protection.as_deref())
            {
                return Err(WaitError::Failed(format!(
                    "AMI {id} in {region} is protected from deregistration ({}): set `deregistration_protection {{ enabled = false }}` and apply first",
                    img.deregistration_protection.clone().unwrap_or_default()
                )));
            }
            seen.insert(region.clone(), img);
        }
        let mut removals = tokio::task::JoinSet::new();
        for (region, id) in images {
            let (ec2, id, region) = (self.in_region(region), id.clone(), region.clone());
            let snaps = known_snapshots.get(&region).cloned().unwrap_or_default();
            let img = seen.remove(&region).flatten();
            let cancel = cancel.clone();
            let build_id = build_id
                .filter(|b| super::tags::valid_build_id(b))
                .map(str::to_string);
            removals.spawn(async move {
                let removed = async {
                    if !id.is_empty() {
                        ec2.remove_seen_image(&id, img.as_ref(), &snaps, &cancel, false)
                            .await?;
                    }
                    // An available image names its snapshots; otherwise they
                    // are found by the build's tag.
                    let named = img
                        .as_ref()
                        .is_some_and(|i| i.state == "available" && !i.snapshot_ids.is_empty());
                    if let Some(b) = build_id.filter(|_| !named) {
                        let tagged = ec2
                            .api
                            .describe_own_snapshots(&super::model::tag_filter(
                                super::tags::BUILD_ID_TAG,
                                &b,
                            ))
                            .await?;
                        for s in tagged.iter().filter(|s| {
                            super::model::tagged_exactly(&s.tags, super::tags::BUILD_ID_TAG, &b)
                        }) {
                            ec2.wait_snapshot_deleted(&s.id, &id, &cancel).await?;
                        }
                    }
                    Ok(())
                };
                removed.await.map_err(|e| match e {
                    WaitError::Api(e) => WaitError::Failed(format!("{region}: {e}")),
                    other => other,
                })
            });
        }
        let mut first = Ok(());
        while let Some(r) = removals.join_next().await {
            let r = r.unwrap_or_else(|e| Err(WaitError::Failed(format!("removal task: {e}"))));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}
