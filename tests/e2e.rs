//! End to end: the real terraform CLI bakes through this provider against a
//! real EC2 API (moto server) and a real sshd, and every claim is checked
//! through the EC2 API or on the "instance" itself, not taken from the
//! provider's word. Each scenario runs under the Terraform on PATH and 1.0.3.

mod support;

use std::os::unix::fs::PermissionsExt;
use support::{Bed, TfVersion, golden_values};

on_both_terraforms!(
    seed_provisioners_template_bakes_and_destroys,
    seed_builder_template_bakes,
    failing_shell_step_fails_apply_and_leaves_nothing,
    bad_input_fails_at_plan_and_creates_nothing,
    tag_change_updates_in_place,
    import_and_out_of_band_deletion,
    ctrl_c_during_provisioning_cleans_up,
    secret_environment_stays_secret,
    multi_line_secret_from_an_earlier_step_stays_secret,
    deregistration_protection_refuses_destroy_until_lifted,
    a_taken_name_fails_the_plan_unless_force_deregister,
    block_devices_shape_the_instance_and_the_image,
    encrypt_boot_encrypts_the_image_with_the_key,
    sharing_by_organization_and_snapshot_permissions_change_in_place,
    copies_to_two_regions_are_encrypted_tagged_shared_and_destroyed,
    a_copy_refused_in_one_region_leaves_nothing_anywhere,
);

fn tag_value(tags: &[aws_sdk_ec2::types::Tag], key: &str) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .map(str::to_string)
}

fn seed_provisioners_template_bakes_and_destroys(v: TfVersion) {
    let bed = Bed::start();
    let tf = bed.workspace_from_example("seed-provisioners", v);
    tf.init();
    let remote = bed.remote_dir();
    let mut vars = bed.example_vars();
    vars.push(format!("-var=remote_dir={}", remote.display()));
    tf.apply(&vars);

    let ami = tf.output("ami_id");
    let img = bed
        .image(&ami)
        .unwrap_or_else(|| panic!("AMI {ami} not found through the EC2 API"));
    assert!(
        img.name().unwrap().starts_with("training-amazon-linux-"),
        "name {:?}",
        img.name()
    );
    assert_eq!(img.name().unwrap(), tf.output("ami_name"));
    assert_eq!(img.description(), Some("Linux-AMI"));
    assert_eq!(
        tag_value(img.tags(), "Name").as_deref(),
        Some("training-amazon-linux")
    );
    let build_id = tag_value(img.tags(), "golden:build-id").expect("build id tag on the AMI");
    // Baked from the newest image the seed filters select in the test catalogue.
    assert_eq!(
        tag_value(img.tags(), "golden:source-ami").as_deref(),
        Some("ami-0a11ce0000000a003")
    );

    let snaps: Vec<String> = img
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()))
        .map(str::to_string)
        .collect();
    assert!(!snaps.is_empty(), "the AMI has no snapshot");
    let stags = bed.snapshot_tags(&snaps[0]);
    assert!(
        stags.contains(&("Name".into(), "training-amazon-linux-root".into())),
        "snapshot tags {stags:?}"
    );
    assert!(
        stags.contains(&("golden:build-id".into(), build_id.clone())),
        "snapshot tags {stags:?}"
    );

    // The provisioners ran, in order, on the "instance".
    let script = remote.join("wordpress-nginx.sh");
    let mode = std::fs::metadata(&script)
        .expect("uploaded script")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "file upload keeps the mode");
    let conf = std::fs::read_to_string(remote.join("nginx/wordpress.conf"))
        .expect("the uploaded script ran");
    assert!(conf.contains("root /var/www/wordpress;"));

    // Nothing temporary is left; exactly one build instance was ever launched.
    bed.assert_no_leftovers();
    assert_eq!(bed.all_instances(), 1);
    // Safe by default: IMDSv2 required, and a self-destruct timer a minute past the
    // create timeout (60 min), which the bake removed before the image was made.
    let (tokens, user_data) = bed.build_instance_facts();
    assert_eq!(tokens, "required");
    assert!(user_data.contains("+ 3660 ))"), "user data: {user_data}");
    assert!(
        !bed.instance_root().join("var/lib/golden-ami").exists(),
        "the timer is gone"
    );

    let state = tf.state_json();
    let vals = golden_values(&state);
    assert_eq!(vals["id"], ami.as_str());
    assert_eq!(vals["build_id"], build_id.as_str());
    assert_eq!(vals["region"], "us-east-1");
    assert_eq!(vals["source_ami_id"], "ami-0a11ce0000000a003");
    assert_eq!(vals["snapshot_ids"][0], snaps[0].as_str());
    assert!(
        vals["creation_date"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );

    let (code, out) = tf.plan_exit(&vars);
    assert_eq!(code, 0, "a second plan must be empty:\n{out}");

    tf.destroy(&vars);
    assert!(bed.image(&ami).is_none(), "destroy must deregister the AMI");
    for s in &snaps {
        assert!(!bed.snapshot_exists(s), "destroy must delete snapshot {s}");
    }
    assert!(bed.own_images().is_empty());
}

fn seed_builder_template_bakes(v: TfVersion) {
    let bed = Bed::start();
    let tf = bed.workspace_from_example("seed-builder", v);
    tf.init();
    let vars = bed.example_vars();
    tf.apply(&vars);
    let ami = tf.output("ami_id");
    let img = bed.image(&ami).expect("AMI exists");
    assert!(img.name().unwrap().starts_with("training-amazon-linux-"));
    bed.assert_no_leftovers();
    tf.destroy(&vars);
    assert!(bed.own_images().is_empty());
}

