//! The policy above the seam (idempotent deletes, lookups that may miss,
//! named waiters, removal order, pacing), driven through the fake.

use super::Ec2;
use super::fake::{ACCOUNT, Console, FakeEc2, SOURCE_AMI, Timing};
use super::model::{LaunchSpec, filters};
use super::tags::BUILD_ID_TAG;
use super::wait::{Poll, WaitError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn ec2(fake: &Arc<FakeEc2>) -> Ec2 {
    Ec2::with_api(fake.clone(), "us-east-1".into())
}

/// Launches one instance with its own client token.
async fn launch(ec2: &Ec2, fake: &FakeEc2, token: &str) -> String {
    if fake.key_pairs().is_empty() {
        let Ok(()) = ec2
            .import_key_pair("k", "ssh-ed25519 AAAA", &BTreeMap::new())
            .await
        else {
            panic!("cannot import the key pair")
        };
    }
    let spec = LaunchSpec {
        image_id: SOURCE_AMI.into(),
        key_name: "k".into(),
        client_token: token.into(),
        ..Default::default()
    };
    match ec2.run_instance(&spec).await {
        Ok(id) => id,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn deletes_are_idempotent_but_other_failures_are_not() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    assert!(ec2.terminate_instance("i-gone").await.is_ok());
    assert!(ec2.delete_security_group("sg-gone").await.is_ok());
    assert!(ec2.deregister_image("ami-gone").await.is_ok());
    assert!(ec2.delete_snapshot("snap-gone").await.is_ok());
    assert!(matches!(ec2.describe_instance("i-gone").await, Ok(None)));
    assert!(matches!(ec2.describe_image("ami-gone").await, Ok(None)));
    assert!(matches!(ec2.key_pair_exists("gone").await, Ok(false)));
    fake.fail("DeleteSecurityGroup", 2, "UnauthorizedOperation");
    let Err(e) = ec2.delete_security_group("sg-gone").await else {
        panic!("an authorisation failure passed as deleted")
    };
    assert!(e.has_code("UnauthorizedOperation"), "{e}");
}

#[tokio::test]
async fn find_image_picks_the_newest_only_when_asked() {
    let fake = FakeEc2::new();
    fake.add_image("ami-old", "web-1", "amazon", "2024-01-01T00:00:00.000Z");
    fake.add_image("ami-new", "web-2", "amazon", "2024-06-01T00:00:00.000Z");
    fake.add_image("ami-mine", "web-3", ACCOUNT, "2025-01-01T00:00:00.000Z");
    let ec2 = ec2(&fake);
    let web = filters([("name", "web-*")]);
    let amazon = vec!["amazon".to_string()];
    match ec2.find_image(&web, &amazon, true).await {
        Ok(img) => assert_eq!(img.id, "ami-new"),
        Err(e) => panic!("{e}"),
    }
    let ambiguous = ec2.find_image(&web, &amazon, false).await;
    assert!(
        matches!(
            &ambiguous,
            Err(super::images::FindError::Ambiguous { count: 2, .. })
        ),
        "{ambiguous:?}"
    );
    let none = ec2
        .find_image(&filters([("name", "db-*")]), &amazon, true)
        .await;
    assert!(matches!(
        none,
        Err(super::images::FindError::NoMatch { .. })
    ));
}

#[tokio::test]
async fn a_new_instance_not_yet_visible_is_waited_for() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    fake.hide_new(2);
    let id = launch(&ec2, &fake, "t1").await;
    let never = CancellationToken::new();
    let pace = ec2.pacer.pace("r", "t", "run");
    let r = ec2
        .wait_instance_running(&id, pace, Duration::from_secs(10), &never)
        .await;
    assert!(matches!(&r, Ok(i) if i.state == "running"), "{r:?}");
    assert_eq!(fake.calls("DescribeInstances"), 3);
}

#[tokio::test]
async fn an_instance_that_vanishes_while_stopping_fails_the_wait() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let r = ec2.status_instance_stopped("i-gone").await;
    assert!(
        matches!(&r, Err(WaitError::Failed(m)) if m.contains("disappeared")),
        "{:?}",
        r.map(|_| ())
    );
    // Gone counts as terminated.
    assert!(matches!(
        ec2.status_instance_terminated("i-gone").await,
        Ok(Poll::Ready(()))
    ));
}

