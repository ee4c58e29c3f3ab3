//! The runner and the steps that talk to EC2, against the in-memory fake:
//! the retry and cleanup branches that decide whether anything leaks. The
//! steps needing SSH (connect, provision, stop) are left to the end-to-end
//! tests; a stand-in step fails where they would run.

use super::leftovers::JournalEntry;
use super::runner::{BakeOutcome, run};
use super::steps::{self, Step, StepFuture};
use super::{BakeContext, BakeError, BakeSpec, MetadataSpec, SourceSpec, SshSpec};
use crate::ec2::Ec2;
use crate::ec2::fake::{DEFAULT_VPC, FakeEc2, SOURCE_AMI, Timing};
use crate::ec2::tags::BUILD_ID_TAG;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A bake of the fake's source image, reachable without a public IP lookup.
fn spec() -> BakeSpec {
    BakeSpec {
        build_id: "b1".into(),
        image_name: "golden-test".into(),
        description: None,
        instance_type: "t3.micro".into(),
        source: SourceSpec::Id(SOURCE_AMI.into()),
        ssh: SshSpec {
            username: "ec2-user".into(),
            host: None,
            port: 22,
            timeout: Duration::from_secs(5),
            allowed_cidrs: vec!["10.0.0.0/8".into()],
            interface: None,
            host_key: None,
            bastion: None,
            key_pair_name: None,
            private_key: None,
            host_key_check: crate::bake::spec::HostKeyCheck::Console,
        },
        provision: vec![],
        tags: BTreeMap::new(),
        hold_tags: BTreeMap::new(),
        snapshot_tags: BTreeMap::new(),
        run_tags: BTreeMap::new(),
        network: Default::default(),
        key_pair_type: crate::bake::spec::KeyPairType::Ed25519,
        run_volume_tags: BTreeMap::new(),
        imds_support: None,
        ena_support: None,
        sriov_support: false,
        launch: Default::default(),
        launch_block_devices: vec![],
        spot: None,
        ami_block_devices: vec![],
        encrypt_boot: false,
        kms_key_id: None,
        input_digest: None,
        user_data: None,
        associate_public_ip: None,
        create_timeout: Duration::from_secs(60),
        delete_timeout: Duration::from_secs(60),
        launch_principals: vec![],
        snapshot_principals: vec![],
        public_ip_url: "http://127.0.0.1:9/".into(),
        metadata: MetadataSpec {
            http_tokens: crate::bake::spec::HttpTokens::Required,
            http_endpoint: crate::bake::spec::HttpEndpoint::Enabled,
            http_put_response_hop_limit: None,
        },
        deprecate_at: None,
        deregistration_protection: None,
        force_deregister: false,
        force_delete_snapshot: false,
        copy_regions: vec![],
        snapshot_copy_minutes: None,
    }
}

/// The bake's own steps named, in bake order.
fn steps_named(names: &[&str]) -> Vec<Box<dyn Step>> {
    steps::all()
        .into_iter()
        .filter(|s| names.contains(&s.name()))
        .collect()
}

const TO_LAUNCH: &[&str] = &["source_ami", "key_pair", "security_group", "launch"];

/// Stands in for the steps after launch, and fails.
struct Fails;

impl Step for Fails {
    fn name(&self) -> &'static str {
        "provision"
    }
    fn run<'a, 'b: 'a>(&'a self, _cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async { Err(BakeError::Invalid("the test's step fails".into())) })
    }
}

/// Takes a moment, so a wait after it ends later than the bake's timer.
struct Pause;

impl Step for Pause {
    fn name(&self) -> &'static str {
        "pause"
    }
    fn run<'a, 'b: 'a>(&'a self, _cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(())
        })
    }
}

async fn bake(fake: &Arc<FakeEc2>, spec: &BakeSpec, steps: Vec<Box<dyn Step>>) -> BakeOutcome {
    let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
    run(
        spec,
        &ec2,
        &CancellationToken::new(),
        &steps,
        JournalEntry::none(),
    )
    .await
}

/// Nothing the bake made is left: no instance alive, no group, no key pair,
/// no image of ours.
fn nothing_left(fake: &FakeEc2) {
    assert!(fake.live_instances().is_empty(), "{:?}", fake.log());
    assert!(fake.groups().is_empty(), "{:?}", fake.log());
    assert!(fake.key_pairs().is_empty(), "{:?}", fake.log());
    assert!(fake.own_images().is_empty(), "{:?}", fake.log());
}

