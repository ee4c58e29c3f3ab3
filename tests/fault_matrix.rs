//! The fault matrix: a failure injected at each bake step (through a proxy
//! between the provider and the EC2 API, or on the SSH side) must fail the
//! apply with a diagnostic naming that step and leave nothing behind that is
//! not in Terraform state. Throttling must not fail a bake at all.

mod support;

use support::{Bed, TfVersion, flat};

struct Case {
    what: &'static str,
    /// Fault proxy configuration (JSON) for the apply.
    faults: &'static str,
    /// The step the diagnostic must name.
    step: &'static str,
    /// Extra lines inside the resource.
    extra: &'static str,
    /// Extra lines inside its `ssh` block.
    ssh_extra: &'static str,
    /// Whether the image was finished (then it is kept in state, tainted).
    keeps_image: bool,
}

const CASES: &[Case] = &[
    Case {
        what: "key pair import refused",
        faults: r#"{"fail_action": "ImportKeyPair"}"#,
        step: "key_pair",
        extra: "",
        ssh_extra: "",
        keeps_image: false,
    },
    Case {
        what: "group creation refused",
        faults: r#"{"fail_action": "CreateSecurityGroup"}"#,
        step: "security_group",
        extra: "",
        ssh_extra: "",
        keeps_image: false,
    },
    Case {
        what: "ingress rule refused",
        faults: r#"{"fail_action": "AuthorizeSecurityGroupIngress"}"#,
        step: "security_group",
        extra: "",
        ssh_extra: "",
        keeps_image: false,
    },
    Case {
        what: "launch refused",
        faults: r#"{"fail_action": "RunInstances"}"#,
        step: "launch",
        extra: "",
        ssh_extra: "",
        keeps_image: false,
    },
    Case {
        what: "launch answer lost",
        faults: r#"{"fail_action": "RunInstances", "fail_after_forward": true}"#,
        step: "launch",
        extra: "",
        ssh_extra: "",
        keeps_image: false,
    },
    Case {
        what: "instance state unreadable",
        faults: r#"{"fail_action": "DescribeInstances"}"#,
        step: "launch",
        extra: "",
        ssh_extra: "",
        keeps_image: false,
    },
    Case {
        what: "console unreadable",
        faults: r#"{"fail_action": "GetConsoleOutput"}"#,
        step: "connect",
        extra: "",
        // The default (`generated`) never reads the console.
        ssh_extra: "host_key_check = \"console\"\n",
        keeps_image: false,
    },
    Case {
        what: "provisioning command fails",
        faults: "{}",
        step: "provision",
        extra: "provision {\nshell {\ninline = [\"exit 7\"]\n}\n}",
        ssh_extra: "",
        keeps_image: false,
    },
    Case {
        what: "stop refused",
        faults: r#"{"fail_action": "StopInstances"}"#,
        step: "stop",
        extra: "",
        ssh_extra: "",
        keeps_image: false,
    },
    Case {
        what: "image creation refused",
        faults: r#"{"fail_action": "CreateImage"}"#,
        step: "create_image",
        extra: "",
        ssh_extra: "",
        keeps_image: false,
    },
    Case {
        what: "image answer lost",
        faults: r#"{"fail_action": "CreateImage", "fail_after_forward": true}"#,
        step: "create_image",
        extra: "",
        ssh_extra: "",
        keeps_image: false,
    },
    Case {
        what: "snapshot tagging refused",
        faults: r#"{"fail_action": "CreateTags"}"#,
        step: "tag",
        extra: "snapshot_tags = { Name = \"root\" }",
        ssh_extra: "",
        keeps_image: true,
    },
    Case {
        what: "sharing refused",
        faults: r#"{"fail_action": "ModifyImageAttribute"}"#,
        step: "share",
        extra: "ami_users = [\"111122223333\"]",
        ssh_extra: "",
        keeps_image: true,
    },
];

fn hcl(bed: &Bed, extra: &str) -> String {
    hcl_ssh(bed, extra, "")
}

/// The provider block without the expiry sweep (tests/expiry.rs): its own
/// describes at configure would take a fault meant for a step's first call.
fn hcl_ssh(bed: &Bed, extra: &str, ssh_extra: &str) -> String {
    format!(
        "{}\nresource \"golden_ami\" \"img\" {{\n  name_prefix = \"matrix-\"\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-0a11ce0000000a001\"\n{}\n{extra}\n}}\n",
        bed.provider_hcl().replace(
            "  region = \"us-east-1\"\n",
            "  region = \"us-east-1\"\n  sweep_expired = false\n",
        ),
        bed.ssh_hcl_with(ssh_extra)
    )
}

