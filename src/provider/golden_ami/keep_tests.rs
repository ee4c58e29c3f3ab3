//! `reuse_identical` and `keep_previous` over the fake EC2: adoption, holds
//! and their release, and each half of a rebake in either order.

use super::keep;
use super::private::Private;
use super::tests::{over_fake, with};
use crate::ec2::fake::FakeEc2;
use crate::ec2::holders::{RETAINED_BY_TAG, holder_tag};
use crate::ec2::tags::INPUT_DIGEST_TAG;
use crate::protocol::value::Value;
use crate::provider::Lifecycle;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

const BAKER: &str = "0000000000aa";
const OTHER: &str = "0000000000bb";

fn private(holder: &str) -> Vec<u8> {
    Private {
        holder: Some(holder.into()),
        ..Private::default()
    }
    .bytes()
}

/// An image of this account baked from inputs digested as `digest`, held by `holders`.
fn image(fake: &Arc<FakeEc2>, name: &str, digest: &str, holders: &[&str]) -> String {
    let mut tags = BTreeMap::from([(INPUT_DIGEST_TAG.to_string(), digest.to_string())]);
    for h in holders {
        tags.insert(holder_tag(h), "2026-01-01T00:00:00Z".into());
    }
    fake.add_own_image(name, &tags)
}

fn ec2(fake: &Arc<FakeEc2>) -> crate::ec2::Ec2 {
    crate::ec2::Ec2::with_api(fake.clone(), "us-east-1".into())
}

async fn tags_of(fake: &Arc<FakeEc2>, id: &str) -> BTreeMap<String, String> {
    ec2(fake)
        .describe_image(id)
        .await
        .ok()
        .flatten()
        .map(|i| i.tags)
        .unwrap_or_default()
}

async fn snaps_of(fake: &Arc<FakeEc2>, id: &str) -> Vec<String> {
    ec2(fake)
        .describe_image(id)
        .await
        .ok()
        .flatten()
        .map(|i| i.snapshot_ids)
        .unwrap_or_default()
}

/// Whether none of `snaps` is left.
fn all_gone(fake: &Arc<FakeEc2>, snaps: &[String]) -> bool {
    !snaps.is_empty() && fake.snapshots().iter().all(|s| !snaps.contains(s))
}

async fn tag(fake: &Arc<FakeEc2>, id: &str, key: &str, value: &str) {
    ec2(fake)
        .create_tags(
            &[id.to_string()],
            &BTreeMap::from([(key.to_string(), value.to_string())]),
        )
        .await
        .unwrap();
}

/// Runs one ApplyResourceChange over the fake.
async fn apply(
    fake: &Arc<FakeEc2>,
    prior: Value,
    planned: Value,
    private: Vec<u8>,
) -> crate::provider::StateOutcome {
    let (c, stop, tasks, abandoned) = over_fake(fake);
    let life = Lifecycle {
        stop: &stop,
        tasks: &tasks,
        abandoned: &abandoned,
    };
    let config = planned.clone();
    super::apply::apply(&c, life, prior, planned, config, private).await
}

/// A planned new object with reuse_identical, as the plan leaves it.
fn planned_reuse(digest: &str) -> Value {
    let mut v = with(json!({
        "name": null, "name_prefix": "web-", "reuse_identical": true, "keep_previous": 1,
    }));
    v.set("input_digest", Value::string(digest));
    for a in [
        "id",
        "snapshot_ids",
        "creation_date",
        "build_id",
        "name",
        "reused",
    ] {
        v.set(a, Value::Unknown);
    }
    v
}

