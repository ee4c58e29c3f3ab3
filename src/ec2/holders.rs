//! Images shared between stacks and kept across rebakes. The facts live on
//! the image itself, as tags, so every state and every machine sees the same:
//! `golden:holder:<holder id>` for each stack holding it (the one that baked
//! it included), `golden:retained-by = <holder id>` once a rebake kept it as
//! a previous image. An image is removed only by the last holder to let go.

use super::Ec2;
use super::error::Ec2Error;
use super::model::ImageInfo;
use super::tags::{INPUT_DIGEST_TAG, valid_build_id};
use super::wait::WaitError;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// Prefix of the tag each stack holding an image puts on it.
pub const HOLDER_TAG_PREFIX: &str = "golden:holder:";
/// Tag on an image a rebake kept: the holder id of the stack keeping it.
pub const RETAINED_BY_TAG: &str = "golden:retained-by";
/// EC2 refuses a deprecation time in the past and rounds to the minute:
/// "deprecated now" is this far ahead, rounded up to the minute.
const DEPRECATE_SOON: Duration = Duration::from_secs(120);

/// A fresh holder id: 12 hex digits, the shape of a build id.
pub fn new_holder_id() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// The tag key recording `holder` on an image.
pub fn holder_tag(holder: &str) -> String {
    format!("{HOLDER_TAG_PREFIX}{holder}")
}

/// The tag recording `holder` on an image, valued with the time it took hold.
pub fn hold_tags(holder: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(holder_tag(holder), rfc3339(epoch_secs(SystemTime::now())))])
}

/// The holder ids recorded in an image's tags.
pub fn holders(tags: &BTreeMap<String, String>) -> Vec<String> {
    tags.keys()
        .filter_map(|k| k.strip_prefix(HOLDER_TAG_PREFIX))
        .map(str::to_string)
        .collect()
}

