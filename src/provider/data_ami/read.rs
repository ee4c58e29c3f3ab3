//! ReadDataSource: search, choose, and fill the computed attributes from
//! the image found (and its copies in other regions).

use super::lookup::{Choice, Rules, Search, Skipped, choose};
use super::schema::{DataAmi, schema};
use crate::ec2::Ec2;
use crate::ec2::images::ImageInfo;
use crate::ec2::tags::{BUILD_ID_TAG, INPUT_DIGEST_TAG, SOURCE_AMI_TAG};
use crate::protocol::diag::{AttrPath, Diagnostic};
use crate::protocol::value::Value;
use crate::provider::schema::decode::decode;
use crate::provider::{Configured, StateOutcome};
use std::collections::BTreeMap;

/// What was searched, for the messages: the attribute that selected and a
/// sentence naming the search.
#[derive(Debug, Clone)]
pub struct Searched {
    pub attr: &'static str,
    pub what: String,
}

/// The search the configuration's selector asks for (validation made
/// sure there is one), and what to call it in a message. None for a
/// channel, which names its image.
pub fn search(cfg: &DataAmi) -> Option<(Search, Searched)> {
    let (attr, value) = if let Some(d) = &cfg.input_digest {
        ("input_digest", d)
    } else if let Some(n) = &cfg.name {
        ("name", n)
    } else {
        ("name_prefix", cfg.name_prefix.as_ref()?)
    };
    let mut what = format!("{attr} = {value:?}");
    if !cfg.tags.is_empty() {
        let list: Vec<String> = cfg
            .tags
            .iter()
            .map(|(k, v)| format!("{k} = {v:?}"))
            .collect();
        what.push_str(&format!(" and tags {{ {} }}", list.join(", ")));
    }
    let s = Search {
        input_digest: cfg.input_digest.clone(),
        name: cfg.name.clone().filter(|_| cfg.input_digest.is_none()),
        name_prefix: cfg
            .name_prefix
            .clone()
            .filter(|_| cfg.input_digest.is_none()),
        tags: cfg.tags.clone(),
    };
    Some((s, Searched { attr, what }))
}

/// Seconds since the epoch, now.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The diagnostic for a search that found no single image.
pub fn choice_diag(c: Choice, searched: &Searched, region: &str) -> Diagnostic {
    let d = match c {
        Choice::NoMatch(skipped) => {
            let mut detail = format!(
                "No image made by the golden provider in {region} has {}.",
                searched.what
            );
            if !skipped.is_empty() {
                let list: Vec<String> = skipped
                    .iter()
                    .map(|(id, why)| {
                        let why = match why {
                            Skipped::Deprecated => "deprecated",
                            Skipped::Revoked => "revoked (disabled)",
                        };
                        format!("{id} ({why})")
                    })
                    .collect();
                detail.push_str(&format!(
                    " Passed over: {}; set include_deprecated = true to consider them.",
                    list.join(", ")
                ));
            }
            Diagnostic::error("No matching image", detail)
        }
        Choice::Several(images) => {
            let list: Vec<String> = images
                .iter()
                .map(|(id, name)| format!("{id} ({name})"))
                .collect();
            Diagnostic::error(
                "Several matching images",
                format!(
                    "{} images in {region} have {}: {}. Set most_recent = true to take the newest, or narrow the search.",
                    images.len(),
                    searched.what,
                    list.join(", ")
                ),
            )
        }
    };
    d.at(AttrPath::root(searched.attr))
}

/// The image's id in each region of its `golden:copy-regions` tag (copies
/// found by build id), `region` itself included. A copy not found is left
/// out, and logged.
pub async fn region_ami_ids(
    c: &Configured,
    img: &ImageInfo,
    region: &str,
) -> Result<BTreeMap<String, String>, Diagnostic> {
    c.ec2_in(region)
        .copies_of(img)
        .await
        .map_err(|e| Diagnostic::error("Cannot look up the image's copies", e.to_string()))
}