/// A second stack adopts the image instead of baking, and holds it; the
/// baker's destroy then leaves it, the last holder's destroy removes it.
#[tokio::test]
async fn an_identical_image_is_adopted_and_removed_by_its_last_holder() {
    let fake = FakeEc2::new();
    let id = image(&fake, "web-1", "d1", &[BAKER]);
    let snaps = snaps_of(&fake, &id).await;
    let out = apply(&fake, Value::Null, planned_reuse("d1"), vec![]).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(out.state.get("id").as_str(), Some(id.as_str()));
    assert_eq!(out.state.get("reused"), &Value::Bool(true));
    assert_eq!(out.state.get("name").as_str(), Some("web-1"));
    assert_eq!(fake.calls("RunInstances"), 0, "adopted: nothing launched");
    assert_eq!(
        fake.calls("ImportKeyPair") + fake.calls("CreateSecurityGroup"),
        0
    );
    let adopter = Private::read(&out.private).holder.expect("holder kept");
    assert!(
        tags_of(&fake, &id)
            .await
            .contains_key(&holder_tag(&adopter))
    );
    assert!(tags_of(&fake, &id).await.contains_key(&holder_tag(BAKER)));

    // The baker goes first: its hold is released, the image stays.
    let baker_state = with(json!({"id": id, "snapshot_ids": snaps}));
    let out_b = apply(&fake, baker_state, Value::Null, private(BAKER)).await;
    assert!(!out_b.diags.has_errors(), "{:?}", out_b.diags);
    assert_eq!(fake.own_images(), vec![id.clone()]);
    assert_eq!(fake.calls("DeregisterImage"), 0);
    assert!(!tags_of(&fake, &id).await.contains_key(&holder_tag(BAKER)));

    // The last holder's destroy removes the image and its snapshots.
    let out_a = apply(&fake, out.state, Value::Null, out.private).await;
    assert!(!out_a.diags.has_errors(), "{:?}", out_a.diags);
    assert!(out_a.state.is_null());
    assert!(fake.own_images().is_empty());
    assert!(all_gone(&fake, &snaps), "{:?}", fake.snapshots());
}