fn failing_shell_step_fails_apply_and_leaves_nothing(v: TfVersion) {
    let bed = Bed::start();
    let hcl = format!(
        r#"{provider}
resource "golden_ami" "broken" {{
  name          = "broken-image"
  instance_type = "t2.micro"
  source_ami    = "ami-0a11ce0000000a001"
{ssh}
  provision {{
    shell {{
      inline = ["echo step zero is fine"]
    }}
  }}
  provision {{
    shell {{
      inline = ["echo preparing", "echo about to break >&2", "exit 3", "echo never printed"]
    }}
  }}
}}
"#,
        provider = bed.provider_hcl(),
        ssh = bed.ssh_hcl()
    );
    let tf = bed.workspace("broken", &hcl, v);
    tf.init();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(
        out.contains("golden_ami bake failed at step \"provision\""),
        "{out}"
    );
    assert!(
        out.contains("provision[1] (shell) failed: exited with status 3"),
        "{out}"
    );
    assert!(
        out.contains("about to break"),
        "the output tail is in the diagnostic:\n{out}"
    );
    assert!(
        !out.contains("\nnever printed"),
        "the script stops at the failing command:\n{out}"
    );
    assert!(bed.own_images().is_empty(), "no AMI after a failed bake");
    bed.assert_no_leftovers();
    assert_eq!(bed.all_instances(), 1);
    assert!(
        !tf.state_file().contains("golden_ami"),
        "nothing in state:\n{}",
        tf.state_file()
    );
}

fn bad_input_fails_at_plan_and_creates_nothing(v: TfVersion) {
    let bed = Bed::start();
    let ssh = bed.ssh_hcl();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "both-names",
            format!(
                "name = \"a-b-c\"\n name_prefix = \"x-\"\n source_ami = \"ami-0a11ce0000000a001\"\n{ssh}"
            ),
            "Set either `name` or `name_prefix`",
        ),
        (
            "bad-name",
            format!("name = \"bad*name\"\n source_ami = \"ami-0a11ce0000000a001\"\n{ssh}"),
            "contains '*'",
        ),
        (
            "no-match",
            format!(
                "name = \"nomatch\"\n source_ami_filter {{\n filters = {{ name = \"does-not-exist-*\" }}\n owners = [\"amazon\"]\n }}\n{ssh}"
            ),
            "no AMI matches filters",
        ),
        (
            "relative-destination",
            format!(
                "name = \"rel\"\n source_ami = \"ami-0a11ce0000000a001\"\n{ssh}\n provision {{\n file {{\n content = \"x\"\n destination = \"relative/path\"\n }}\n }}"
            ),
            "must be an absolute path",
        ),
        (
            "bad-timeout",
            "name = \"tmo\"\n source_ami = \"ami-0a11ce0000000a001\"\n ssh {\n username = \"u\"\n timeout = \"5 minutes\"\n }".to_string(),
            "is not a duration",
        ),
        (
            "two-kinds",
            format!(
                "name = \"two\"\n source_ami = \"ami-0a11ce0000000a001\"\n{ssh}\n provision {{\n shell {{\n inline = [\"true\"]\n }}\n file {{\n content = \"x\"\n destination = \"/tmp/x\"\n }}\n }}"
            ),
            "holds exactly one of `shell` or `file`",
        ),
    ];
    for (name, body, expect) in cases {
        let hcl = format!(
            "{}\nresource \"golden_ami\" \"bad\" {{\n instance_type = \"t2.micro\"\n {body}\n}}\n",
            bed.provider_hcl()
        );
        let tf = bed.workspace(name, &hcl, v);
        tf.init();
        let out = tf.fails(&["plan", "-no-color", "-input=false"]);
        assert!(
            out.contains(expect),
            "case {name}: expected {expect:?} in:\n{out}"
        );
        assert!(
            out.contains("golden_ami.bad"),
            "case {name}: the diagnostic names the resource:\n{out}"
        );
    }
    assert_eq!(bed.all_instances(), 0, "a plan must never launch anything");
    assert!(bed.key_pairs().is_empty());
    assert!(bed.extra_security_groups().is_empty());
    assert!(bed.own_images().is_empty());
}

fn small_image_hcl(bed: &Bed, tags: &str) -> String {
    format!(
        r#"{provider}
resource "golden_ami" "small" {{
  name_prefix   = "small-"
  instance_type = "t3.micro"
  source_ami    = "ami-0a11ce0000000a001"
  tags          = {tags}
{ssh}
}}
output "id" {{
  value = golden_ami.small.id
}}
"#,
        provider = bed.provider_hcl(),
        ssh = bed.ssh_hcl()
    )
}

