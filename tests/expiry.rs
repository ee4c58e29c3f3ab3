//! Leftovers found from EC2 alone: a bake's temporary resources carry
//! `golden:build-id` and `golden:expires-at`, and any later provider run, in
//! any directory, removes what has expired. Checked through the EC2 API.

mod support;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use std::time::{Duration, Instant, SystemTime};
use support::{Bed, TfVersion, eventually};

const V: TfVersion = TfVersion::Current;
const BUILD_ID: &str = "golden:build-id";
const EXPIRES_AT: &str = "golden:expires-at";

/// A resource whose bake blocks in provisioning (`sleep 120`), with `timeouts`.
fn slow_resource(bed: &Bed, timeouts: &str) -> String {
    let r = bed.remote_dir();
    format!(
        r#"{provider}
resource "golden_ami" "img" {{
  name_prefix   = "lost-"
  instance_type = "t3.micro"
  source_ami    = "ami-0a11ce0000000a001"
{ssh}
  provision {{
    shell {{
      inline = ["mkdir -p {r}", "touch {r}/started", "sleep 120"]
    }}
  }}
{timeouts}
}}
"#,
        provider = bed.provider_hcl(),
        ssh = bed.ssh_hcl(),
        r = r.display()
    )
}

/// A bake with nothing to provision, and `extra` (timeouts, provisioners).
fn quick_resource(bed: &Bed, extra: &str) -> String {
    format!(
        "{}\nresource \"golden_ami\" \"img\" {{\n  name_prefix = \"quick-\"\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-0a11ce0000000a001\"\n{}\n{extra}\n}}\n",
        bed.provider_hcl(),
        bed.ssh_hcl()
    )
}

/// Short enough that the test waits seconds for the expiry, long enough for
/// a bake on a loaded machine to reach provisioning.
const SHORT: &str = "  timeouts {\n    create = \"30s\"\n    delete = \"2s\"\n  }\n";

fn signal(sig: &str, target: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, "--", target])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {target}");
}

fn has_tag(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// What the bed holds of one build, by kind: instances not terminated, key
/// pairs, groups, images, snapshots.
#[derive(Debug, PartialEq, Eq, Default)]
struct Of {
    instances: usize,
    key_pairs: usize,
    groups: usize,
    images: usize,
    snapshots: usize,
}

fn of_build(bed: &Bed, build_id: &str) -> Of {
    bed.rt.block_on(async {
        let f = || has_tag(BUILD_ID, build_id);
        let i = bed
            .ec2
            .describe_instances()
            .filters(f())
            .send()
            .await
            .unwrap();
        let instances = i
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
            .count();
        let k = bed
            .ec2
            .describe_key_pairs()
            .filters(f())
            .send()
            .await
            .unwrap();
        let g = bed
            .ec2
            .describe_security_groups()
            .filters(f())
            .send()
            .await
            .unwrap();
        let im = bed
            .ec2
            .describe_images()
            .owners("self")
            .filters(f())
            .send()
            .await
            .unwrap();
        let s = bed
            .ec2
            .describe_snapshots()
            .owner_ids("self")
            .filters(f())
            .send()
            .await
            .unwrap();
        Of {
            instances,
            key_pairs: k.key_pairs().len(),
            groups: g.security_groups().len(),
            images: im.images().len(),
            snapshots: s.snapshots().len(),
        }
    })
}

/// The running build instance's build id, expiry and state.
fn build_instance(bed: &Bed) -> (String, SystemTime) {
    bed.rt.block_on(async {
        let o = bed.ec2.describe_instances().send().await.unwrap();
        let i = o
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) == Some("running"))
            .expect("a running build instance")
            .clone();
        let tag = |k: &str| {
            i.tags()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
                .unwrap_or_else(|| panic!("the build instance lacks {k}: {:?}", i.tags()))
                .to_string()
        };
        let at = aws_smithy_types::DateTime::from_str(
            &tag(EXPIRES_AT),
            aws_smithy_types::date_time::Format::DateTime,
        )
        .unwrap();
        (
            tag(BUILD_ID),
            SystemTime::UNIX_EPOCH + Duration::from_secs(at.secs() as u64),
        )
    })
}