fn failed_at<'a>(o: &'a BakeOutcome, step: &str) -> &'a BakeError {
    match &o.error {
        Some(e) if e.step == step => &e.error,
        other => panic!("expected a failure at {step}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_launch_removes_the_key_pair_and_the_group() {
    let fake = FakeEc2::new();
    fake.fail("RunInstances", 1, "InsufficientInstanceCapacity");
    let o = bake(&fake, &spec(), steps_named(TO_LAUNCH)).await;
    let e = failed_at(&o, "launch");
    assert!(
        e.to_string().contains("InsufficientInstanceCapacity"),
        "{e}"
    );
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    nothing_left(&fake);
    // Not recorded: the cleanup looked for an instance by build id, found none.
    assert_eq!(fake.calls("DescribeInstances"), 1);
    assert_eq!(fake.calls("TerminateInstances"), 0);
}

#[tokio::test]
async fn a_launch_whose_answer_was_lost_is_found_by_build_id_and_ended_first() {
    let fake = FakeEc2::new();
    fake.set_timing(Timing {
        terminate: Duration::from_millis(300),
        ..Default::default()
    });
    fake.lose_answer("RunInstances", 1);
    let o = bake(&fake, &spec(), steps_named(TO_LAUNCH)).await;
    failed_at(&o, "launch");
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    let [id] = fake
        .instances()
        .try_into()
        .unwrap_or_else(|v| panic!("{v:?}"));
    nothing_left(&fake);
    // The group could only go once the instance was gone.
    let (Some(terminate), Some(deleted)) = (
        fake.first(&format!("TerminateInstances {id}")),
        fake.log()
            .iter()
            .rposition(|l| l.starts_with("DeleteSecurityGroup ")),
    ) else {
        panic!("{:?}", fake.log())
    };
    assert!(terminate < deleted, "{:?}", fake.log());
    assert!(fake.calls("DeleteSecurityGroup") >= 2, "{:?}", fake.log());
}

/// What can go at once goes first: the instance is told to terminate and
/// the key pair is deleted before anything waits for the group, which EC2
/// keeps while the instance terminates (30-90 s: longer than a killed
/// plugin has).
#[tokio::test]
async fn the_key_pair_goes_at_once_and_the_group_after_the_instance() {
    let fake = FakeEc2::new();
    fake.set_timing(Timing {
        terminate: Duration::from_millis(400),
        ..Default::default()
    });
    let mut steps = steps_named(TO_LAUNCH);
    steps.push(Box::new(Fails));
    let o = bake(&fake, &spec(), steps).await;
    assert!(matches!(failed_at(&o, "provision"), BakeError::Invalid(_)));
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    nothing_left(&fake);
    let log = fake.log();
    let first = |prefix: &str| {
        log.iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {log:?}"))
    };
    assert!(
        first("DeleteKeyPair ") < first("DeleteSecurityGroup "),
        "{log:?}"
    );
    assert!(
        first("TerminateInstances ") < first("DeleteSecurityGroup "),
        "{log:?}"
    );
    // Each released once, not again by its cleanup.
    assert_eq!(fake.calls("TerminateInstances"), 1, "{log:?}");
    assert_eq!(fake.calls("DeleteKeyPair"), 1, "{log:?}");
    // The group was held while the instance terminated.
    assert!(fake.calls("DeleteSecurityGroup") >= 2, "{log:?}");
}

/// Everything temporary carries the build id and `golden:expires-at`; the
/// kept image and its snapshots keep the build id and lose the expiry.
#[tokio::test]
async fn temporary_resources_expire_and_the_kept_image_does_not() {
    use crate::ec2::tags::EXPIRES_AT_TAG;
    let fake = FakeEc2::new();
    let mut s = spec();
    s.build_id = "0000000000b1".into();
    let steps = steps_named(&[
        "source_ami",
        "key_pair",
        "security_group",
        "launch",
        "create_image",
    ]);
    let t0 = std::time::SystemTime::now();
    let o = bake(&fake, &s, steps).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    let Some(image) = o.image else {
        panic!("no image: {:?}", fake.log())
    };
    let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
    // The instance (terminated, still listed) carried both tags.
    let Ok(instances) = ec2
        .api
        .describe_instances(&crate::ec2::model::tag_filter(BUILD_ID_TAG, &s.build_id))
        .await
    else {
        panic!()
    };
    let [inst] = instances.as_slice() else {
        panic!("{instances:?}")
    };
    let expires = inst.tags.get(EXPIRES_AT_TAG).cloned().unwrap_or_default();
    let want = crate::ec2::expiry::expires_at(t0, s.create_timeout + s.delete_timeout);
    assert!(
        expires >= want && expires.len() == want.len(),
        "{expires} vs {want}"
    );
    let Ok(Some(img)) = ec2.describe_image(&image.id).await else {
        panic!()
    };
    assert_eq!(img.tags.get(BUILD_ID_TAG), Some(&s.build_id));
    assert!(!img.tags.contains_key(EXPIRES_AT_TAG), "{:?}", img.tags);
    let Ok(snaps) = ec2.snapshot_tags(&img.snapshot_ids).await else {
        panic!()
    };
    for t in snaps.values() {
        assert_eq!(t.get(BUILD_ID_TAG), Some(&s.build_id));
        assert!(!t.contains_key(EXPIRES_AT_TAG), "{t:?}");
    }
    // One call, the snapshots named before the image.
    let log = fake.log();
    let untag: Vec<&String> = log.iter().filter(|l| l.starts_with("DeleteTags")).collect();
    assert_eq!(untag.len(), 1, "{log:?}");
    assert!(
        untag[0].ends_with(&image.id) && untag[0].contains("snap-"),
        "{log:?}"
    );
}

#[tokio::test]
async fn an_instance_not_found_right_after_launch_is_waited_for() {
    let fake = FakeEc2::new();
    fake.hide_new(2);
    let o = bake(&fake, &spec(), steps_named(TO_LAUNCH)).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    nothing_left(&fake);
}

#[tokio::test]
async fn an_image_whose_answer_was_lost_is_found_by_build_id_and_removed() {
    let fake = FakeEc2::new();
    let snapshots_before = fake.snapshots();
    fake.lose_answer("CreateImage", 1);
    let mut names = TO_LAUNCH.to_vec();
    names.push("create_image");
    let o = bake(&fake, &spec(), steps_named(&names)).await;
    failed_at(&o, "create_image");
    assert!(o.image.is_none());
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    nothing_left(&fake);
    assert_eq!(fake.snapshots(), snapshots_before, "{:?}", fake.log());
    assert_eq!(fake.calls("DeregisterImage"), 1);
}

#[tokio::test]
async fn a_finished_image_is_kept_and_an_earlier_one_of_ours_adopted() {
    let fake = FakeEc2::new();
    let s = spec();
    // A CreateImage that succeeded unseen, retried: the name is taken, by us.
    let ours = BTreeMap::from([(BUILD_ID_TAG.to_string(), s.build_id.clone())]);
    let earlier = fake.add_own_image(&s.image_name, &ours);
    let mut names = TO_LAUNCH.to_vec();
    names.push("create_image");
    let o = bake(&fake, &s, steps_named(&names)).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(
        o.image.as_ref().map(|i| i.id.as_str()),
        Some(earlier.as_str())
    );
    assert_eq!(fake.own_images(), vec![earlier]);
    assert!(fake.live_instances().is_empty() && fake.groups().is_empty());
}

#[tokio::test]
async fn an_image_name_taken_by_another_build_fails_and_is_left_alone() {
    let fake = FakeEc2::new();
    let s = spec();
    let theirs = BTreeMap::from([(BUILD_ID_TAG.to_string(), "someone-else".to_string())]);
    let other = fake.add_own_image(&s.image_name, &theirs);
    let mut names = TO_LAUNCH.to_vec();
    names.push("create_image");
    let o = bake(&fake, &s, steps_named(&names)).await;
    let e = failed_at(&o, "create_image");
    assert!(e.to_string().contains("InvalidAMIName.Duplicate"), "{e}");
    assert_eq!(fake.own_images(), vec![other]);
    assert!(fake.live_instances().is_empty() && fake.groups().is_empty());
}

#[tokio::test]
async fn a_group_an_unseen_create_made_is_adopted_and_removed() {
    let fake = FakeEc2::new();
    let s = spec();
    fake.add_group(
        &format!("golden-{}", s.build_id),
        DEFAULT_VPC,
        &BTreeMap::new(),
    );
    let o = bake(&fake, &s, steps_named(&["key_pair", "security_group"])).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(fake.calls("CreateSecurityGroup"), 1);
    assert_eq!(fake.calls("AuthorizeSecurityGroupIngress"), 1);
    nothing_left(&fake);
}

#[tokio::test]
async fn a_remembered_vpc_that_is_gone_is_asked_again() {
    let fake = FakeEc2::new();
    let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
    let s = spec();
    let steps = steps_named(&["security_group"]);
    let never = CancellationToken::new();
    let o = run(&s, &ec2, &never, &steps, JournalEntry::none()).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    // The default VPC is recreated between two bakes.
    fake.remove_vpc(DEFAULT_VPC);
    fake.add_vpc("vpc-new", "10.9.0.0/16", true);
    let o = run(&s, &ec2, &never, &steps, JournalEntry::none()).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(fake.calls("DescribeVpcs"), 2);
    assert_eq!(fake.calls("CreateSecurityGroup"), 3);
    assert!(fake.groups().is_empty());
}

#[tokio::test]
async fn the_create_timeout_ends_the_wait_as_timed_out_and_cleans_up() {
    let fake = FakeEc2::new();
    fake.set_timing(Timing {
        boot: Duration::from_secs(3600),
        ..Default::default()
    });
    let mut s = spec();
    s.create_timeout = Duration::from_secs(1);
    // The launch wait is bounded by the create timeout too: started a
    // moment after the bake's timer, it is the timer that ends it.
    let mut steps = steps_named(&TO_LAUNCH[..3]);
    steps.push(Box::new(Pause));
    steps.extend(steps_named(&["launch"]));
    let o = bake(&fake, &s, steps).await;
    let e = failed_at(&o, "launch");
    assert!(matches!(e, BakeError::TimedOut(1)), "{e:?}");
    assert_eq!(e.to_string(), "timed out: the create timeout (1s) passed");
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    nothing_left(&fake);
}

#[tokio::test]
async fn stop_provider_cancels_the_wait_and_cleans_up() {
    let fake = FakeEc2::new();
    fake.set_timing(Timing {
        boot: Duration::from_secs(3600),
        ..Default::default()
    });
    let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
    let stop = CancellationToken::new();
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop.cancel();
        })
    };
    let (s, steps) = (spec(), steps_named(TO_LAUNCH));
    let o = run(&s, &ec2, &stop, &steps, JournalEntry::none()).await;
    let _ = stopper.await;
    let e = failed_at(&o, "launch");
    assert!(matches!(e, BakeError::Cancelled(_)), "{e:?}");
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    nothing_left(&fake);
}