fn tag_change_updates_in_place(v: TfVersion) {
    let bed = Bed::start();
    let tf = bed.workspace(
        "tags",
        &small_image_hcl(&bed, "{ Name = \"one\", Old = \"x\" }"),
        v,
    );
    tf.init();
    tf.apply(&[]);
    let ami = tf.output("id");
    std::fs::write(
        tf.dir.join("main.tf"),
        small_image_hcl(&bed, "{ Name = \"two\", Team = \"web\" }"),
    )
    .unwrap();
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("updated in-place"), "{plan}");
    assert!(!plan.contains("must be replaced"), "{plan}");
    tf.apply(&[]);
    assert_eq!(tf.output("id"), ami, "same AMI after a tag change");
    let img = bed.image(&ami).unwrap();
    assert_eq!(tag_value(img.tags(), "Name").as_deref(), Some("two"));
    assert_eq!(tag_value(img.tags(), "Team").as_deref(), Some("web"));
    assert_eq!(tag_value(img.tags(), "Old"), None);
    assert!(
        tag_value(img.tags(), "golden:build-id").is_some(),
        "bookkeeping tags survive"
    );
    assert_eq!(bed.all_instances(), 1, "no rebake");
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "{plan}");

    // Made public by hand, with no ami_users configured: the plan shows it,
    // and the apply takes it back.
    use aws_sdk_ec2::types::{
        ImageAttributeName, LaunchPermission, LaunchPermissionModifications, PermissionGroup,
    };
    let public = || {
        bed.rt.block_on(async {
            let o = bed
                .ec2
                .describe_image_attribute()
                .image_id(&ami)
                .attribute(ImageAttributeName::LaunchPermission)
                .send()
                .await
                .unwrap();
            o.launch_permissions()
                .iter()
                .any(|p| p.group() == Some(&PermissionGroup::All))
        })
    };
    bed.rt.block_on(async {
        bed.ec2
            .modify_image_attribute()
            .image_id(&ami)
            .launch_permission(
                LaunchPermissionModifications::builder()
                    .add(
                        LaunchPermission::builder()
                            .group(PermissionGroup::All)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap()
    });
    assert!(public());
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "drift in sharing shows in the plan:\n{plan}");
    assert!(
        plan.contains("ami_groups"),
        "public by hand shows as ami_groups drift: {plan}"
    );
    tf.apply(&[]);
    assert!(!public(), "the apply made the image private again");
    assert_eq!(tf.plan_exit(&[]).0, 0);
}

fn import_and_out_of_band_deletion(v: TfVersion) {
    let bed = Bed::start();
    let tf = bed.workspace("import", &small_image_hcl(&bed, "{ Name = \"imp\" }"), v);
    tf.init();
    tf.apply(&[]);
    let ami = tf.output("id");
    let before = golden_values(&tf.state_json());

    tf.ok(&["state", "rm", "golden_ami.small"]);
    tf.ok(&[
        "import",
        "-no-color",
        "-input=false",
        "golden_ami.small",
        &ami,
    ]);
    let after = golden_values(&tf.state_json());
    for attr in [
        "id",
        "name",
        "snapshot_ids",
        "source_ami_id",
        "build_id",
        "region",
        "creation_date",
        "tags",
    ] {
        assert_eq!(after[attr], before[attr], "imported {attr}");
    }

    // The image records its input digest: a configuration that would bake
    // something else is a replacement, and the plan says why.
    let main_tf = tf.dir.join("main.tf");
    let hcl = std::fs::read_to_string(&main_tf).unwrap();
    std::fs::write(&main_tf, hcl.replace("\"t3.micro\"", "\"t3.small\"")).unwrap();
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("input_digest") && l.contains("forces replacement")),
        "an input that differs from the image's is named:\n{out}"
    );
    // The configuration that made it is adopted in place, with no rebake.
    std::fs::write(&main_tf, &hcl).unwrap();
    let (_, out) = tf.plan_exit(&[]);
    assert!(!out.contains("must be replaced"), "{out}");
    tf.apply(&[]);
    assert_eq!(tf.output("id"), ami, "the imported image is kept");
    assert_eq!(tf.plan_exit(&[]).0, 0, "adopted: nothing left to change");

    // Deregistered behind Terraform's back: EC2 keeps the snapshots. The next
    // plan bakes it again, and the replacement deletes what the old one left.
    let old_snapshots: Vec<String> = golden_values(&tf.state_json())["snapshot_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert!(!old_snapshots.is_empty());
    bed.rt.block_on(async {
        bed.ec2
            .deregister_image()
            .image_id(&ami)
            .send()
            .await
            .unwrap()
    });
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("golden_ami.small must be replaced"), "{plan}");
    tf.apply(&[]);
    assert_ne!(tf.output("id"), ami, "baked again");
    for s in &old_snapshots {
        assert!(
            !bed.snapshot_exists(s),
            "{s} of the deregistered image is deleted"
        );
    }
    assert_eq!(tf.plan_exit(&[]).0, 0);
    tf.destroy(&[]);
    assert!(bed.own_images().is_empty());
}

/// Ctrl-C in a terminal signals the whole process group, plugin included.
/// The plugin must ignore SIGINT, get StopProvider from Terraform, cancel
/// the bake, clean up, and return.
fn ctrl_c_during_provisioning_cleans_up(v: TfVersion) {
    use std::time::Duration;
    let bed = Bed::start();
    let remote = bed.remote_dir();
    std::fs::create_dir_all(&remote).unwrap();
    let started = remote.join("started");
    // A duration no other test uses, to find this command among the host's processes.
    let nap = 100_000 + u32::from(bed.ssh_port);
    let hcl = format!(
        r#"{provider}
resource "golden_ami" "slow" {{
  name          = "slow-image"
  instance_type = "t2.micro"
  source_ami    = "ami-0a11ce0000000a001"
{ssh}
  provision {{
    shell {{
      inline = ["touch {started}", "sleep {nap}"]
    }}
  }}
}}
"#,
        provider = bed.provider_hcl(),
        ssh = bed.ssh_hcl(),
        started = started.display(),
        nap = nap
    );
    let tf = bed.workspace("interrupt", &hcl, v);
    tf.init();
    support::interrupt_apply_when(&bed, &tf, "provisioning", || started.exists());
    // Nothing keeps running on the "instance" either.
    support::eventually(
        Duration::from_secs(10),
        "the cancelled command ending remotely",
        || support::no_process_matching(&format!("sleep {nap}")),
    );
}