#[tokio::test]
async fn a_security_group_is_deleted_once_its_instance_is_gone() {
    let fake = FakeEc2::new();
    fake.set_timing(Timing {
        terminate: Duration::from_millis(300),
        ..Default::default()
    });
    let ec2 = ec2(&fake);
    let group = fake.add_group("g", super::fake::DEFAULT_VPC, &BTreeMap::new());
    let Ok(()) = ec2
        .import_key_pair("k", "ssh-ed25519 AAAA", &BTreeMap::new())
        .await
    else {
        panic!("cannot import the key pair")
    };
    let spec = LaunchSpec {
        image_id: SOURCE_AMI.into(),
        key_name: "k".into(),
        security_group_ids: vec![group.clone()],
        ..Default::default()
    };
    let Ok(id) = ec2.run_instance(&spec).await else {
        panic!("launch failed")
    };
    assert!(
        ec2.terminate_instances(std::slice::from_ref(&id))
            .await
            .is_ok()
    );
    let r = ec2
        .wait_security_group_deleted(&group, None, Duration::from_secs(10))
        .await;
    assert!(r.is_ok(), "{r:?}");
    assert!(fake.groups().is_empty());
    assert!(fake.calls("DeleteSecurityGroup") >= 2, "{:?}", fake.log());
    assert_eq!(fake.instance_state(&id).as_deref(), Some("terminated"));
}

#[tokio::test]
async fn an_image_goes_before_its_snapshots_which_wait_until_free() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let tags = BTreeMap::from([(BUILD_ID_TAG.to_string(), "b1".to_string())]);
    let id = fake.add_own_image("web", &tags);
    let Ok(Some(img)) = ec2.describe_image(&id).await else {
        panic!("image not found")
    };
    let snap = img.snapshot_ids[0].clone();
    // EC2 may still hold the snapshot a moment after the deregistration.
    fake.fail("DeleteSnapshot", 1, "InvalidSnapshot.InUse");
    let never = CancellationToken::new();
    let r = ec2.delete_image_and_snapshots(&id, &[], &never).await;
    assert!(r.is_ok(), "{r:?}");
    assert!(fake.own_images().is_empty());
    assert!(!fake.snapshots().contains(&snap));
    assert_eq!(fake.calls("DeleteSnapshot"), 2);
    let (Some(dereg), Some(del)) = (
        fake.first(&format!("DeregisterImage {id}")),
        fake.first(&format!("DeleteSnapshot {snap}")),
    ) else {
        panic!("{:?}", fake.log())
    };
    assert!(dereg < del, "{:?}", fake.log());
}

#[tokio::test]
async fn a_learned_launch_time_saves_looks_on_the_next_launch() {
    let fake = FakeEc2::new();
    fake.set_timing(Timing {
        boot: Duration::from_millis(600),
        ..Default::default()
    });
    let ec2 = ec2(&fake);
    let never = CancellationToken::new();
    let mut looks = Vec::new();
    for token in ["first", "second"] {
        let id = launch(&ec2, &fake, token).await;
        let before = fake.calls("DescribeInstances");
        let pace = ec2.pacer.pace("us-east-1", "t3.micro", "run");
        let r = ec2
            .wait_instance_running(&id, pace, Duration::from_secs(10), &never)
            .await;
        assert!(r.is_ok(), "{r:?}");
        looks.push(fake.calls("DescribeInstances") - before);
    }
    assert!(looks[1] < looks[0], "looks per wait: {looks:?}");
}