#[test]
fn a_cancellation_is_seen_through_every_layer() {
    use crate::provision::ProvisionError;
    use crate::retry::Cancelled;
    use crate::ssh::SshError;
    let nested = BakeError::Provision {
        index: 0,
        kind: "shell",
        source: ProvisionError::Ssh(SshError::Cancelled(Cancelled)),
    };
    assert!(nested.is_cancelled());
    assert!(BakeError::Wait(Cancelled.into()).is_cancelled());
    assert!(!BakeError::Internal("never connected".into()).is_cancelled());
    assert!(!BakeError::TimedOut(1).is_cancelled());
}

/// EC2 is eventually consistent: a "not found" for what this bake created a
/// moment ago (the instance, the image, the group, the key pair) is retried
/// before it counts as gone, so nothing is left behind.
#[tokio::test]
async fn a_not_found_right_after_create_is_retried_not_taken_as_gone() {
    let fake = FakeEc2::new();
    fake.fail("TerminateInstances", 1, "InvalidInstanceID.NotFound");
    fake.fail("DeregisterImage", 1, "InvalidAMIID.NotFound");
    fake.fail("DeleteSecurityGroup", 1, "InvalidGroup.NotFound");
    fake.fail("DeleteKeyPair", 1, "InvalidKeyPair.NotFound");
    // The wait for the new image fails, so its cleanup deregisters it.
    fake.fail("DescribeImages", 2, "UnauthorizedOperation");
    let steps = steps_named(&[
        "source_ami",
        "key_pair",
        "security_group",
        "launch",
        "create_image",
    ]);
    let o = bake(&fake, &spec(), steps).await;
    failed_at(&o, "create_image");
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    nothing_left(&fake);
    for action in [
        "TerminateInstances",
        "DeregisterImage",
        "DeleteSecurityGroup",
        "DeleteKeyPair",
    ] {
        assert_eq!(fake.calls(action), 2, "{action}: {:?}", fake.log());
    }
}