/// A sensitive environment value reaches the command, and nothing else:
/// not the TRACE log, not a diagnostic, and (Terraform 1.11+, write-only)
/// not the state.
fn secret_environment_stays_secret(v: TfVersion) {
    let bed = Bed::start();
    let r = bed.remote_dir();
    let secret = "tok-8c1f2e-do-not-leak";
    let hcl = |tail: &str| {
        format!(
            r#"{provider}
resource "golden_ami" "img" {{
  name_prefix   = "secret-"
  instance_type = "t3.micro"
  source_ami    = "ami-0a11ce0000000a001"
{ssh}
  provision {{
    shell {{
      environment = {{ API_TOKEN = "{secret}" }}
      inline      = ["mkdir -p {r}", "printf %s \"$API_TOKEN\" > {r}/token", "echo \"token is $API_TOKEN\""{tail}]
    }}
  }}
}}
"#,
            provider = bed.provider_hcl(),
            ssh = bed.ssh_hcl(),
            r = r.display()
        )
    };
    let mut tf = bed.workspace("secret", &hcl(""), v);
    let log = bed.dir.path().join("trace.log");
    tf.extra_env.push(("TF_LOG".into(), "TRACE".into()));
    tf.extra_env
        .push(("TF_LOG_PATH".into(), log.display().to_string()));
    tf.init();
    let out = tf.apply(&[]);
    assert_eq!(
        std::fs::read_to_string(r.join("token")).unwrap(),
        secret,
        "the command got the value"
    );
    let trace = std::fs::read_to_string(&log).unwrap();
    assert!(
        trace.contains("token is (sensitive value)"),
        "the line is logged, masked"
    );
    assert!(!trace.contains(secret), "the secret is in the TRACE log");
    assert!(!out.contains(secret));
    if matches!(v, TfVersion::Current) {
        assert!(
            !tf.state_file().contains(secret),
            "write-only: not in state"
        );
    }
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "a second plan is empty:\n{plan}");

    // A failing step's diagnostic shows the output tail, masked.
    std::fs::write(tf.dir.join("main.tf"), hcl(", \"exit 4\"")).unwrap();
    std::fs::remove_file(&log).unwrap();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(out.contains("token is (sensitive value)"), "{out}");
    assert!(!out.contains(secret), "{out}");
    assert!(!std::fs::read_to_string(&log).unwrap().contains(secret));
}

/// A value read with file() keeps its trailing newline, and a key spans
/// lines: every line of every step's values is masked, in every step's
/// output (here printed by a later step that has no environment of its own)
/// and in the failure's diagnostic.
fn multi_line_secret_from_an_earlier_step_stays_secret(v: TfVersion) {
    let bed = Bed::start();
    let r = bed.remote_dir();
    let key_lines = [
        "-----BEGIN GOLDEN TEST KEY-----",
        "MIIEpAIBAAKCAQEA7q3first-line-of-the-key",
        "Zm9vYmFyc2Vjb25kLWxpbmUtb2YtdGhlLWtleQ",
        "-----END GOLDEN TEST KEY-----",
    ];
    let token = "tok-5e0d77-single-line-with-newline";
    let hcl = format!(
        r#"{provider}
resource "golden_ami" "img" {{
  name_prefix   = "secret-"
  instance_type = "t3.micro"
  source_ami    = "ami-0a11ce0000000a001"
{ssh}
  provision {{
    shell {{
      environment = {{ KEY = file("${{path.module}}/key.pem"), TOKEN = file("${{path.module}}/token") }}
      inline      = ["mkdir -p {r}", "printf %s \"$KEY\" > {r}/key", "printf %s \"$TOKEN\" > {r}/token", "echo \"$KEY\""]
    }}
  }}
  provision {{
    shell {{
      inline = ["cat {r}/key", "echo \"token: $(cat {r}/token)\"", "echo \"joined: $(tr '\n' ' ' < {r}/key)\"", "exit 4"]
    }}
  }}
}}
"#,
        provider = bed.provider_hcl(),
        ssh = bed.ssh_hcl(),
        r = r.display()
    );
    let mut tf = bed.workspace("multi-line-secret", &hcl, v);
    std::fs::write(tf.dir.join("key.pem"), key_lines.join("\n") + "\n").unwrap();
    std::fs::write(tf.dir.join("token"), format!("{token}\n")).unwrap();
    let log = bed.dir.path().join("trace.log");
    tf.extra_env.push(("TF_LOG".into(), "TRACE".into()));
    tf.extra_env
        .push(("TF_LOG_PATH".into(), log.display().to_string()));
    tf.init();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert_eq!(
        std::fs::read_to_string(r.join("token")).unwrap(),
        format!("{token}\n"),
        "the command got the value, newline included"
    );
    let trace = std::fs::read_to_string(&log).unwrap();
    assert!(
        trace.contains("token: (sensitive value)"),
        "the later step's line is logged, masked"
    );
    assert!(out.contains("token: (sensitive value)"), "{out}");
    for secret in key_lines.iter().skip(1).take(2).chain([&token]) {
        assert!(!trace.contains(secret), "{secret} is in the TRACE log");
        assert!(!out.contains(secret), "{secret} is in the output:\n{out}");
    }
    assert!(!out.contains("BEGIN GOLDEN TEST KEY"), "{out}");
    assert!(!trace.contains("BEGIN GOLDEN TEST KEY"));
    bed.assert_no_leftovers();
}