/// EC2 filters take `*` and `?` as wildcards: whatever a filter lets through,
/// a lookup by tag returns only what carries exactly that value.
#[tokio::test]
async fn tagged_lookups_return_only_exact_tag_matches() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let tagged = |v: &str| BTreeMap::from([(BUILD_ID_TAG.to_string(), v.to_string())]);
    let Ok(()) = ec2
        .import_key_pair("k", "ssh-ed25519 AAAA", &BTreeMap::new())
        .await
    else {
        panic!("cannot import the key pair")
    };
    for v in ["0123456789ab", "0123456789ac"] {
        let spec = LaunchSpec {
            image_id: SOURCE_AMI.into(),
            key_name: "k".into(),
            client_token: v.into(),
            instance_tags: tagged(v),
            ..Default::default()
        };
        assert!(ec2.run_instance(&spec).await.is_ok(), "{:?}", fake.log());
        fake.add_group(v, super::fake::DEFAULT_VPC, &tagged(v));
        fake.add_own_image(v, &tagged(v));
    }
    for pattern in ["*", "0123456789a?", "0123456789a*"] {
        assert!(
            matches!(
                ec2.instances_tagged(BUILD_ID_TAG, pattern).await.as_deref(),
                Ok([])
            ),
            "instances by {pattern}"
        );
        assert!(
            matches!(
                ec2.groups_tagged(BUILD_ID_TAG, pattern).await.as_deref(),
                Ok([])
            ),
            "groups by {pattern}"
        );
        assert!(
            matches!(
                ec2.images_tagged(BUILD_ID_TAG, pattern).await.as_deref(),
                Ok([])
            ),
            "images by {pattern}"
        );
    }
    assert!(matches!(
        ec2.instances_tagged(BUILD_ID_TAG, "0123456789ab")
            .await
            .as_deref(),
        Ok([_])
    ));
    assert!(matches!(
        ec2.groups_tagged(BUILD_ID_TAG, "0123456789ab")
            .await
            .as_deref(),
        Ok([_])
    ));
    assert!(matches!(
        ec2.images_tagged(BUILD_ID_TAG, "0123456789ab")
            .await
            .as_deref(),
        Ok([_])
    ));
}

/// A snapshot that another image uses stays in use however long one waits:
/// the delete fails at once, naming that image, after deregistering ours.
#[tokio::test]
async fn a_snapshot_another_image_uses_fails_the_delete_at_once_naming_it() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let id = fake.add_own_image("web", &BTreeMap::new());
    let Ok(Some(img)) = ec2.describe_image(&id).await else {
        panic!("image not found")
    };
    let snap = img.snapshot_ids[0].clone();
    let other = fake.add_own_image_using("web-copy", &snap);
    let never = CancellationToken::new();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        ec2.delete_image_and_snapshots(&id, &[], &never),
    )
    .await;
    let Ok(Err(WaitError::Failed(m))) = &r else {
        panic!("{r:?}")
    };
    assert!(
        m.contains(&other) && m.contains("web-copy") && m.contains(&snap),
        "{m}"
    );
    assert_eq!(fake.own_images(), vec![other]);
    assert!(fake.snapshots().contains(&snap));
    assert_eq!(fake.calls("DeleteSnapshot"), 1, "{:?}", fake.log());
}

/// A wait for a snapshot held only by our own deregistration still honours
/// cancellation.
#[tokio::test]
async fn a_snapshot_wait_ends_when_cancelled() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let id = fake.add_own_image("web", &BTreeMap::new());
    for n in 1..=100 {
        fake.fail("DeleteSnapshot", n, "InvalidSnapshot.InUse");
    }
    let stop = CancellationToken::new();
    let cancel = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        ec2.delete_image_and_snapshots(&id, &[], &stop),
    )
    .await;
    assert!(matches!(&r, Ok(Err(e)) if e.is_cancelled()), "{r:?}");
    assert!(fake.own_images().is_empty());
}