#[test]
fn every_step_fails_cleanly() {
    let bed = Bed::start_with_proxy(&[], &[]);
    let mut report = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let tf = bed.workspace(
            &format!("case-{i}"),
            &hcl_ssh(&bed, case.extra, case.ssh_extra),
            TfVersion::Current,
        );
        tf.init();
        bed.set_faults(case.faults);
        let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
        bed.set_faults("{}");
        assert!(
            flat(&out).contains(&format!("golden_ami bake failed at step \"{}\"", case.step)),
            "{}: expected a failure at step {}:\n{out}",
            case.what,
            case.step
        );
        // Reality, through the EC2 API (moto directly, not the proxy).
        let live = bed.live_instances();
        let keys = bed.key_pairs();
        let groups = bed.extra_security_groups();
        let images = bed.own_images();
        report.push(format!(
            "{:<28} step {:<15} instances {} key pairs {} groups {} images {}",
            case.what,
            case.step,
            live.len(),
            keys.len(),
            groups.len(),
            images.len()
        ));
        assert!(
            live.is_empty() && keys.is_empty() && groups.is_empty(),
            "{}: leftovers {live:?} {keys:?} {groups:?}",
            case.what
        );
        if case.keeps_image {
            // The finished image is Terraform's: saved, tainted, replaced by the next apply.
            assert_eq!(images.len(), 1, "{}", case.what);
            let id = images[0].image_id().unwrap().to_string();
            let state = tf.state_file();
            assert!(
                state.contains(&id) && state.contains("\"status\": \"tainted\""),
                "{}: tainted in state:\n{state}",
                case.what
            );
            let applied = tf.apply(&[]);
            let now = bed.own_images();
            assert_eq!(
                now.len(),
                1,
                "{}: the tainted image is replaced: {now:?}\n{applied}",
                case.what
            );
            assert_ne!(now[0].image_id().unwrap(), id);
            tf.destroy(&[]);
        } else {
            assert!(
                images.is_empty(),
                "{}: no image outside state {images:?}",
                case.what
            );
            assert!(
                !tf.state_file().contains("golden_ami"),
                "{}: nothing in state",
                case.what
            );
        }
        assert!(bed.own_images().is_empty());
    }
    eprintln!("fault matrix:\n{}", report.join("\n"));
}

/// 30 % of EC2 calls throttled: the SDK's adaptive retry rides it out.
#[test]
fn throttled_api_still_bakes() {
    let bed = Bed::start_with_proxy(&[], &[]);
    let tf = bed.workspace("throttled", &hcl(&bed, ""), TfVersion::Current);
    tf.init();
    bed.set_faults(r#"{"throttle_fraction": 0.3, "seed": 7}"#);
    tf.apply(&[]);
    let counters = bed.set_faults("{}");
    let throttled: u64 = counters["faults"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0);
    assert!(throttled > 0, "the proxy throttled nothing: {counters}");
    assert_eq!(bed.own_images().len(), 1);
    bed.assert_no_leftovers();
    tf.destroy(&[]);
    assert!(bed.own_images().is_empty());
    eprintln!("throttled {throttled} calls; counters {counters}");
}

/// The build instance drops off the network in the middle of a command.
#[test]
fn ssh_lost_mid_step_fails_cleanly() {
    let bed = Bed::start();
    let r = bed.remote_dir();
    std::fs::create_dir_all(&r).unwrap();
    let started = r.join("started");
    let extra = format!(
        "provision {{\nshell {{\ninline = [\"touch {}\", \"sleep 60\"]\n}}\n}}",
        started.display()
    );
    let tf = bed.workspace("ssh-lost", &hcl(&bed, &extra), TfVersion::Current);
    tf.init();
    let child = tf
        .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !started.exists() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(60),
            "provisioning never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    bed.stop_sshd();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(
        flat(&text).contains("golden_ami bake failed at step \"provision\""),
        "{text}"
    );
    bed.assert_no_leftovers();
    assert!(bed.own_images().is_empty());
}

/// Regression: a cleanup that fails after the image was finished leaves the
/// journal entry behind; the next run's sweep must remove the leftovers but
/// never the image, which is in Terraform's state.
#[test]
fn sweep_never_removes_an_image_in_state() {
    let bed = Bed::start_with_proxy(&[], &[]);
    let tf = bed.workspace("kept", &hcl(&bed, ""), TfVersion::Current);
    tf.init();
    bed.set_faults(r#"{"fail_action": "DeleteSecurityGroup", "fail_times": -1}"#);
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    bed.set_faults("{}");
    assert!(
        flat(&out).contains("Cleanup of step \"security_group\" failed"),
        "{out}"
    );
    let images = bed.own_images();
    assert_eq!(images.len(), 1, "the finished image is kept");
    let id = images[0].image_id().unwrap().to_string();
    assert!(tf.state_file().contains(&id), "and recorded in state");
    assert_eq!(
        bed.extra_security_groups().len(),
        1,
        "the group is left over"
    );

    // Kill nothing: the plugin that failed is gone, so its entry is judged dead.
    let _ = tf.plan_exit(&[]);
    support::eventually(std::time::Duration::from_secs(30), "the sweep", || {
        bed.extra_security_groups().is_empty()
    });
    assert!(
        bed.image(&id).is_some(),
        "the image in state survives the sweep"
    );
    tf.destroy(&[]);
    assert!(bed.own_images().is_empty());
}