/// The bed's servers (moto, sshd, and the wrappers that started them) end
/// with it: killing a wrapper alone used to orphan its sshd, and every test
/// run left listeners behind.
#[test]
fn the_test_bed_leaves_no_process_behind() {
    let bed = Bed::start();
    let marker = bed.dir.path().to_string_lossy().to_string();
    assert!(
        !support::no_process_matching(&marker),
        "the bed's servers run under {marker}"
    );
    drop(bed);
    assert!(
        support::no_process_matching(&marker),
        "a process of the dropped bed is still running (pgrep -f {marker})"
    );
}

/// `--version` answers without a Terraform handshake.
#[test]
fn version_names_the_release_and_the_protocol() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_terraform-provider-golden"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!(
            "terraform-provider-golden {} (Terraform plugin protocol 6.0)",
            option_env!("GOLDEN_VERSION").unwrap_or(env!("CARGO_PKG_VERSION"))
        )
    );
}

/// The bed's EC2 schedules and cancels deprecation as EC2 does (stock moto
/// answers both calls with HTTP 500): checked through boto3 by
/// testbed/check_deprecation.py, so the provider's drift tests rest on it.
#[test]
fn the_test_bed_deprecates_images_as_ec2_does() {
    let bed = Bed::start();
    let out = std::process::Command::new("python3")
        .arg(support::repo().join("testbed/check_deprecation.py"))
        .arg(&bed.moto_endpoint)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The bed's EC2 launches, images, copies and protects volumes as the EC2 API Reference says:
/// testbed/check_images.py starts its own bed and checks through boto3 (issue 12's test bed).
#[test]
fn the_test_bed_keeps_volumes_copies_and_protection_as_ec2_does() {
    let out = std::process::Command::new("python3")
        .arg(support::repo().join("testbed/check_images.py"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `deregistration_protection`: EC2 shows it on the finished image; destroy is
/// refused at once (no EC2 call, the image stays); `enabled = false` applies in
/// place, and then destroy removes the image and its snapshots.
fn deregistration_protection_refuses_destroy_until_lifted(v: TfVersion) {
    let bed = Bed::start();
    let hcl = |enabled: bool| {
        small_image_hcl(&bed, "{ Name = \"guarded\" }").replace(
            "  tags          =",
            &format!(
                "  deregistration_protection {{\n    enabled = {enabled}\n  }}\n  tags          ="
            ),
        )
    };
    let tf = bed.workspace("protected", &hcl(true), v);
    tf.init();
    tf.apply(&[]);
    let ami = tf.output("id");
    let shown = |id: &str| {
        bed.image(id)
            .and_then(|i| i.deregistration_protection().map(str::to_string))
    };
    assert_eq!(shown(&ami).as_deref(), Some("enabled-without-cooldown"));
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "protection reads back without drift: {plan}");

    let refused = tf.fails(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    // Terraform wraps diagnostic text at its own width.
    let flat = refused.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("is protected from deregistration"),
        "{refused}"
    );
    assert!(flat.contains("Set `enabled = false`"), "{refused}");
    assert!(bed.image(&ami).is_some(), "the image stays");

    std::fs::write(tf.dir.join("main.tf"), hcl(false)).unwrap();
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("updated in-place"), "{plan}");
    tf.apply(&[]);
    assert_eq!(tf.output("id"), ami, "lifting protection is in place");
    assert_eq!(shown(&ami).as_deref(), Some("disabled"));
    let snapshots: Vec<String> = bed
        .image(&ami)
        .unwrap()
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(str::to_string))
        .collect();
    assert!(!snapshots.is_empty());
    tf.destroy(&[]);
    assert!(bed.image(&ami).is_none(), "the image is gone");
    let left = bed.rt.block_on(async {
        bed.ec2
            .describe_snapshots()
            .set_snapshot_ids(Some(snapshots.clone()))
            .send()
            .await
            .map(|o| o.snapshots().len())
            .unwrap_or(0)
    });
    assert_eq!(left, 0, "its snapshots are gone");
    bed.assert_no_leftovers();
}

/// A fixed `name` another AMI of the account already has: the plan fails and
/// names that AMI, baking nothing; with `force_deregister` and
/// `force_delete_snapshot` the old AMI and its snapshots go right before the
/// new image is made under that name (the bed refuses duplicate names, as EC2).
fn a_taken_name_fails_the_plan_unless_force_deregister(v: TfVersion) {
    let bed = Bed::start();
    let fixed = |extra: &str| {
        small_image_hcl(&bed, "{ Name = \"fixed\" }").replace(
            "  name_prefix   = \"small-\"\n",
            &format!("  name = \"golden-fixed\"\n{extra}"),
        )
    };
    let first = bed.workspace("first", &fixed(""), v);
    first.init();
    first.apply(&[]);
    let old = first.output("id");
    let old_snapshots: Vec<String> = bed
        .image(&old)
        .unwrap()
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(str::to_string))
        .collect();

    let second = bed.workspace("second", &fixed(""), v);
    second.init();
    let refused = second.fails(&["plan", "-input=false", "-no-color"]);
    let flat = refused.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("AMI name already in use"), "{refused}");
    assert!(
        flat.contains(&old),
        "the diagnostic names the AMI: {refused}"
    );
    assert!(flat.contains("force_deregister"), "{refused}");
    assert_eq!(bed.all_instances(), 1, "nothing baked for the refused plan");

    std::fs::write(
        second.dir.join("main.tf"),
        fixed("  force_deregister = true\n  force_delete_snapshot = true\n"),
    )
    .unwrap();
    second.apply(&[]);
    let new = second.output("id");
    assert_ne!(new, old);
    assert!(bed.image(&old).is_none(), "the old AMI is deregistered");
    let left = bed.rt.block_on(async {
        bed.ec2
            .describe_snapshots()
            .set_snapshot_ids(Some(old_snapshots.clone()))
            .send()
            .await
            .map(|o| o.snapshots().len())
            .unwrap_or(0)
    });
    assert_eq!(left, 0, "its snapshots are deleted");
    assert_eq!(
        bed.image(&new)
            .and_then(|i| i.name().map(str::to_string))
            .as_deref(),
        Some("golden-fixed")
    );
    second.destroy(&[]);
    bed.assert_no_leftovers();
}