/// Stands in for the bake up to a finished image: one the fake already holds.
struct Finished(String);

impl Step for Finished {
    fn name(&self) -> &'static str {
        "create_image"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            let img = cx
                .ec2
                .describe_image(&self.0)
                .await
                .map_err(|e| BakeError::Invalid(e.to_string()))?;
            cx.image_id = Some(self.0.clone());
            cx.image = img;
            cx.image_kept = true;
            Ok(())
        })
    }
}

/// Deregistration protection is the bake's last act (nothing after it can
/// fail, so the bake's cleanup never meets a protected image), and giving up
/// this bake's own image (Terraform gone) lifts it before deregistering.
#[tokio::test]
async fn protection_comes_last_and_an_abandoned_image_is_still_removed() {
    let fake = FakeEc2::new();
    let id = fake.add_own_image("golden-test", &Default::default());
    let mut s = spec();
    s.deregistration_protection = Some(false);
    s.launch_principals = vec!["210987654321".into()];
    s.deprecate_at = Some("2099-01-01T00:00:00Z".into());
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(Finished(id.clone()))];
    steps.extend(steps_named(&["share"]));
    let o = bake(&fake, &s, steps).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    let log = fake.log();
    let protect = fake
        .first(&format!("EnableImageDeregistrationProtection {id}"))
        .unwrap_or_else(|| panic!("{log:?}"));
    let share = fake.first(&format!("ModifyImageAttribute {id}"));
    let deprecate = fake.first(&format!("EnableImageDeprecation {id}"));
    assert!(share.is_some_and(|i| i < protect), "{log:?}");
    assert!(deprecate.is_some_and(|i| i < protect), "{log:?}");
    let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
    let shown = ec2.describe_image(&id).await.unwrap().unwrap();
    assert_eq!(
        shown.deregistration_protection.as_deref(),
        Some("enabled-without-cooldown")
    );
    ec2.delete_new_image_and_snapshots(&id, &[], &CancellationToken::new())
        .await
        .unwrap();
    assert!(fake.own_images().is_empty(), "{log:?}");
}

/// `force_deregister` removes only another image of that name (not one this
/// bake made on an earlier, unseen attempt), and leaves it without the flag.
#[tokio::test]
async fn force_deregister_removes_the_other_image_of_that_name_only() {
    let fake = FakeEc2::new();
    let other = fake.add_own_image("golden-test", &Default::default());
    let ours = fake.add_own_image(
        "golden-test",
        &BTreeMap::from([(crate::ec2::tags::BUILD_ID_TAG.to_string(), "b1".to_string())]),
    );
    let o = bake(&fake, &spec(), steps_named(&["deregister_existing"])).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(fake.own_images().len(), 2, "without the flag nothing goes");
    let mut s = spec();
    s.force_deregister = true;
    let o = bake(&fake, &s, steps_named(&["deregister_existing"])).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(fake.own_images(), vec![ours], "{:?}", fake.log());
    assert!(fake.first(&format!("DeregisterImage {other}")).is_some());
}

/// A spot bake: `spot_price` set, these types (empty: `instance_type`).
fn spot_spec(max_price: Option<&str>, types: &[&str], fallback: bool) -> BakeSpec {
    let mut s = spec();
    s.spot = Some(crate::bake::spec::SpotSpec {
        max_price: max_price.map(str::to_string),
        instance_types: types.iter().map(|t| t.to_string()).collect(),
        strategy: None,
        tags: BTreeMap::from([("team".to_string(), "images".to_string())]),
        fallback_on_demand: fallback,
    });
    s
}

/// (type, spot max price if spot) of every RunInstances request, in order.
fn launched(fake: &FakeEc2) -> Vec<(String, Option<Option<String>>)> {
    fake.launches()
        .into_iter()
        .map(|l| (l.instance_type, l.spot.map(|m| m.max_price)))
        .collect()
}