fn instance_states(bed: &Bed, build_id: &str) -> Vec<String> {
    bed.rt.block_on(async {
        let o = bed
            .ec2
            .describe_instances()
            .filters(has_tag(BUILD_ID, build_id))
            .send()
            .await
            .unwrap();
        o.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
            })
            .collect()
    })
}

fn sleep_until(t: SystemTime) {
    if let Ok(d) = t.duration_since(SystemTime::now()) {
        std::thread::sleep(d);
    }
}

/// A plan of another configuration in another directory: the provider is
/// configured there, and sweeps.
fn plan_elsewhere(bed: &Bed, name: &str, extra: &str) {
    plan_config(bed, name, &quick_resource(bed, extra));
}

fn plan_config(bed: &Bed, name: &str, main_tf: &str) {
    let tf = bed.workspace(name, main_tf, V);
    tf.init();
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{out}");
}

/// `kill -9` of terraform and the plugin mid-provisioning, and the working
/// directory (journal, state) thrown away with the runner: nothing is left
/// to clean up but EC2 itself. A plan of another configuration, elsewhere,
/// after the bake's expiry removes everything the bake made; before it,
/// nothing.
#[test]
fn a_lost_runner_leaks_nothing_once_its_bake_expires() {
    let bed = Bed::start();
    let tf = bed.workspace("lost", &slow_resource(&bed, SHORT), V);
    tf.init();
    let child = tf.apply_until(&bed.remote_dir().join("started"), "provisioning");
    let (build_id, expires) = build_instance(&bed);
    signal("-KILL", &format!("-{}", child.id()));
    let _ = child.wait_with_output();
    std::fs::remove_dir_all(&tf.dir).unwrap();
    let left = Of {
        instances: 1,
        key_pairs: 1,
        groups: 1,
        ..Default::default()
    };
    assert_eq!(of_build(&bed, &build_id), left, "what the killed bake left");

    // Not expired yet: a run elsewhere leaves it alone.
    assert!(SystemTime::now() < expires, "the test was too slow");
    plan_elsewhere(&bed, "early", "");
    assert!(SystemTime::now() < expires, "the plan was too slow to tell");
    assert_eq!(of_build(&bed, &build_id), left, "swept before its expiry");

    sleep_until(expires + Duration::from_secs(1));
    plan_elsewhere(&bed, "late", "");
    eventually(Duration::from_secs(5), "the expiry sweep", || {
        of_build(&bed, &build_id) == Of::default()
    });
    bed.assert_no_leftovers();
}

/// Two Ctrl-Cs, then go-plugin's kill 2 s later (what a CI cancel does),
/// while EC2 takes 30 s to terminate: the key pair is released at once,
/// before the plugin dies, and the instance is told to terminate; the group
/// it holds is left, and the next run after the expiry removes it.
#[test]
fn a_double_ctrl_c_releases_first_and_the_sweep_takes_the_rest() {
    let bed = Bed::start_with(&["--hold-terminate", "30"]);
    let tf = bed.workspace("twice", &slow_resource(&bed, SHORT), V);
    tf.init();
    let child = tf.apply_until(&bed.remote_dir().join("started"), "provisioning");
    let (build_id, expires) = build_instance(&bed);
    let group = format!("-{}", child.id());
    let interrupted = Instant::now();
    for _ in 0..2 {
        signal("-INT", &group);
        std::thread::sleep(Duration::from_millis(150));
    }
    std::thread::sleep(Duration::from_secs(2).saturating_sub(interrupted.elapsed()));
    // go-plugin's Kill: whatever still runs in the group dies now.
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &group])
        .status();
    let _ = child.wait_with_output();
    let terminated_at = SystemTime::now() + Duration::from_secs(30);

    let of = of_build(&bed, &build_id);
    assert_eq!(of.key_pairs, 0, "the key pair went first: {of:?}");
    assert_eq!(
        instance_states(&bed, &build_id),
        ["shutting-down"],
        "the instance was told to terminate"
    );
    assert_eq!(of.groups, 1, "the group waits for the instance: {of:?}");

    sleep_until(expires.max(terminated_at) + Duration::from_secs(1));
    plan_elsewhere(&bed, "later", "");
    eventually(Duration::from_secs(5), "the expiry sweep", || {
        of_build(&bed, &build_id) == Of::default()
    });
    bed.assert_no_leftovers();
}

fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect()
}

fn spec(kind: ResourceType, pairs: &[(&str, &str)]) -> Option<TagSpecification> {
    (!pairs.is_empty()).then(|| {
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(tags(pairs)))
            .build()
    })
}

/// A key pair and a security group named `name`, tagged with `pairs`.
fn key_pair_and_group(bed: &Bed, name: &str, pairs: &[(&str, &str)]) {
    bed.rt.block_on(async {
        bed.ec2
            .create_key_pair()
            .key_name(name)
            .set_tag_specifications(spec(ResourceType::KeyPair, pairs).map(|s| vec![s]))
            .send()
            .await
            .unwrap();
        bed.ec2
            .create_security_group()
            .group_name(name)
            .description("the test's")
            .set_tag_specifications(spec(ResourceType::SecurityGroup, pairs).map(|s| vec![s]))
            .send()
            .await
            .unwrap();
    });
}

/// The sweep touches expired temporary resources only: not a live bake in
/// another directory, not a kept image (nor its snapshots) whose bake's
/// expiry passed long ago, not what carries only one of the two tags, not
/// the user's own key pairs and groups.
#[test]
fn the_sweep_leaves_alone_what_is_not_an_expired_leftover() {
    let bed = Bed::start();
    // A finished bake: its image is kept, and its bake's expiry passes.
    let kept = bed.workspace("kept", &quick_resource(&bed, SHORT), V);
    kept.init();
    kept.apply(&[]);
    let kept_images = bed.own_images();
    assert_eq!(kept_images.len(), 1);
    let kept_snapshots: Vec<String> = kept_images[0]
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(str::to_string))
        .collect();
    assert!(!kept_snapshots.is_empty());
    for s in &kept_snapshots {
        let t = bed.snapshot_tags(s);
        assert!(t.iter().any(|(k, _)| k == BUILD_ID), "{t:?}");
        assert!(!t.iter().any(|(k, _)| k == EXPIRES_AT), "{t:?}");
    }
    let image_tags: Vec<&str> = kept_images[0]
        .tags()
        .iter()
        .filter_map(|t| t.key())
        .collect();
    assert!(
        image_tags.contains(&BUILD_ID) && !image_tags.contains(&EXPIRES_AT),
        "{image_tags:?}"
    );

    // A bake in progress elsewhere, with the default (long) timeouts.
    let live = bed.workspace("live", &slow_resource(&bed, ""), V);
    live.init();
    let child = live.apply_until(&bed.remote_dir().join("started"), "provisioning");
    let (live_id, _) = build_instance(&bed);

    let past = "2020-01-01T00:00:00Z";
    key_pair_and_group(&bed, "users-own", &[]);
    key_pair_and_group(&bed, "users-tagged", &[("team", "web")]);
    key_pair_and_group(&bed, "build-id-only", &[(BUILD_ID, "0000000b1d01")]);
    key_pair_and_group(&bed, "expiry-only", &[(EXPIRES_AT, past)]);
    // The one expired leftover: proves the sweep ran.
    key_pair_and_group(
        &bed,
        "expired",
        &[(BUILD_ID, "00000000dead"), (EXPIRES_AT, past)],
    );

    // Opted out: the run leaves even the expired leftover alone.
    let opted_out = quick_resource(&bed, "").replace(
        "  region = \"us-east-1\"\n",
        "  region = \"us-east-1\"\n  sweep_expired = false\n",
    );
    assert!(opted_out.contains("sweep_expired = false"), "{opted_out}");
    plan_config(&bed, "opted-out", &opted_out);
    assert!(
        bed.key_pairs().contains(&"expired".to_string()),
        "sweep_expired = false sweeps nothing"
    );

    plan_elsewhere(&bed, "other", "");
    eventually(Duration::from_secs(5), "the expiry sweep", || {
        !bed.key_pairs().contains(&"expired".to_string())
    });
    let mut keys = bed.key_pairs();
    keys.sort();
    let mut groups = bed.extra_security_groups();
    groups.sort();
    let live_name = format!("golden-{live_id}");
    let want: Vec<String> = {
        let mut w = vec![
            "build-id-only".to_string(),
            "expiry-only".into(),
            live_name.clone(),
            "users-own".into(),
            "users-tagged".into(),
        ];
        w.sort();
        w
    };
    assert_eq!(keys, want);
    assert_eq!(groups, want);
    assert_eq!(
        of_build(&bed, &live_id),
        Of {
            instances: 1,
            key_pairs: 1,
            groups: 1,
            ..Default::default()
        },
        "the live bake is untouched"
    );
    let images: Vec<String> = bed
        .own_images()
        .iter()
        .filter_map(|i| i.image_id().map(str::to_string))
        .collect();
    assert_eq!(images, [kept_images[0].image_id().unwrap_or_default()]);
    for s in &kept_snapshots {
        assert!(bed.snapshot_exists(s), "snapshot {s} of the kept image");
    }

    signal("-INT", &format!("-{}", child.id()));
    let _ = child.wait_with_output();
    kept.destroy(&[]);
}