/// `launch_block_device` resizes, re-types and encrypts the source's root and
/// adds a volume to the build instance; `ami_block_device` adds an empty
/// device to the image. EC2 (the bed) shows each as mapped; destroy deletes
/// every snapshot, and no volume outlives the bake.
fn block_devices_shape_the_instance_and_the_image(v: TfVersion) {
    let bed = Bed::start();
    let devices = r#"  launch_block_device {
    device_name = "/dev/xvda"
    volume_size = 20
    volume_type = "gp3"
    throughput  = 250
    encrypted   = true
  }
  launch_block_device {
    device_name           = "/dev/sdf"
    volume_size           = 5
    volume_type           = "io1"
    iops                  = 200
    delete_on_termination = true
  }
  ami_block_device {
    device_name = "/dev/sdg"
    volume_size = 7
    volume_type = "gp3"
  }
"#;
    let hcl = small_image_hcl(&bed, "{ Name = \"disks\" }")
        .replace("  tags          =", &format!("{devices}  tags          ="));
    let tf = bed.workspace("disks", &hcl, v);
    tf.init();
    tf.apply(&[]);
    let ami = tf.output("id");
    let img = bed.image(&ami).unwrap();
    let by_name: std::collections::BTreeMap<String, aws_sdk_ec2::types::EbsBlockDevice> = img
        .block_device_mappings()
        .iter()
        .filter_map(|m| Some((m.device_name()?.to_string(), m.ebs()?.clone())))
        .collect();
    assert_eq!(
        by_name.keys().cloned().collect::<Vec<_>>(),
        vec!["/dev/sdf", "/dev/sdg", "/dev/xvda"],
        "{by_name:?}"
    );
    let root = &by_name["/dev/xvda"];
    assert_eq!(
        (root.volume_size(), root.encrypted()),
        (Some(20), Some(true))
    );
    assert_eq!(root.volume_type().map(|t| t.as_str()), Some("gp3"));
    assert_eq!(by_name["/dev/sdf"].volume_size(), Some(5));
    let empty = &by_name["/dev/sdg"];
    assert_eq!((empty.volume_size(), empty.snapshot_id()), (Some(7), None));
    let snapshots: Vec<String> = by_name
        .values()
        .filter_map(|e| e.snapshot_id().map(str::to_string))
        .collect();
    assert_eq!(
        snapshots.len(),
        2,
        "a snapshot per EBS volume of the instance"
    );
    let state = tf.state_json();
    let in_state = state["values"]["root_module"]["resources"][0]["values"]["snapshot_ids"].clone();
    assert_eq!(in_state.as_array().map(|a| a.len()), Some(2), "{in_state}");
    let encrypted = bed.rt.block_on(async {
        let o = bed
            .ec2
            .describe_snapshots()
            .snapshot_ids(root.snapshot_id().unwrap())
            .send()
            .await
            .unwrap();
        o.snapshots()[0].encrypted()
    });
    assert_eq!(encrypted, Some(true), "the root snapshot is encrypted");
    let volumes = || {
        bed.rt.block_on(async {
            let o = bed.ec2.describe_volumes().send().await.unwrap();
            o.volumes().len()
        })
    };
    assert_eq!(volumes(), 0, "the build instance's volumes went with it");
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "{plan}");
    tf.destroy(&[]);
    let left = bed.rt.block_on(async {
        bed.ec2
            .describe_snapshots()
            .set_snapshot_ids(Some(snapshots.clone()))
            .send()
            .await
            .map(|o| o.snapshots().len())
            .unwrap_or(0)
    });
    assert_eq!(left, 0, "every snapshot of the image is deleted");
    bed.assert_no_leftovers();
}