/// The state: the configuration with every computed attribute read from `img`.
fn state(config: &Value, img: &ImageInfo, region: &str, ids: BTreeMap<String, String>) -> Value {
    let mut s = schema().block.conform(config);
    let tag = |k: &str| Value::opt_string(img.tags.get(k).cloned());
    s.set("id", Value::string(&img.id));
    s.set("name", Value::string(&img.name));
    s.set("region", Value::string(region));
    s.set("creation_date", Value::string(&img.creation_date));
    s.set("input_digest", tag(INPUT_DIGEST_TAG));
    s.set("source_ami_id", tag(SOURCE_AMI_TAG));
    s.set("build_id", tag(BUILD_ID_TAG));
    s.set(
        "tags",
        Value::string_map(
            img.tags
                .iter()
                .filter(|(k, _)| !k.starts_with("golden:"))
                .map(|(k, v)| (k.clone(), v.clone())),
        ),
    );
    s.set("snapshot_ids", Value::string_list(img.snapshot_ids.clone()));
    s.set("region_ami_ids", Value::string_map(ids));
    s.set(
        "deprecation_time",
        Value::opt_string(img.deprecation_time.clone()),
    );
    s
}

/// Finds the image in `ec2`'s region by the configured selector.
async fn find(
    c: &Configured,
    ec2: &Ec2,
    cfg: &DataAmi,
    rules: Rules,
) -> Result<ImageInfo, Diagnostic> {
    if let Some(name) = &cfg.channel {
        let id = super::channel::resolve(c, &ec2.region, name, cfg.channel_version).await?;
        let searched = Searched {
            attr: "channel",
            what: match cfg.channel_version {
                Some(v) => format!("the id channel {name:?} held at version {v} ({id})"),
                None => format!("the id channel {name:?} holds ({id})"),
            },
        };
        let found = ec2
            .api
            .describe_images_by_id(std::slice::from_ref(&id))
            .await
            .or_else(|e| if e.is_not_found() { Ok(vec![]) } else { Err(e) })
            .map_err(|e| {
                Diagnostic::error("Cannot look up the channel's image", e.to_string())
                    .at(AttrPath::root("channel"))
            })?;
        return choose(found, rules).map_err(|ch| choice_diag(ch, &searched, &ec2.region));
    }
    let Some((search, searched)) = search(cfg) else {
        return Err(Diagnostic::error(
            "No image selector",
            "Set exactly one of `channel`, `input_digest`, `name` / `name_prefix`.",
        ));
    };
    let found = search.run(ec2).await.map_err(|e| {
        Diagnostic::error("Cannot search for the image", e.to_string())
            .at(AttrPath::root(searched.attr))
    })?;
    choose(found, rules).map_err(|ch| choice_diag(ch, &searched, &ec2.region))
}

pub async fn read(c: &Configured, config: Value) -> StateOutcome {
    let cfg: DataAmi = match decode(&config) {
        Ok(cfg) => cfg,
        Err(e) => {
            return StateOutcome::err(
                config,
                Diagnostic::error("Cannot read the data source's configuration", e.to_string()),
            );
        }
    };
    let region = cfg.region.clone().unwrap_or_else(|| c.ec2.region.clone());
    let ec2 = c.ec2_in(&region);
    let rules = Rules {
        most_recent: cfg.most_recent,
        include_deprecated: cfg.include_deprecated,
        now: now(),
    };
    let img = match find(c, &ec2, &cfg, rules).await {
        Ok(img) => img,
        Err(d) => return StateOutcome::err(config, d),
    };
    tracing::info!(
        id = img.id,
        region,
        "data source golden_ami found its image"
    );
    match region_ami_ids(c, &img, &region).await {
        Ok(ids) => StateOutcome {
            state: state(&config, &img, &region, ids),
            private: vec![],
            diags: Default::default(),
        },
        Err(d) => StateOutcome::err(config, d),
    }
}