/// EC2 is eventually consistent: for a few seconds after a create, calls
/// naming the new instance, image or group may answer "not found". A bake
/// through such an endpoint completes, and one that fails at once (right
/// after its launch) still removes everything: the not-found of its own
/// fresh objects is retried, not taken for "already gone".
#[test]
fn not_found_right_after_create_leaks_nothing() {
    let bed = Bed::start_with_proxy(&[], &["--not-found-for", "4"]);
    let tf = bed.workspace("fresh", &quick_resource(&bed, ""), V);
    tf.init();
    tf.apply(&[]);
    bed.assert_no_leftovers();
    assert_eq!(bed.own_images().len(), 1);
    let state = bed.set_faults(r#"{"not_found_for": 4}"#);
    let hidden = &state["not_found"];
    assert!(
        hidden["DescribeInstances"].as_u64().unwrap_or(0) > 0
            && hidden["DescribeImages"].as_u64().unwrap_or(0) > 0,
        "the proxy hid the new objects: {state}"
    );
    tf.destroy(&[]);

    // Fails right after the launch, while its removals still answer "not
    // found" for 10 s: the instance and group are removed all the same.
    let before = bed.set_faults(
        r#"{"not_found_for": 10, "not_found_actions": "TerminateInstances,DeleteSecurityGroup,DeregisterImage"}"#,
    );
    let failing = "  provision {\n    shell {\n      inline = [\"exit 3\"]\n    }\n  }\n";
    let tf = bed.workspace("fresh-fail", &quick_resource(&bed, failing), V);
    tf.init();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(out.contains("exit"), "{out}");
    bed.assert_no_leftovers();
    assert!(bed.own_images().is_empty());
    let after = bed.set_faults("{}");
    let terminate =
        |s: &serde_json::Value| s["not_found"]["TerminateInstances"].as_u64().unwrap_or(0);
    assert!(
        terminate(&after) > terminate(&before),
        "the terminate was answered not found: {after}"
    );
}