/// No adoption of a deprecated or retained image, nor of one with another
/// digest, nor, with a fixed name, of one named otherwise.
#[tokio::test]
async fn only_an_adoptable_identical_image_is_found() {
    let fake = FakeEc2::new();
    image(&fake, "web-other", "d2", &[BAKER]);
    let retained = image(&fake, "web-kept", "d1", &[BAKER]);
    tag(&fake, &retained, RETAINED_BY_TAG, BAKER).await;
    let ec2 = ec2(&fake);
    assert!(ec2.identical_images("d1").await.unwrap().is_empty());
    let fresh = image(&fake, "web-2", "d1", &[]);
    let found = ec2.identical_images("d1").await.unwrap();
    assert_eq!(
        found.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        vec![fresh.clone()]
    );
    // A configured name that differs: baked, not adopted (an AMI cannot be renamed).
    let named = super::reuse::adopt(&ec2, &planned_reuse("d1"), Some("web-9"), None, OTHER).await;
    assert!(named.is_none());
    assert!(
        !tags_of(&fake, &fresh)
            .await
            .contains_key(&holder_tag(OTHER))
    );
    // Deprecated in the past: on its way out.
    ec2.set_deprecation(&fresh, Some("2020-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(ec2.identical_images("d1").await.unwrap().is_empty());
}

#[test]
fn a_rebake_keeps_the_newest_and_drops_the_rest() {
    let prior = with(json!({"id": "ami-3", "previous_ids": ["ami-2", "ami-1"]}));
    let r = |keep| keep::plan_rebake(&prior, keep, false).unwrap();
    assert_eq!(r(0).kept, Vec::<String>::new());
    assert_eq!(r(0).dropped, vec!["ami-3", "ami-2", "ami-1"]);
    assert_eq!(r(1).kept, vec!["ami-3"]);
    assert_eq!(r(1).dropped, vec!["ami-2", "ami-1"]);
    assert_eq!(r(5).kept, vec!["ami-3", "ami-2", "ami-1"]);
    // An image refresh found gone is not kept.
    let gone = keep::plan_rebake(&prior, 1, true).unwrap();
    assert_eq!(
        (gone.kept, gone.dropped),
        (vec!["ami-2".to_string()], vec!["ami-1".to_string()])
    );
    // The plan says plainly what goes.
    let w = keep::retire_warning(&r(1)).expect("a warning");
    assert!(
        w.detail.contains("ami-3 will be deprecated"),
        "{}",
        w.detail
    );
    assert!(w.detail.contains("ami-2, ami-1"), "{}", w.detail);
    // A plain rebake (nothing kept, before or after) is no news.
    let plain = keep::plan_rebake(&with(json!({"id": "ami-3"})), 0, false).unwrap();
    assert!(keep::retire_warning(&plain).is_none());
}

/// A rebake planned in place: the apply makes the new image (adopted here,
/// so no bake), keeps the replaced one deprecated and tagged, and drops the
/// older one.
#[tokio::test]
async fn a_rebake_in_place_keeps_the_replaced_image() {
    let fake = FakeEc2::new();
    let p1 = image(&fake, "web-1", "d1", &[BAKER]);
    let old = image(&fake, "web-2", "d2", &[BAKER]);
    let identical = image(&fake, "web-x", "d3", &[OTHER]);
    let prior = with(
        json!({"name": null, "name_prefix": "web-", "id": old, "previous_ids": [p1], "keep_previous": 1}),
    );
    let mut planned = planned_reuse("d3");
    planned.set("previous_ids", Value::string_list([old.clone()]));
    let out = apply(&fake, prior, planned, private(BAKER)).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(out.state.get("id").as_str(), Some(identical.as_str()));
    assert_eq!(
        out.state.get("previous_ids").as_string_list(),
        vec![old.clone()]
    );
    assert_eq!(
        tags_of(&fake, &old)
            .await
            .get(RETAINED_BY_TAG)
            .map(String::as_str),
        Some(BAKER)
    );
    assert_eq!(fake.calls("EnableImageDeprecation"), 1);
    let mut left = fake.own_images();
    left.sort();
    let mut want = vec![old.clone(), identical.clone()];
    want.sort();
    assert_eq!(left, want, "p1 deregistered, the kept and the new stay");
    assert_eq!(Private::read(&out.private).holder.as_deref(), Some(BAKER));
}

/// A rebake whose bake fails retires nothing and keeps the prior state.
#[tokio::test]
async fn a_failed_rebake_keeps_everything() {
    let fake = FakeEc2::new();
    let old = image(&fake, "web-2", "d2", &[BAKER]);
    fake.fail("RunInstances", 1, "UnauthorizedOperation");
    let prior = with(json!({"name": null, "name_prefix": "web-", "id": old, "keep_previous": 1}));
    let mut planned = planned_reuse("d3");
    planned.set("reuse_identical", Value::Bool(false));
    let out = apply(&fake, prior.clone(), planned, private(BAKER)).await;
    assert!(out.diags.has_errors());
    assert_eq!(out.state, prior);
    assert_eq!(
        fake.calls("EnableImageDeprecation") + fake.calls("DeregisterImage"),
        0
    );
    assert!(!tags_of(&fake, &old).await.contains_key(RETAINED_BY_TAG));
}

/// `terraform destroy` removes the current image and every kept one.
#[tokio::test]
async fn a_real_destroy_removes_current_and_previous_images() {
    let fake = FakeEc2::new();
    let p1 = image(&fake, "web-1", "d1", &[BAKER]);
    tag(&fake, &p1, RETAINED_BY_TAG, BAKER).await;
    let cur = image(&fake, "web-2", "d2", &[BAKER]);
    let mut snaps = snaps_of(&fake, &cur).await;
    snaps.extend(snaps_of(&fake, &p1).await);
    let state = with(json!({"id": cur, "previous_ids": [p1]}));
    let out = apply(&fake, state, Value::Null, private(BAKER)).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert!(fake.own_images().is_empty());
    assert!(all_gone(&fake, &snaps), "{:?}", fake.snapshots());
}

/// With keep_previous, the plan of a rebake is an update: the id becomes
/// unknown, `previous_ids` is known, and a warning names what is retired;
/// without, it stays a replace.
#[tokio::test]
async fn a_rebake_with_keep_previous_is_planned_in_place() {
    let cfg = json!({"name": null, "name_prefix": "web-", "keep_previous": 1});
    let mut prior = with(cfg.clone());
    prior.set("id", Value::string("ami-2"));
    prior.set("previous_ids", Value::string_list(["ami-1"]));
    let d = super::digest::input_digest(&prior);
    prior.set("input_digest", d);
    let mut config = cfg.clone();
    config["triggers"] = json!({"v": "2"});
    let config = with(config);
    let plan = |config: Value| {
        super::plan(
            None,
            prior.clone(),
            config.clone(),
            config,
            private(BAKER),
            false,
        )
    };
    let out = plan(config.clone()).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert!(
        out.requires_replace.is_empty(),
        "{:?}",
        out.requires_replace
    );
    assert_eq!(out.planned.get("id"), &Value::Unknown);
    assert_eq!(out.planned.get("name"), &Value::Unknown);
    assert_eq!(
        out.planned.get("previous_ids").as_string_list(),
        vec!["ami-2"]
    );
    let warn = format!("{:?}", out.diags);
    assert!(
        warn.contains("ami-2 will be deprecated") && warn.contains("ami-1"),
        "{warn}"
    );
    let mut zero = config;
    zero.set("keep_previous", Value::Number(0.0));
    let out = plan(zero).await;
    assert!(
        !out.requires_replace.is_empty(),
        "keep_previous = 0 replaces"
    );
}

/// Lowering keep_previous in place drops the oldest kept images.
#[tokio::test]
async fn lowering_keep_previous_in_place_drops_the_oldest() {
    let fake = FakeEc2::new();
    let p2 = image(&fake, "web-2", "d2", &[BAKER]);
    let p1 = image(&fake, "web-1", "d1", &[BAKER]);
    let cur = image(&fake, "web-3", "d3", &[BAKER]);
    let cfg = json!({"name": null, "name_prefix": "web-", "keep_previous": 2});
    let mut prior = with(cfg.clone());
    prior.set("id", Value::string(&cur));
    prior.set("previous_ids", Value::string_list([p2.clone(), p1.clone()]));
    let mut lower = cfg;
    lower["keep_previous"] = json!(1);
    let mut proposed = with(lower.clone());
    proposed.set("id", Value::string(&cur));
    proposed.set("previous_ids", Value::string_list([p2.clone(), p1.clone()]));
    let out = super::plan(
        None,
        prior.clone(),
        proposed,
        with(lower),
        private(BAKER),
        false,
    )
    .await;
    assert!(
        out.requires_replace.is_empty(),
        "{:?}",
        out.requires_replace
    );
    assert_eq!(
        out.planned.get("previous_ids").as_string_list(),
        vec![p2.clone()]
    );
    assert!(format!("{:?}", out.diags).contains(&p1));
    let done = apply(&fake, prior, out.planned, private(BAKER)).await;
    assert!(!done.diags.has_errors(), "{:?}", done.diags);
    let mut left = fake.own_images();
    left.sort();
    let mut want = vec![p2, cur];
    want.sort();
    assert_eq!(left, want);
}

/// A destroy that fails keeps the private state: the retry releases the
/// same hold (else the image would look held by a stranger and stay).
#[tokio::test]
async fn a_failed_destroy_keeps_the_holder_for_the_retry() {
    let fake = FakeEc2::new();
    let id = image(&fake, "web-1", "d1", &[BAKER]);
    fake.fail("DeregisterImage", 1, "UnauthorizedOperation");
    let state = with(json!({"id": id, "snapshot_ids": []}));
    let out = apply(&fake, state.clone(), Value::Null, private(BAKER)).await;
    assert!(out.diags.has_errors());
    assert_eq!(out.private, private(BAKER));
    let out = apply(&fake, state, Value::Null, out.private).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert!(fake.own_images().is_empty());
}