/// A KMS key in the bed's KMS (moto), made through boto3: its ARN.
fn kms_key(bed: &Bed) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import boto3,sys; print(boto3.client('kms', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test').create_key()['KeyMetadata']['Arn'])"])
        .arg(&bed.moto_endpoint)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `encrypt_boot` with `kms_key_id`: the image's root snapshot is encrypted
/// with that key, made straight from an encrypted root volume (no copy). A
/// key EC2 cannot use ends the launch (the instance terminates at once, as
/// EC2 does): the apply fails naming the reason, and nothing is left.
fn encrypt_boot_encrypts_the_image_with_the_key(v: TfVersion) {
    let bed = Bed::start();
    let key = kms_key(&bed);
    let hcl = |key: &str| {
        small_image_hcl(&bed, "{ Name = \"sealed\" }").replace(
            "  tags          =",
            &format!("  encrypt_boot = true\n  kms_key_id   = \"{key}\"\n  tags          ="),
        )
    };
    let tf = bed.workspace("sealed", &hcl(&key), v);
    tf.init();
    tf.apply(&[]);
    let ami = tf.output("id");
    let img = bed.image(&ami).unwrap();
    let root = img
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name() == img.root_device_name())
        .and_then(|m| m.ebs())
        .and_then(|e| e.snapshot_id())
        .unwrap()
        .to_string();
    let (encrypted, used) = bed.rt.block_on(async {
        let o = bed
            .ec2
            .describe_snapshots()
            .snapshot_ids(&root)
            .send()
            .await
            .unwrap();
        let s = &o.snapshots()[0];
        (s.encrypted(), s.kms_key_id().map(str::to_string))
    });
    assert_eq!(encrypted, Some(true));
    assert_eq!(used.as_deref(), Some(key.as_str()));
    assert_eq!(bed.all_instances(), 1, "one instance, no copy step");
    tf.destroy(&[]);

    let missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000";
    let bad = bed.workspace("unsealed", &hcl(missing), v);
    bad.init();
    let out = bad.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Client.InvalidKMSKey.InvalidState"), "{out}");
    bed.assert_no_leftovers();
}

/// Launch permissions by Organization, OU and group, and snapshot
/// createVolumePermission, as EC2 (the bed) holds them after the bake, read
/// back without drift, then changed in place.
fn sharing_by_organization_and_snapshot_permissions_change_in_place(v: TfVersion) {
    let bed = Bed::start();
    let org = "arn:aws:organizations::123456789012:organization/o-abcdefghij";
    let ou = "arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefghij";
    let hcl = |sharing: &str| {
        small_image_hcl(&bed, "{ Name = \"shared\" }")
            .replace("  tags          =", &format!("{sharing}  tags          ="))
    };
    let first = format!(
        "  ami_org_arns   = [\"{org}\"]\n  ami_ou_arns    = [\"{ou}\"]\n  ami_groups     = [\"all\"]\n  snapshot_users = [\"210987654321\"]\n"
    );
    let tf = bed.workspace("shared", &hcl(&first), v);
    tf.init();
    tf.apply(&[]);
    let ami = tf.output("id");
    let launch = || {
        bed.rt.block_on(async {
            let o = bed
                .ec2
                .describe_image_attribute()
                .image_id(&ami)
                .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
                .send()
                .await
                .unwrap();
            let mut found: Vec<String> = o
                .launch_permissions()
                .iter()
                .filter_map(|p| {
                    p.organization_arn()
                        .or(p.organizational_unit_arn())
                        .or(p.user_id())
                        .map(str::to_string)
                        .or_else(|| p.group().map(|g| g.as_str().to_string()))
                })
                .collect();
            found.sort();
            found
        })
    };
    let snapshot = bed
        .image(&ami)
        .unwrap()
        .block_device_mappings()
        .iter()
        .find_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(str::to_string))
        .unwrap();
    let volume_users = || {
        bed.rt.block_on(async {
            let o = bed
                .ec2
                .describe_snapshot_attribute()
                .snapshot_id(&snapshot)
                .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
                .send()
                .await
                .unwrap();
            o.create_volume_permissions()
                .iter()
                .filter_map(|p| p.user_id().map(str::to_string))
                .collect::<Vec<_>>()
        })
    };
    let mut want = vec!["all".to_string(), org.to_string(), ou.to_string()];
    want.sort();
    assert_eq!(launch(), want);
    assert_eq!(volume_users(), vec!["210987654321"]);
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "read back without drift: {plan}");

    std::fs::write(
        tf.dir.join("main.tf"),
        hcl(&format!(
            "  ami_ou_arns    = [\"{ou}\"]\n  snapshot_users = [\"111122223333\"]\n"
        )),
    )
    .unwrap();
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("updated in-place"), "{plan}");
    tf.apply(&[]);
    assert_eq!(tf.output("id"), ami, "sharing changes in place");
    assert_eq!(launch(), vec![ou.to_string()]);
    assert_eq!(volume_users(), vec!["111122223333"]);
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "{plan}");
    tf.destroy(&[]);
    bed.assert_no_leftovers();
}