/// Looking for another image that holds the snapshot only sharpens the
/// error: when that look fails, the wait for our own deregistration goes on.
#[tokio::test]
async fn a_failed_look_for_other_holders_does_not_end_the_snapshot_wait() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let id = fake.add_own_image("web", &BTreeMap::new());
    fake.fail("DeleteSnapshot", 1, "InvalidSnapshot.InUse");
    // DescribeImages: 1 is the look at the image itself, 2 the look for holders.
    fake.fail("DescribeImages", 2, "UnauthorizedOperation");
    let never = CancellationToken::new();
    let r = ec2.delete_image_and_snapshots(&id, &[], &never).await;
    assert!(r.is_ok(), "{r:?} {:?}", fake.log());
    assert_eq!(fake.calls("DeleteSnapshot"), 2, "{:?}", fake.log());
}

/// Launches one instance of `instance_type`.
async fn launch_type(ec2: &Ec2, instance_type: &str) -> String {
    let Ok(()) = ec2
        .import_key_pair("k", "ssh-ed25519 AAAA", &BTreeMap::new())
        .await
    else {
        panic!("cannot import the key pair")
    };
    let spec = LaunchSpec {
        image_id: SOURCE_AMI.into(),
        key_name: "k".into(),
        instance_type: instance_type.into(),
        client_token: instance_type.into(),
        ..Default::default()
    };
    match ec2.run_instance(&spec).await {
        Ok(id) => id,
        Err(e) => panic!("{e}"),
    }
}

async fn read_console(ec2: &Ec2, id: &str) -> Result<String, WaitError> {
    ec2.wait_console_output(
        id,
        "the console",
        Duration::from_secs(2),
        &CancellationToken::new(),
        |text| match text {
            "" => Poll::Pending("empty".into()),
            t => Poll::Ready(t.to_string()),
        },
    )
    .await
}

#[tokio::test]
async fn the_console_is_read_live_where_the_instance_type_offers_it() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let id = launch_type(&ec2, "t3.micro").await;
    // The buffered output is not posted yet; the live one has the text.
    fake.set_console(Console {
        buffered: None,
        live: Some("live".into()),
    });
    assert_eq!(read_console(&ec2, &id).await.ok().as_deref(), Some("live"));
    assert_eq!(fake.calls("GetConsoleOutput"), 1);
}

#[tokio::test]
async fn a_type_that_refuses_the_live_console_is_read_buffered_from_then_on() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let id = launch_type(&ec2, "t2.micro").await;
    fake.set_console(Console {
        buffered: Some("buffered".into()),
        live: Some("live".into()),
    });
    assert_eq!(
        read_console(&ec2, &id).await.ok().as_deref(),
        Some("buffered")
    );
    let asked: Vec<String> = fake
        .log()
        .into_iter()
        .filter(|l| l.starts_with("GetConsoleOutput"))
        .collect();
    assert_eq!(
        asked,
        vec![
            format!("GetConsoleOutput {id} latest"),
            format!("GetConsoleOutput {id}")
        ]
    );
}

#[tokio::test]
async fn other_console_errors_still_fail_the_wait() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let id = launch_type(&ec2, "t3.micro").await;
    fake.fail("GetConsoleOutput", 1, "UnauthorizedOperation");
    assert!(matches!(
        read_console(&ec2, &id).await,
        Err(WaitError::Api(e)) if e.has_code("UnauthorizedOperation")
    ));
}

/// What this bake created is given `fresh_not_found` to become visible; a
/// not-found that lasts counts as gone then (or at once when cancelled),
/// and what the sweep found keeps the immediate rule.
#[tokio::test]
async fn a_lasting_not_found_of_a_new_object_counts_as_gone_after_a_bound() {
    let fake = FakeEc2::new();
    let mut ec2 = ec2(&fake);
    ec2.fresh_not_found = Duration::from_millis(600);
    let never = CancellationToken::new();
    let t0 = tokio::time::Instant::now();
    let r = ec2
        .terminate_new_instances(&["i-gone".to_string()], &never)
        .await;
    assert!(r.is_ok(), "{r:?}");
    assert!(
        t0.elapsed() >= Duration::from_millis(550),
        "{:?}",
        t0.elapsed()
    );
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(fake.calls("TerminateInstances") >= 2);

    let stop = CancellationToken::new();
    stop.cancel();
    ec2.fresh_not_found = Duration::from_secs(3600);
    let t0 = tokio::time::Instant::now();
    assert!(ec2.deregister_new_image("ami-gone", &stop).await.is_ok());
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "cancelled: gone at once"
    );

    let before = fake.calls("DeregisterImage");
    assert!(ec2.deregister_image("ami-gone").await.is_ok());
    assert_eq!(
        fake.calls("DeregisterImage"),
        before + 1,
        "seen objects: no retry"
    );

    // Another failure is no "gone".
    fake.fail("DeleteKeyPair", 1, "UnauthorizedOperation");
    assert!(ec2.delete_new_key_pair("k", &never).await.is_err());
}