fn t(s: &str) -> String {
    s.to_string()
}

#[tokio::test]
async fn spot_auto_launches_instance_type_as_spot_tagged_and_cancels_the_request() {
    use crate::ec2::tags::EXPIRES_AT_TAG;
    let fake = FakeEc2::new();
    let s = spot_spec(None, &[], false);
    let o = bake(&fake, &s, steps_named(TO_LAUNCH)).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    // `auto`: no MaxPrice, up to the on-demand price.
    assert_eq!(launched(&fake), vec![(s.instance_type.clone(), Some(None))]);
    let [l] = fake
        .launches()
        .try_into()
        .unwrap_or_else(|v| panic!("{v:?}"));
    let Some(m) = l.spot else { panic!() };
    assert_eq!(
        m.request_tags.get("team").map(String::as_str),
        Some("images")
    );
    assert_eq!(m.request_tags.get(BUILD_ID_TAG), Some(&s.build_id));
    assert!(
        m.request_tags.contains_key(EXPIRES_AT_TAG),
        "{:?}",
        m.request_tags
    );
    // Released (told to terminate) before the cleanups, the instance closed
    // its one-time request; the cleanup cancelled it all the same.
    let [(_, state)] = fake
        .spot_requests()
        .try_into()
        .unwrap_or_else(|v| panic!("{v:?}"));
    assert!(state == "closed" || state == "cancelled", "{state}");
    assert_eq!(
        fake.calls("CancelSpotInstanceRequests"),
        1,
        "{:?}",
        fake.log()
    );
    nothing_left(&fake);
}

#[tokio::test]
async fn spot_types_are_tried_in_order_at_the_max_price() {
    let fake = FakeEc2::new();
    fake.no_spot_capacity(&["m5.large"]);
    let s = spot_spec(Some("0.05"), &["m5.large", "m6i.large", "c5.large"], false);
    let o = bake(&fake, &s, steps_named(TO_LAUNCH)).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    let max = Some(Some(t("0.05")));
    assert_eq!(
        launched(&fake),
        vec![(t("m5.large"), max.clone()), (t("m6i.large"), max)]
    );
    // Each attempt is a request of its own.
    let tokens: Vec<String> = fake
        .launches()
        .into_iter()
        .map(|l| l.client_token)
        .collect();
    assert_ne!(tokens[0], tokens[1]);
    // No price lookup without a price-led strategy.
    assert_eq!(fake.calls("DescribeSpotPriceHistory"), 0);
    nothing_left(&fake);
}

#[tokio::test]
async fn lowest_price_tries_the_cheapest_type_first() {
    use crate::bake::spec::SpotAllocationStrategy;
    let fake = FakeEc2::new();
    fake.set_spot_price("m5.large", "0.0400");
    fake.set_spot_price("c5.large", "0.0310");
    fake.no_spot_capacity(&["c5.large"]);
    let mut s = spot_spec(None, &["m5.large", "m6i.large", "c5.large"], false);
    if let Some(sp) = s.spot.as_mut() {
        sp.strategy = Some(SpotAllocationStrategy::LowestPrice);
    }
    let o = bake(&fake, &s, steps_named(TO_LAUNCH)).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    // c5 (cheapest, no capacity), then m5; m6i has no price and comes last.
    assert_eq!(
        launched(&fake),
        vec![(t("c5.large"), Some(None)), (t("m5.large"), Some(None))]
    );
    nothing_left(&fake);
}