fn rfc3339(secs: i64) -> String {
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

fn epoch_secs(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The deprecation time for "deprecated at once" seen from `now`.
pub fn deprecate_soon(now: SystemTime) -> String {
    let at = epoch_secs(now + DEPRECATE_SOON);
    rfc3339((at + 59).div_euclid(60) * 60)
}

/// Whether an image may be adopted at `now`: available, not kept by a
/// rebake and not deprecated (all three mean: on its way out).
pub fn adoptable(img: &ImageInfo, now: SystemTime) -> bool {
    let deprecated = img.deprecation_time.as_deref().is_some_and(|t| {
        DateTime::from_str(t, Format::DateTime)
            .map(|t| t.secs() <= epoch_secs(now))
            // An unreadable time: take it as deprecated, adopt nothing doubtful.
            .unwrap_or(true)
    });
    img.state == "available" && !img.tags.contains_key(RETAINED_BY_TAG) && !deprecated
}

/// What letting go of an image did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    /// No holder remained: the image and its snapshots are gone.
    Removed,
    /// Other stacks still hold it (their holder ids): it stays.
    HeldBy(Vec<String>),
}

impl Ec2 {
    /// This account's images baked from the same inputs that may be adopted
    /// now, newest first.
    pub async fn identical_images(&self, digest: &str) -> Result<Vec<ImageInfo>, Ec2Error> {
        let now = SystemTime::now();
        let mut found: Vec<ImageInfo> = self
            .images_tagged(INPUT_DIGEST_TAG, digest)
            .await?
            .into_iter()
            .filter(|i| adoptable(i, now))
            .collect();
        found.sort_by(|a, b| (&b.creation_date, &b.id).cmp(&(&a.creation_date, &a.id)));
        Ok(found)
    }

    /// Records `holder` on the image.
    pub async fn take_hold(&self, image: &str, holder: &str) -> Result<(), Ec2Error> {
        self.create_tags(&[image.to_string()], &hold_tags(holder))
            .await
    }

    /// Removes `holder`'s tag from the image.
    pub async fn drop_hold(&self, image: &str, holder: &str) -> Result<(), Ec2Error> {
        self.delete_tags(&[image.to_string()], &[holder_tag(holder)])
            .await
    }

    /// Releases `holder`'s hold (None: a state from before holders, which
    /// holds without a tag) and removes the image with its snapshots when no
    /// other holder remains. One read decides in the usual case (no other
    /// holder: the image goes, this hold's tag with it). When another holder
    /// shows, this hold goes first and the image is read again: two stacks
    /// letting go at once then cannot each see the other and both keep it.
    /// A hold another stack takes meanwhile is seen, except in the moment
    /// between the last read and the deregistration. A holder id of the
    /// wrong shape is never written nor deleted (it would not be ours).
    pub async fn release_image(
        &self,
        id: &str,
        known_snapshots: &[String],
        holder: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<Released, WaitError> {
        let holder = holder.filter(|h| valid_build_id(h));
        let others = |img: &Option<ImageInfo>| -> Vec<String> {
            img.iter()
                .flat_map(|i| holders(&i.tags))
                .filter(|o| Some(o.as_str()) != holder)
                .collect()
        };
        let mut found = self.describe_image(id).await?;
        if !others(&found).is_empty() {
            if let Some(h) = holder {
                self.drop_hold(id, h).await?;
            }
            found = self.describe_image(id).await?;
            let others = others(&found);
            if !others.is_empty() {
                tracing::info!(image = %id, holders = ?others, "image still held by other stacks; kept");
                return Ok(Released::HeldBy(others));
            }
        }
        // The image and its copies, in every region, through the one removal.
        let seen = match &found {
            Some(img) => self.copies_seen(img).await?,
            None => BTreeMap::new(),
        };
        let mut images: BTreeMap<String, String> = seen
            .iter()
            .map(|(r, i)| (r.clone(), i.id.clone()))
            .collect();
        images
            .entry(self.region.clone())
            .or_insert_with(|| id.to_string());
        // A copy deregistered by hand leaves its snapshots (EC2 keeps them).
        for r in found.iter().flat_map(super::regions::tagged_regions) {
            images.entry(r).or_default();
        }
        let mut seen: BTreeMap<String, Option<ImageInfo>> =
            seen.into_iter().map(|(r, i)| (r, Some(i))).collect();
        seen.entry(self.region.clone()).or_insert(None);
        let snapshots = BTreeMap::from([(self.region.clone(), known_snapshots.to_vec())]);
        let build = found
            .as_ref()
            .and_then(|i| i.tags.get(super::tags::BUILD_ID_TAG).cloned());
        self.remove_everywhere(&images, &snapshots, build.as_deref(), seen, cancel)
            .await?;
        Ok(Released::Removed)
    }

    /// Keeps the image as a previous one of `holder`: tagged
    /// `golden:retained-by` and deprecated at once (see [`deprecate_soon`]),
    /// so new consumers no longer pick it while running ones still launch it.
    pub async fn retain_image(&self, id: &str, holder: &str) -> Result<(), Ec2Error> {
        self.create_tags(
            &[id.to_string()],
            &BTreeMap::from([(RETAINED_BY_TAG.to_string(), holder.to_string())]),
        )
        .await?;
        let at = deprecate_soon(SystemTime::now());
        self.set_deprecation(id, Some(&at)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::fake::FakeEc2;

    #[test]
    fn holders_are_read_from_their_tags() {
        let tags = BTreeMap::from([
            (holder_tag("0000000000aa"), "t".to_string()),
            ("golden:build-id".to_string(), "x".to_string()),
            (holder_tag("0000000000bb"), "t".to_string()),
        ]);
        assert_eq!(holders(&tags), vec!["0000000000aa", "0000000000bb"]);
    }

    #[test]
    fn deprecated_soon_is_a_whole_minute_at_least_two_ahead() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_030);
        // 1_800_000_150 rounded up to the minute.
        assert_eq!(deprecate_soon(now), rfc3339(1_800_000_180));
        let exact = SystemTime::UNIX_EPOCH + Duration::from_secs(1_799_999_880);
        assert_eq!(deprecate_soon(exact), rfc3339(1_800_000_000));
    }

    #[test]
    fn only_available_live_unretained_images_are_adoptable() {
        let now = SystemTime::now();
        let ok = ImageInfo {
            state: "available".into(),
            ..Default::default()
        };
        assert!(adoptable(&ok, now));
        let pending = ImageInfo {
            state: "pending".into(),
            ..ok.clone()
        };
        let kept = ImageInfo {
            tags: BTreeMap::from([(RETAINED_BY_TAG.to_string(), "x".to_string())]),
            ..ok.clone()
        };
        let past = ImageInfo {
            deprecation_time: Some("2020-01-01T00:00:00.000Z".into()),
            ..ok.clone()
        };
        let future = ImageInfo {
            deprecation_time: Some("2999-01-01T00:00:00.000Z".into()),
            ..ok.clone()
        };
        assert!(!adoptable(&pending, now) && !adoptable(&kept, now) && !adoptable(&past, now));
        assert!(
            adoptable(&future, now),
            "a scheduled deprecation is not one yet"
        );
    }

    /// The usual release, the last holder's: one read decides, the hold's
    /// tag goes with the image, and the snapshots the image names need no
    /// search by the build's tag.
    #[tokio::test]
    async fn the_last_holder_lets_go_with_one_read() {
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        let before = fake.snapshots();
        let tags = BTreeMap::from([
            (holder_tag("0000000000aa"), "t".to_string()),
            (
                crate::ec2::tags::BUILD_ID_TAG.to_string(),
                "0123456789ab".to_string(),
            ),
        ]);
        let id = fake.add_own_image("web", &tags);
        assert!(
            fake.snapshots().len() > before.len(),
            "the image has a snapshot"
        );
        let never = CancellationToken::new();
        let r = ec2
            .release_image(&id, &[], Some("0000000000aa"), &never)
            .await;
        assert_eq!(r.ok(), Some(Released::Removed));
        let calls = ["DescribeImages", "DeleteTags", "DescribeSnapshots"].map(|a| fake.calls(a));
        assert_eq!(calls, [1, 0, 0], "{:?}", fake.log());
        assert!(fake.own_images().is_empty());
        assert_eq!(fake.snapshots(), before);
    }

    /// A hold of a wrong shape is not ours: never deleted, and an image
    /// from before holders (no tag) is removed by its one stack.
    #[tokio::test]
    async fn release_keeps_what_others_hold_and_removes_the_rest() {
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        let never = CancellationToken::new();
        let id = fake.add_own_image("web", &BTreeMap::new());
        ec2.take_hold(&id, "0000000000aa").await.unwrap();
        let r = ec2
            .release_image(&id, &[], Some("*"), &never)
            .await
            .unwrap();
        assert_eq!(r, Released::HeldBy(vec!["0000000000aa".into()]));
        assert_eq!(fake.calls("DeleteTags"), 0);
        let r = ec2
            .release_image(&id, &[], Some("0000000000aa"), &never)
            .await
            .unwrap();
        assert_eq!(r, Released::Removed);
        assert!(fake.own_images().is_empty());
        let legacy = fake.add_own_image("old", &BTreeMap::new());
        let r = ec2.release_image(&legacy, &[], None, &never).await.unwrap();
        assert_eq!(r, Released::Removed);
        assert!(fake.own_images().is_empty());
        // Already gone: still success (a destroy that is run again).
        let r = ec2.release_image(&legacy, &[], None, &never).await.unwrap();
        assert_eq!(r, Released::Removed);
    }
}