/// `terraform apply` plans in one process, then plans again and bakes in
/// another: a source AMI named by its id is described once for both, through
/// the directory's facts file, and only for the same endpoint and account.
#[tokio::test]
async fn a_source_ami_by_id_is_described_once_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("facts.json");
    let fake = FakeEc2::new();
    let process = |endpoint: Option<&str>| {
        let mut e = ec2(&fake);
        e.facts = Arc::new(super::facts::Facts::at(Some(file.clone())));
        e.endpoint = endpoint.map(str::to_string);
        e
    };
    let plan = process(None);
    let found = plan.source_image(SOURCE_AMI).await.unwrap();
    assert_eq!(found.map(|i| i.id).as_deref(), Some(SOURCE_AMI));
    assert_eq!(fake.calls("DescribeImages"), 1);
    let apply = process(None);
    let again = apply.source_image(SOURCE_AMI).await.unwrap().unwrap();
    assert_eq!(again.id, SOURCE_AMI);
    assert!(again.root_device_name.is_some(), "{again:?}");
    assert_eq!(fake.calls("DescribeImages"), 1, "{:?}", fake.log());
    // Another endpoint is another EC2: asked again.
    let other = process(Some("http://elsewhere"));
    assert!(other.source_image(SOURCE_AMI).await.unwrap().is_some());
    assert_eq!(fake.calls("DescribeImages"), 2);
    // An id EC2 does not know is never remembered.
    assert!(
        apply
            .source_image("ami-00000000000000bad")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        apply
            .source_image("ami-00000000000000bad")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(fake.calls("DescribeImages"), 4);
}

/// A refresh reads the image with its source AMI in one DescribeImages, and
/// the plan's lookup of the source then asks nothing; a source that is gone
/// (EC2 refuses the pair) costs one more call, never the image's refresh.
#[tokio::test]
async fn a_refresh_reads_the_source_ami_with_the_image() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let own = fake.add_own_image("web", &BTreeMap::new());
    let img = ec2
        .describe_image_and_source(&own, SOURCE_AMI)
        .await
        .unwrap();
    assert_eq!(img.map(|i| i.id), Some(own.clone()));
    assert_eq!(fake.calls("DescribeImages"), 1);
    assert!(ec2.source_image(SOURCE_AMI).await.unwrap().is_some());
    assert_eq!(fake.calls("DescribeImages"), 1, "{:?}", fake.log());
    let img = ec2
        .describe_image_and_source(&own, "ami-00000000000000bad")
        .await
        .unwrap();
    assert_eq!(img.map(|i| i.id), Some(own));
    assert_eq!(fake.calls("DescribeImages"), 3, "{:?}", fake.log());
}

/// A source AMI seen pending is not remembered: the bake would otherwise
/// take it for pending minutes after it became available.
#[tokio::test]
async fn a_pending_source_ami_is_asked_again() {
    let fake = FakeEc2::new();
    let ec2 = ec2(&fake);
    let pending = super::model::ImageInfo {
        id: SOURCE_AMI.into(),
        state: "pending".into(),
        ..Default::default()
    };
    ec2.remember_source(&pending).await;
    let found = ec2.source_image(SOURCE_AMI).await.unwrap().unwrap();
    assert_eq!(found.state, "available");
    assert_eq!(fake.calls("DescribeImages"), 1);
}