#[tokio::test]
async fn no_spot_capacity_without_fallback_fails_and_leaves_nothing() {
    let fake = FakeEc2::new();
    fake.no_spot_capacity(&["*"]);
    let s = spot_spec(None, &["m5.large", "c5.large"], false);
    let o = bake(&fake, &s, steps_named(TO_LAUNCH)).await;
    let e = failed_at(&o, "launch");
    assert!(matches!(e, BakeError::NoSpotCapacity { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("m5.large, c5.large"), "{text}");
    assert!(text.contains("InsufficientInstanceCapacity"), "{text}");
    assert!(text.contains("spot_fallback_on_demand"), "{text}");
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    assert!(fake.instances().is_empty() && fake.spot_requests().is_empty());
    // Never on demand.
    assert!(launched(&fake).iter().all(|(_, spot)| spot.is_some()));
    nothing_left(&fake);
}

#[tokio::test]
async fn no_spot_capacity_with_fallback_launches_instance_type_on_demand() {
    let fake = FakeEc2::new();
    fake.no_spot_capacity(&["*"]);
    let s = spot_spec(None, &["m5.large", "c5.large"], true);
    let o = bake(&fake, &s, steps_named(TO_LAUNCH)).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(
        launched(&fake),
        vec![
            (t("m5.large"), Some(None)),
            (t("c5.large"), Some(None)),
            (s.instance_type.clone(), None)
        ]
    );
    assert!(fake.spot_requests().is_empty());
    nothing_left(&fake);
}

#[tokio::test]
async fn another_launch_error_is_not_taken_for_missing_spot_capacity() {
    let fake = FakeEc2::new();
    fake.fail("RunInstances", 1, "InvalidParameterValue");
    let s = spot_spec(None, &["m5.large", "c5.large"], true);
    let o = bake(&fake, &s, steps_named(TO_LAUNCH)).await;
    let e = failed_at(&o, "launch");
    assert!(e.to_string().contains("InvalidParameterValue"), "{e}");
    assert_eq!(fake.calls("RunInstances"), 1);
    nothing_left(&fake);
}

#[tokio::test]
async fn a_spot_launch_whose_answer_was_lost_has_its_request_cancelled() {
    let fake = FakeEc2::new();
    fake.lose_answer("RunInstances", 1);
    let s = spot_spec(Some("0.1"), &[], false);
    let o = bake(&fake, &s, steps_named(TO_LAUNCH)).await;
    failed_at(&o, "launch");
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    let [(_, state)] = fake
        .spot_requests()
        .try_into()
        .unwrap_or_else(|v| panic!("{v:?}"));
    assert_eq!(state, "cancelled", "{:?}", fake.log());
    nothing_left(&fake);
}

#[tokio::test]
async fn an_on_demand_bake_never_asks_about_spot_requests() {
    let fake = FakeEc2::new();
    let o = bake(&fake, &spec(), steps_named(TO_LAUNCH)).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(launched(&fake), vec![(spec().instance_type, None)]);
    assert_eq!(fake.calls("DescribeSpotInstanceRequests"), 0);
    assert_eq!(fake.calls("CancelSpotInstanceRequests"), 0);
}

/// The user's groups: no temporary group is made or deleted, the instance
/// runs in the filter's freest subnet with only those groups, its volumes
/// carry `run_volume_tags` with the temporary tags, and the user's group
/// outlives the bake's cleanup.
#[tokio::test]
async fn the_users_groups_replace_the_temporary_one_and_are_left_alone() {
    use crate::ec2::model::{NetworkChoice, SubnetPick, filters};
    let fake = FakeEc2::new();
    fake.add_vpc("vpc-b", "10.7.0.0/16", false);
    let tier = BTreeMap::from([("tier".to_string(), "build".to_string())]);
    fake.add_subnet("subnet-b1", "vpc-b", "us-east-1a", 10, &tier);
    fake.add_subnet("subnet-b2", "vpc-b", "us-east-1b", 99, &tier);
    let mine = fake.add_group("approved", "vpc-b", &BTreeMap::new());
    let mut s = spec();
    s.ssh.allowed_cidrs = vec![];
    s.network = NetworkChoice {
        vpc_filter: Some(filters([("cidr", "10.7.0.0/16")])),
        subnet_filter: Some(SubnetPick {
            filters: filters([("tag:tier", "build")]),
            most_free: true,
            random: false,
        }),
        security_group_ids: vec![mine.clone()],
        ..Default::default()
    };
    s.run_tags = BTreeMap::from([("team".to_string(), "infra".to_string())]);
    s.run_volume_tags = BTreeMap::from([("backup".to_string(), "no".to_string())]);
    let mut steps = steps_named(&[
        "source_ami",
        "network",
        "key_pair",
        "security_group",
        "launch",
    ]);
    steps.push(Box::new(Fails));
    let o = bake(&fake, &s, steps).await;
    failed_at(&o, "provision");
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    assert_eq!(fake.calls("CreateSecurityGroup"), 0);
    assert_eq!(fake.calls("DeleteSecurityGroup"), 0);
    assert_eq!(fake.groups(), vec![mine.clone()], "the user's group stays");
    let launches = fake.launches();
    let [l] = launches.as_slice() else {
        panic!("{launches:?}")
    };
    assert_eq!(l.subnet_id.as_deref(), Some("subnet-b2"));
    assert_eq!(l.security_group_ids, vec![mine]);
    assert_eq!(l.volume_tags.get("backup").map(String::as_str), Some("no"));
    assert_eq!(l.volume_tags.get("team").map(String::as_str), Some("infra"));
    assert_eq!(
        l.volume_tags.get(BUILD_ID_TAG).map(String::as_str),
        Some("b1")
    );
    assert!(!l.instance_tags.contains_key("backup"), "volumes only");
    assert!(fake.live_instances().is_empty(), "{:?}", fake.log());
}

/// A filter that matched at plan time but matches nothing at apply fails
/// the bake before anything is made.
#[tokio::test]
async fn a_subnet_filter_matching_nothing_fails_before_anything_is_made() {
    use crate::ec2::model::{NetworkChoice, SubnetPick, filters};
    let fake = FakeEc2::new();
    let mut s = spec();
    s.network = NetworkChoice {
        subnet_filter: Some(SubnetPick {
            filters: filters([("tag:tier", "gone")]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut steps = steps_named(&[
        "source_ami",
        "network",
        "key_pair",
        "security_group",
        "launch",
    ]);
    steps.push(Box::new(Fails));
    let o = bake(&fake, &s, steps).await;
    let e = failed_at(&o, "network");
    assert!(
        e.to_string().contains("subnet_filter: matches no subnet"),
        "{e}"
    );
    assert_eq!(fake.calls("ImportKeyPair"), 0);
    nothing_left(&fake);
}

/// Stops the build instance, as the stop step does after provisioning
/// (which needs SSH).
struct StopOnly;

impl Step for StopOnly {
    fn name(&self) -> &'static str {
        "stop"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            let id = cx
                .instance
                .as_ref()
                .map(|i| i.id.clone())
                .unwrap_or_default();
            cx.ec2.stop_instance(&id).await?;
            let pace = cx.pace("stop");
            cx.ec2
                .wait_instance_stopped(&id, pace, Duration::from_secs(5), &cx.cancel)
                .await?;
            Ok(())
        })
    }
}

/// ENA and SR-IOV go on the stopped instance before CreateImage (which
/// carries them), IMDS support on the image before it is kept.
#[tokio::test]
async fn network_and_metadata_support_reach_the_image() {
    let fake = FakeEc2::new();
    let mut s = spec();
    s.ena_support = Some(true);
    s.sriov_support = true;
    s.imds_support = Some(crate::ec2::model::ImdsSupport::V2);
    let mut steps = steps_named(TO_LAUNCH);
    steps.push(Box::new(StopOnly));
    steps.extend(steps_named(&["create_image"]));
    let o = bake(&fake, &s, steps).await;
    assert!(o.error.is_none(), "{:?}", o.error);
    let Some(id) = o.image.as_ref().map(|i| i.id.clone()) else {
        panic!("no image")
    };
    let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
    let Ok(Some(img)) = ec2.describe_image(&id).await else {
        panic!("{:?}", fake.log())
    };
    assert_eq!(img.ena_support, Some(true));
    assert_eq!(img.sriov_net_support.as_deref(), Some("simple"));
    assert_eq!(img.imds_support.as_deref(), Some("v2.0"));
    let log = fake.log();
    let at = |what: &str| log.iter().position(|l| l.starts_with(what));
    let modify = at("ModifyInstanceAttribute").unwrap_or_else(|| panic!("{log:?}"));
    let create = at("CreateImage").unwrap_or_else(|| panic!("{log:?}"));
    assert!(modify < create, "{log:?}");
}

/// Per-region fakes behind one `Ec2` in us-east-1: the test holds each
/// region's fake to look into it.
fn regional(home: &Arc<FakeEc2>, others: &[(&str, Arc<FakeEc2>)]) -> Ec2 {
    let mut ec2 = Ec2::with_api(home.clone(), "us-east-1".into());
    let map: BTreeMap<String, Arc<FakeEc2>> = others
        .iter()
        .map(|(r, f)| (r.to_string(), f.clone()))
        .collect();
    ec2.regions = crate::ec2::regions::Regions::new(Arc::new(move |r: &str| {
        let api: Arc<dyn crate::ec2::api::Ec2Api> = match map.get(r) {
            Some(f) => f.clone(),
            None => FakeEc2::new(),
        };
        api
    }));
    ec2
}

fn with_copies(regions: &[(&str, Option<&str>)]) -> BakeSpec {
    let mut s = spec();
    s.copy_regions = regions
        .iter()
        .map(|(r, k)| crate::bake::RegionCopy {
            region: r.to_string(),
            kms_key_id: k.map(str::to_string),
        })
        .collect();
    s.encrypt_boot = true;
    s.snapshot_copy_minutes = Some(15);
    s.launch_principals = vec!["111122223333".into()];
    s.tags = BTreeMap::from([("team".to_string(), "web".to_string())]);
    s
}

const TO_COPY: &[&str] = &[
    "source_ami",
    "key_pair",
    "security_group",
    "launch",
    "create_image",
    "copy_image",
    "share",
];

#[tokio::test]
async fn copies_run_in_parallel_are_tagged_like_the_original_and_shared() {
    let (home, west, eu) = (FakeEc2::new(), FakeEc2::new(), FakeEc2::new());
    // Each copy takes 300 ms: in sequence two would take 600.
    for f in [&west, &eu] {
        f.set_timing(Timing {
            image: Duration::from_millis(300),
            ..Default::default()
        });
    }
    let ec2 = regional(
        &home,
        &[("us-west-2", west.clone()), ("eu-west-1", eu.clone())],
    );
    let s = with_copies(&[("us-west-2", Some("alias/west")), ("eu-west-1", None)]);
    let t0 = std::time::Instant::now();
    let o = run(
        &s,
        &ec2,
        &CancellationToken::new(),
        &steps_named(TO_COPY),
        JournalEntry::none(),
    )
    .await;
    assert!(o.error.is_none(), "{:?}", o.error);
    let copy_wait = t0.elapsed();
    let Some(img) = &o.image else {
        panic!("no image")
    };
    assert_eq!(o.copies.len(), 2);
    let want_regions = "eu-west-1,us-east-1,us-west-2";
    for (region, fake) in [("us-west-2", &west), ("eu-west-1", &eu)] {
        let copy = &o.copies[region];
        let tags = fake.image_tags(&copy.id).unwrap_or_default();
        assert_eq!(tags.get(BUILD_ID_TAG), Some(&s.build_id), "{tags:?}");
        assert_eq!(tags.get("team").map(String::as_str), Some("web"));
        assert_eq!(
            tags.get(crate::ec2::regions::COPY_REGIONS_TAG)
                .map(String::as_str),
            Some(want_regions)
        );
        // Kept: the expiry tag is gone once every copy is there.
        assert!(
            !tags.contains_key(crate::ec2::tags::EXPIRES_AT_TAG),
            "{tags:?}"
        );
        assert_eq!(
            fake.launch_permissions_of(&copy.id),
            vec!["111122223333".to_string()]
        );
    }
    let home_tags = home.image_tags(&img.id).unwrap_or_default();
    assert_eq!(
        home_tags
            .get(crate::ec2::regions::COPY_REGIONS_TAG)
            .map(String::as_str),
        Some(want_regions)
    );
    assert!(!home_tags.contains_key(crate::ec2::tags::EXPIRES_AT_TAG));
    // The region's key where given, else encrypted with the default key.
    assert!(
        west.log()
            .iter()
            .any(|l| l.contains("CopyImage") && l.contains("encrypted=true kms=alias/west")),
        "{:?}",
        west.log()
    );
    assert!(
        eu.log()
            .iter()
            .any(|l| l.contains("CopyImage") && l.contains("encrypted=true kms=-")),
        "{:?}",
        eu.log()
    );
    assert!(
        copy_wait < Duration::from_millis(580),
        "copies took {copy_wait:?}: not in parallel"
    );
}

#[tokio::test]
async fn a_copy_refused_in_one_region_removes_every_copy_and_the_image() {
    let (home, west, eu) = (FakeEc2::new(), FakeEc2::new(), FakeEc2::new());
    let fresh_snapshots = west.snapshots();
    eu.fail("CopyImage", 1, "UnauthorizedOperation");
    let ec2 = regional(
        &home,
        &[("us-west-2", west.clone()), ("eu-west-1", eu.clone())],
    );
    let s = with_copies(&[("us-west-2", None), ("eu-west-1", None)]);
    let o = run(
        &s,
        &ec2,
        &CancellationToken::new(),
        &steps_named(TO_COPY),
        JournalEntry::none(),
    )
    .await;
    let e = failed_at(&o, "copy_image");
    assert!(e.to_string().contains("eu-west-1"), "{e}");
    assert!(o.image.is_none() && o.copies.is_empty());
    assert!(o.cleanup_errors.is_empty(), "{:?}", o.cleanup_errors);
    nothing_left(&home);
    assert!(west.own_images().is_empty(), "{:?}", west.log());
    assert_eq!(west.snapshots(), fresh_snapshots, "{:?}", west.log());
    assert!(eu.own_images().is_empty());
}

#[tokio::test]
async fn a_copy_whose_answer_was_lost_is_found_by_build_id_and_removed() {
    let (home, west) = (FakeEc2::new(), FakeEc2::new());
    let fresh_snapshots = west.snapshots();
    west.lose_answer("CopyImage", 1);
    let ec2 = regional(&home, &[("us-west-2", west.clone())]);
    let s = with_copies(&[("us-west-2", None)]);
    let o = run(
        &s,
        &ec2,
        &CancellationToken::new(),
        &steps_named(TO_COPY),
        JournalEntry::none(),
    )
    .await;
    failed_at(&o, "copy_image");
    nothing_left(&home);
    assert!(west.own_images().is_empty(), "{:?}", west.log());
    assert_eq!(west.snapshots(), fresh_snapshots, "{:?}", west.log());
}

#[tokio::test]
async fn without_regions_the_image_is_kept_at_create_and_nothing_is_copied() {
    let home = FakeEc2::new();
    let ec2 = regional(&home, &[]);
    let o = run(
        &spec(),
        &ec2,
        &CancellationToken::new(),
        &steps_named(TO_COPY),
        JournalEntry::none(),
    )
    .await;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert!(o.copies.is_empty());
    assert_eq!(home.calls("CopyImage"), 0);
    let Some(img) = &o.image else {
        panic!("no image")
    };
    let tags = home.image_tags(&img.id).unwrap_or_default();
    assert_eq!(
        tags.get(crate::ec2::regions::COPY_REGIONS_TAG)
            .map(String::as_str),
        Some("us-east-1")
    );
}

#[tokio::test]
async fn remove_everywhere_refuses_a_protected_copy_before_removing_anything() {
    let (home, west) = (FakeEc2::new(), FakeEc2::new());
    let fresh_snapshots = west.snapshots();
    let ec2 = regional(&home, &[("us-west-2", west.clone())]);
    let a = home.add_own_image("a", &Default::default());
    let b = west.add_own_image("a", &Default::default());
    let west_ec2 = ec2.in_region("us-west-2");
    assert!(
        west_ec2
            .set_deregistration_protection(&b, Some(false))
            .await
            .is_ok()
    );
    let images = BTreeMap::from([
        ("us-east-1".to_string(), a.clone()),
        ("us-west-2".to_string(), b.clone()),
    ]);
    let never = CancellationToken::new();
    let r = ec2
        .remove_everywhere(&images, &BTreeMap::new(), None, BTreeMap::new(), &never)
        .await;
    let Err(e) = r else {
        panic!("a protected copy was removed")
    };
    assert!(e.to_string().contains("us-west-2"), "{e}");
    assert_eq!(home.own_images(), vec![a.clone()]);
    assert!(
        west_ec2
            .set_deregistration_protection(&b, None)
            .await
            .is_ok()
    );
    let r = ec2
        .remove_everywhere(&images, &BTreeMap::new(), None, BTreeMap::new(), &never)
        .await;
    assert!(r.is_ok(), "{r:?}");
    assert!(home.own_images().is_empty() && west.own_images().is_empty());
    assert_eq!(west.snapshots(), fresh_snapshots, "{:?}", west.log());
    // One client per region, made once.
    assert!(Arc::ptr_eq(&ec2.in_region("us-west-2").api, &west_ec2.api));
}