/// A KMS key in `region` of the bed's KMS: its ARN.
fn kms_key_in(bed: &Bed, region: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import boto3,sys; print(boto3.client('kms', endpoint_url=sys.argv[1], region_name=sys.argv[2], aws_access_key_id='test', aws_secret_access_key='test').create_key()['KeyMetadata']['Arn'])"])
        .arg(&bed.moto_endpoint)
        .arg(region)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Each region's images and snapshots, as EC2 (the bed) shows them through
/// boto3 (testbed/check_images.py --dump).
fn regions_seen(bed: &Bed, regions: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new("python3")
        .arg(support::repo().join("testbed/check_images.py"))
        .args(["--dump", &bed.moto_endpoint, &regions.join(",")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const COPY_REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

fn copies_hcl(bed: &Bed, extra: &str) -> String {
    small_image_hcl(bed, "{ Name = \"copied\" }").replace(
        "  tags          =",
        &format!("  ami_regions  = [\"us-west-2\", \"eu-west-1\"]\n{extra}  tags          ="),
    ) + "output \"regions\" {\n  value = golden_ami.small.region_ami_ids\n}\n"
}

/// Copies to two regions: each encrypted with its region's key (or the
/// default key), tagged like the original, shared in every region, and
/// `region_ami_ids` names them; destroy leaves nothing in any region.
fn copies_to_two_regions_are_encrypted_tagged_shared_and_destroyed(v: TfVersion) {
    let bed = Bed::start();
    let west_key = kms_key_in(&bed, "us-west-2");
    let org = "arn:aws:organizations::123456789012:organization/o-abcdefghij";
    let extra = format!(
        "  encrypt_boot = true\n  region_kms_key_ids = {{ \"us-west-2\" = \"{west_key}\" }}\n  snapshot_copy_duration_minutes = 15\n  ami_users = [\"111122223333\"]\n  ami_org_arns = [\"{org}\"]\n  snapshot_users = [\"210987654321\"]\n"
    );
    let tf = bed.workspace("copies", &copies_hcl(&bed, &extra), v);
    tf.init();
    tf.apply(&[]);
    let ami = tf.output("id");
    let state = golden_values(&tf.state_json());
    let ids = state["region_ami_ids"].clone();
    assert_eq!(ids["us-east-1"], ami.as_str(), "{ids}");
    let seen = regions_seen(&bed, &COPY_REGIONS);
    let build_id = state["build_id"].as_str().unwrap().to_string();
    let mut launch_want = vec!["111122223333".to_string(), org.to_string()];
    launch_want.sort();
    for region in COPY_REGIONS {
        let images = seen[region]["images"].as_array().unwrap();
        assert_eq!(images.len(), 1, "{region}: {seen}");
        let img = &images[0];
        assert_eq!(img["id"], ids[region], "{region}: {seen}");
        assert_eq!(img["tags"]["golden:build-id"], build_id.as_str());
        assert_eq!(
            img["tags"]["golden:copy-regions"],
            "eu-west-1,us-east-1,us-west-2"
        );
        assert_eq!(img["tags"]["Name"], "copied");
        assert!(
            img["tags"].get("golden:expires-at").is_none(),
            "{region}: kept"
        );
        assert_eq!(img["launch"], serde_json::json!(launch_want), "{region}");
        for snap in img["snapshots"].as_array().unwrap() {
            let s = &seen[region]["snapshots"][snap.as_str().unwrap()];
            assert_eq!(s["encrypted"], true, "{region}: {s}");
            if region == "us-west-2" {
                assert_eq!(s["kms"], west_key.as_str(), "{region}: {s}");
            }
            assert_eq!(
                s["volume_users"],
                serde_json::json!(["210987654321"]),
                "{region}: {s}"
            );
        }
    }
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "read back without drift: {plan}");
    // A copy deregistered by hand is drift: the plan replaces the image.
    let west = ids["us-west-2"].as_str().unwrap().to_string();
    let out = std::process::Command::new("python3")
        .args(["-c", "import boto3,sys; boto3.client('ec2', endpoint_url=sys.argv[1], region_name='us-west-2', aws_access_key_id='test', aws_secret_access_key='test').deregister_image(ImageId=sys.argv[2])"])
        .args([&bed.moto_endpoint, &west])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("must be replaced"), "{plan}");
    // Destroy removes the rest, and the gone copy's snapshots (EC2 keeps them).
    tf.destroy(&[]);
    let seen = regions_seen(&bed, &COPY_REGIONS);
    for region in COPY_REGIONS {
        assert_eq!(
            seen[region]["images"],
            serde_json::json!([]),
            "{region}: {seen}"
        );
        let ours: Vec<_> = seen[region]["snapshots"]
            .as_object()
            .unwrap()
            .values()
            .filter(|s| s["tags"]["golden:build-id"] == build_id.as_str())
            .collect();
        assert!(ours.is_empty(), "{region}: {ours:?}");
    }
    bed.assert_no_leftovers();
}

/// The bed refuses copies into eu-west-1: the apply fails naming it, no
/// image nor snapshot of the bake is left in any region, and no state.
fn a_copy_refused_in_one_region_leaves_nothing_anywhere(v: TfVersion) {
    let bed = Bed::start_with(&["--refuse-copy", "eu-west-1"]);
    let tf = bed.workspace("refused", &copies_hcl(&bed, ""), v);
    tf.init();
    let out = tf.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("copy to eu-west-1 failed"), "{out}");
    let seen = regions_seen(&bed, &COPY_REGIONS);
    for region in COPY_REGIONS {
        assert_eq!(
            seen[region]["images"],
            serde_json::json!([]),
            "{region}: {seen}"
        );
        let ours: Vec<_> = seen[region]["snapshots"]
            .as_object()
            .unwrap()
            .values()
            .filter(|s| s["tags"].get("golden:build-id").is_some())
            .collect();
        assert!(ours.is_empty(), "{region}: {ours:?}");
    }
    let state = tf.state_json();
    assert!(golden_values(&state).is_null(), "no state: {state}");
    bed.assert_no_leftovers();
}
