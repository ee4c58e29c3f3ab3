//! Which image a search returns: only images this provider made, never a
//! deprecated or revoked one unless asked, one match or the newest. The
//! choice is pure (`choose`), so every branch is tested without EC2; the
//! searches feeding it are below.

use crate::ec2::images::ImageInfo;
use crate::ec2::model::{self, Filters};
use crate::ec2::tags::{BUILD_ID_TAG, INPUT_DIGEST_TAG, valid_build_id};
use crate::ec2::{Ec2, Ec2Error};
use std::collections::BTreeMap;

/// Why an image was passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// Its deprecation time has passed.
    Deprecated,
    /// EC2 disabled it (DisableImage): not launchable.
    Revoked,
}

/// Why no single image could be returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Choice {
    /// Nothing fits; the images passed over, with why.
    NoMatch(Vec<(String, Skipped)>),
    /// Several fit and `most_recent` is false: their ids and names, oldest first.
    Several(Vec<(String, String)>),
}

/// The rules of a search's answer.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub most_recent: bool,
    pub include_deprecated: bool,
    /// Now, in seconds since the epoch.
    pub now: i64,
}

/// Whether the image was baked by this provider: it carries a build id.
pub fn ours(img: &ImageInfo) -> bool {
    img.tags
        .get(BUILD_ID_TAG)
        .is_some_and(|b| valid_build_id(b))
}

/// Whether the image's deprecation time has passed. A time EC2 would never
/// write (unreadable) counts as passed: never hand out what may be deprecated.
pub fn deprecated(img: &ImageInfo, now: i64) -> bool {
    img.deprecation_time.as_deref().is_some_and(|t| {
        aws_smithy_types::DateTime::from_str(t, aws_smithy_types::date_time::Format::DateTime)
            .map_or(true, |at| at.secs() <= now)
    })
}

/// The one image the rules allow among `found`.
pub fn choose(found: Vec<ImageInfo>, rules: Rules) -> Result<ImageInfo, Choice> {
    let mut skipped = Vec::new();
    let mut fit: Vec<ImageInfo> = Vec::new();
    for img in found.into_iter().filter(ours) {
        let why = match img.state.as_str() {
            "available" if deprecated(&img, rules.now) => Some(Skipped::Deprecated),
            "available" => None,
            "disabled" => Some(Skipped::Revoked),
            // Pending, failed, deregistered: nothing to launch.
            _ => continue,
        };
        match why {
            Some(why) if !rules.include_deprecated => skipped.push((img.id.clone(), why)),
            _ => fit.push(img),
        }
    }
    // ISO 8601 dates sort as strings; the id breaks ties so the choice is stable.
    fit.sort_by(|a, b| (&a.creation_date, &a.id).cmp(&(&b.creation_date, &b.id)));
    match fit.len() {
        0 => Err(Choice::NoMatch(skipped)),
        1 => Ok(fit.remove(0)),
        _ if !rules.most_recent => Err(Choice::Several(
            fit.into_iter().map(|i| (i.id, i.name)).collect(),
        )),
        _ => Ok(fit.pop().unwrap_or_default()),
    }
}

/// An EC2 search for images of this account, from the data source's
/// selector: every condition set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub input_digest: Option<String>,
    pub name: Option<String>,
    pub name_prefix: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl Search {
    /// DescribeImages filters. EC2 reads `*` and `?` in them as wildcards,
    /// so [`Search::matches`] checks each answer exactly; whether the
    /// provider made an image (`ours`) is checked on the answer too.
    pub fn filters(&self) -> Filters {
        let mut f = Filters::new();
        if let Some(d) = &self.input_digest {
            f.insert(format!("tag:{INPUT_DIGEST_TAG}"), d.clone());
        }
        if let Some(n) = &self.name {
            f.insert("name".into(), n.clone());
        } else if let Some(p) = &self.name_prefix {
            f.insert("name".into(), format!("{p}*"));
        }
        for (k, v) in &self.tags {
            f.insert(format!("tag:{k}"), v.clone());
        }
        f
    }

    /// Whether `img` is what was asked for, to the letter.
    pub fn matches(&self, img: &ImageInfo) -> bool {
        self.input_digest
            .as_ref()
            .is_none_or(|d| model::tagged_exactly(&img.tags, INPUT_DIGEST_TAG, d))
            && self.name.as_ref().is_none_or(|n| &img.name == n)
            && self
                .name_prefix
                .as_ref()
                .is_none_or(|p| img.name.starts_with(p.as_str()))
            && self
                .tags
                .iter()
                .all(|(k, v)| model::tagged_exactly(&img.tags, k, v))
    }

    /// This account's images that fit the search, in any state EC2 lists.
    pub async fn run(&self, ec2: &Ec2) -> Result<Vec<ImageInfo>, Ec2Error> {
        let found = ec2
            .api
            .describe_images(&["self".to_string()], &self.filters())
            .await?;
        Ok(found.into_iter().filter(|i| self.matches(i)).collect())
    }
}
