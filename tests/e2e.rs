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
    own_network_groups_and_rsa_key_shape_the_build,
    copies_to_two_regions_are_encrypted_tagged_shared_and_destroyed,
    a_copy_refused_in_one_region_leaves_nothing_anywhere,
    every_attribute_in_one_bake,
);

/// The data source, across stacks and Terraforms: one bake under the current Terraform, and a
/// second working directory with its own state (under 1.0.3) reads the image back.
#[test]
fn data_source_finds_the_image_another_stack_baked() {
    data_source_reads_another_stacks_image(TfVersion::Current, TfVersion::Oldest)
}

/// Images shared between stacks and kept across rebakes: Terraform 1.11,
/// one bed each (the behaviour is ours; both Terraforms replace alike).
mod sharing {
    #[test]
    fn two_stacks_with_identical_inputs_bake_once() {
        super::two_stacks_with_identical_inputs_bake_once(super::TfVersion::Current)
    }
    #[test]
    fn keep_previous_keeps_the_replaced_image_deprecated() {
        super::keep_previous_keeps_the_replaced_image_deprecated(super::TfVersion::Current)
    }
}

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

/// A spot build instance: with `spot_price = "auto"` and two
/// `spot_instance_types` of which the first has no spot capacity, the bake
/// runs on a spot instance of the second (EC2 shows its lifecycle and
/// request), the request carries `spot_tags` and the build id and is over
/// afterwards. With no spot capacity at all the apply fails with a clear
/// error, leaving nothing and no state; with `spot_fallback_on_demand` it
/// bakes on demand. One Terraform version: the launch path does not depend
/// on it, and the plan-time checks run under both in tests/plan.rs.
#[test]
fn spot_bake_and_no_spot_capacity_with_and_without_fallback() {
    let bed = Bed::start_with(&["--no-spot-capacity", "m5.large,c5.large"]);
    let hcl = |types: &str, extra: &str| {
        small_image_hcl(&bed, "{ Name = \"spot\" }").replace(
            "  tags          =",
            &format!("  spot_price = \"auto\"\n  spot_instance_types = {types}\n  spot_tags = {{ team = \"images\" }}\n{extra}  tags          ="),
        )
    };
    let tf = bed.workspace(
        "spot",
        &hcl("[\"m5.large\", \"t3.small\"]", ""),
        TfVersion::Current,
    );
    tf.init();
    tf.apply(&[]);
    let ami = tf.output("id");
    let build_id = golden_values(&tf.state_json())["build_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (instances, requests) = bed.rt.block_on(async {
        let i = bed.ec2.describe_instances().send().await.unwrap();
        let r = bed
            .ec2
            .describe_spot_instance_requests()
            .send()
            .await
            .unwrap();
        (
            i.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .cloned()
                .collect::<Vec<_>>(),
            r.spot_instance_requests().to_vec(),
        )
    });
    // m5.large was refused (nothing launched), t3.small ran as a spot instance.
    let [inst] = instances.as_slice() else {
        panic!("{instances:?}")
    };
    assert_eq!(inst.instance_type().map(|t| t.as_str()), Some("t3.small"));
    assert_eq!(
        inst.instance_lifecycle().map(|l| l.as_str()),
        Some("spot"),
        "{inst:?}"
    );
    let [req] = requests.as_slice() else {
        panic!("{requests:?}")
    };
    assert_eq!(
        req.spot_instance_request_id(),
        inst.spot_instance_request_id()
    );
    assert_eq!(tag_value(req.tags(), "team").as_deref(), Some("images"));
    assert_eq!(
        tag_value(req.tags(), "golden:build-id").as_deref(),
        Some(build_id.as_str())
    );
    assert!(tag_value(req.tags(), "golden:expires-at").is_some());
    let state = req.state().map(|s| s.as_str().to_string());
    assert!(
        matches!(state.as_deref(), Some("cancelled" | "closed")),
        "the request is over: {state:?}"
    );
    assert!(bed.image(&ami).is_some());
    bed.assert_no_leftovers();
    tf.destroy(&[]);
    assert!(bed.own_images().is_empty());

    // No spot capacity for any type, no fallback: a clear error, nothing left.
    std::fs::write(
        tf.dir.join("main.tf"),
        hcl("[\"m5.large\", \"c5.large\"]", ""),
    )
    .unwrap();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let flat = support::flat(&out);
    for want in [
        "no spot capacity for m5.large, c5.large",
        "InsufficientInstanceCapacity",
        "spot_fallback_on_demand",
    ] {
        assert!(flat.contains(want), "{want:?} in:\n{out}");
    }
    assert_eq!(bed.all_instances(), 1, "nothing launched");
    bed.assert_no_leftovers();
    assert!(bed.own_images().is_empty());
    assert!(
        !tf.state_file().contains("golden_ami"),
        "nothing in state:\n{}",
        tf.state_file()
    );

    // The same with the fallback: instance_type (t3.micro) on demand.
    std::fs::write(
        tf.dir.join("main.tf"),
        hcl(
            "[\"m5.large\", \"c5.large\"]",
            "  spot_fallback_on_demand = true\n",
        ),
    )
    .unwrap();
    tf.apply(&[]);
    let ami = tf.output("id");
    let (fallback, requests) = bed.rt.block_on(async {
        let i = bed.ec2.describe_instances().send().await.unwrap();
        let r = bed
            .ec2
            .describe_spot_instance_requests()
            .send()
            .await
            .unwrap();
        (
            i.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .filter(|i| i.instance_id() != inst.instance_id())
                .cloned()
                .collect::<Vec<_>>(),
            r.spot_instance_requests().len(),
        )
    });
    let [od] = fallback.as_slice() else {
        panic!("{fallback:?}")
    };
    assert_eq!(od.instance_type().map(|t| t.as_str()), Some("t3.micro"));
    assert_eq!(od.instance_lifecycle(), None, "on demand: {od:?}");
    assert_eq!(requests, 1, "no new spot request");
    assert!(bed.image(&ami).is_some());
    bed.assert_no_leftovers();
    tf.destroy(&[]);
    assert!(bed.own_images().is_empty());
}

/// Bakes one image and publishes it as channel `web/staging`, reads it back from a separate
/// working directory and state by `input_digest`, by `name_prefix` + `tags` and by channel, then deprecates it through the EC2 API: the
/// reads then fail (and name it) until `include_deprecated = true`.
fn data_source_reads_another_stacks_image(baker: TfVersion, reader: TfVersion) {
    let bed = Bed::start();
    let bake = bed.workspace(
        "baker",
        &format!(
            "{}\nresource \"golden_channel\" \"staging\" {{\n  name   = \"web/staging\"\n  ami_id = golden_ami.small.id\n}}\n",
            small_image_hcl(&bed, "{ team = \"web\", Name = \"shared\" }")
                .replace("\"small-\"", "\"shared-\"")
        ),
        baker,
    );
    bake.init();
    bake.apply(&[]);
    let ami = bake.output("id");
    let vals = golden_values(&bake.state_json());
    let digest = vals["input_digest"].as_str().unwrap().to_string();
    let reader_hcl = |extra: &str| {
        format!(
            r#"{provider}
data "golden_ami" "by_digest" {{
  input_digest = "{digest}"
{extra}}}
data "golden_ami" "by_name" {{
  name_prefix = "shared-"
  tags        = {{ team = "web" }}
{extra}}}
data "golden_ami" "by_channel" {{
  channel = "web/staging"
{extra}}}
output "by_channel" {{
  value = data.golden_ami.by_channel.id
}}
output "by_digest" {{
  value = data.golden_ami.by_digest.id
}}
output "by_name" {{
  value = data.golden_ami.by_name.id
}}
output "build_id" {{
  value = data.golden_ami.by_name.build_id
}}
output "source" {{
  value = data.golden_ami.by_digest.source_ami_id
}}
output "here" {{
  value = data.golden_ami.by_digest.region_ami_ids["us-east-1"]
}}
output "deprecation" {{
  value = coalesce(data.golden_ami.by_name.deprecation_time, "never")
}}
"#,
            provider = bed.provider_hcl()
        )
    };
    let read = bed.workspace("reader", &reader_hcl(""), reader);
    read.init();
    read.apply(&[]);
    assert_eq!(read.output("by_digest"), ami);
    assert_eq!(read.output("by_name"), ami);
    assert_eq!(read.output("by_channel"), ami);
    assert_eq!(read.output("here"), ami);
    assert_eq!(read.output("build_id"), vals["build_id"].as_str().unwrap());
    assert_eq!(read.output("source"), "ami-0a11ce0000000a001");
    assert_eq!(read.output("deprecation"), "never");
    // `tags` selected by one tag reads back all the image's own (none of `golden:*`).
    let state = read.state_json();
    let by_name = state["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["address"] == "data.golden_ami.by_name"))
        .map(|r| r["values"]["tags"].clone());
    assert_eq!(
        by_name,
        Some(serde_json::json!({"team": "web", "Name": "shared"})),
        "{state}"
    );

    // Deprecate it through the EC2 API. EC2 takes no time in the past and rounds to the
    // minute: the next minute at least 2 s ahead, then wait until it has passed.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = (now + 2 + 59) / 60 * 60;
    bed.rt.block_on(async {
        bed.ec2
            .enable_image_deprecation()
            .image_id(&ami)
            .deprecate_at(aws_smithy_types::DateTime::from_secs(at))
            .send()
            .await
            .unwrap();
    });
    let wait = at + 1 - now;
    std::thread::sleep(std::time::Duration::from_secs(wait.max(0) as u64));
    let out = support::flat(&read.fails(&["plan", "-no-color", "-input=false"]));
    assert!(
        out.contains("No matching image") && out.contains(&format!("{ami} (deprecated)")),
        "a deprecated image is passed over, and named:\n{out}"
    );
    assert!(
        out.contains("input_digest = \"") && out.contains("name_prefix = \"shared-\""),
        "{out}"
    );

    std::fs::write(
        read.dir.join("main.tf"),
        reader_hcl("  include_deprecated = true\n"),
    )
    .unwrap();
    read.apply(&[]);
    assert_eq!(read.output("by_digest"), ami);
    assert_eq!(read.output("by_name"), ami);
    assert!(
        read.output("deprecation").ends_with(".000Z"),
        "{}",
        read.output("deprecation")
    );
    bake.destroy(&[]);
    bed.assert_no_leftovers();
}

/// The snapshots behind an image, as EC2 lists them.
fn snapshots_of(bed: &Bed, ami: &str) -> Vec<String> {
    bed.image(ami)
        .map(|i| {
            i.block_device_mappings()
                .iter()
                .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The holder tags on an image (`golden:holder:<id>`).
fn holders_of(bed: &Bed, ami: &str) -> Vec<String> {
    bed.image(ami)
        .map(|i| {
            i.tags()
                .iter()
                .filter_map(|t| t.key())
                .filter(|k| k.starts_with("golden:holder:"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn shared_image_hcl(bed: &Bed, extra: &str) -> String {
    small_image_hcl(bed, "{ Team = \"web\" }").replace(
        "  name_prefix   = \"small-\"\n",
        &format!("  name_prefix   = \"shared-\"\n{extra}"),
    ) + "output \"reused\" {\n  value = golden_ami.small.reused\n}\noutput \"previous\" {\n  value = jsonencode(golden_ami.small.previous_ids)\n}\n"
}

/// Two working directories, same configuration, `reuse_identical`: one
/// RunInstances in all, the same AMI in both; the first destroy leaves the
/// image, the last removes it and its snapshots.
fn two_stacks_with_identical_inputs_bake_once(v: TfVersion) {
    let bed = Bed::start();
    let hcl = shared_image_hcl(&bed, "  reuse_identical = true\n");
    let first = bed.workspace("stack-a", &hcl, v);
    first.init();
    first.apply(&[]);
    let ami = first.output("id");
    assert_eq!(first.output("reused"), "false");
    assert_eq!(bed.all_instances(), 1);

    let second = bed.workspace("stack-b", &hcl, v);
    second.init();
    let plan = second.ok(&["plan", "-input=false", "-no-color"]);
    let flat = plan.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!("An identical image exists: {ami}")),
        "the plan says what the apply would adopt: {plan}"
    );
    second.apply(&[]);
    assert_eq!(second.output("id"), ami, "the same AMI in both stacks");
    assert_eq!(second.output("reused"), "true");
    assert_eq!(bed.all_instances(), 1, "one RunInstances in all");
    assert_eq!(holders_of(&bed, &ami).len(), 2, "both stacks hold it");
    assert_eq!(
        second.plan_exit(&[]).0,
        0,
        "an adopted image plans no change"
    );
    let snaps = snapshots_of(&bed, &ami);
    assert!(!snaps.is_empty());

    first.destroy(&[]);
    assert!(bed.image(&ami).is_some(), "the other stack still holds it");
    assert_eq!(holders_of(&bed, &ami).len(), 1);
    assert!(snaps.iter().all(|s| bed.snapshot_exists(s)));
    second.destroy(&[]);
    assert!(bed.image(&ami).is_none(), "the last holder removes it");
    assert!(
        snaps.iter().all(|s| !bed.snapshot_exists(s)),
        "and its snapshots"
    );
    bed.assert_no_leftovers();
}

/// `keep_previous = 1`: a rebake deprecates the old image and keeps it in
/// `previous_ids`, the plan naming it; the next rebake deregisters the
/// oldest; destroy leaves nothing.
fn keep_previous_keeps_the_replaced_image_deprecated(v: TfVersion) {
    let bed = Bed::start();
    let hcl = |n: u32| {
        shared_image_hcl(
            &bed,
            &format!("  keep_previous = 1\n  triggers = {{ v = \"{n}\" }}\n"),
        )
    };
    let tf = bed.workspace("keep", &hcl(1), v);
    tf.init();
    tf.apply(&[]);
    let first = tf.output("id");
    let first_snaps = snapshots_of(&bed, &first);
    assert_eq!(tf.output("previous"), "[]");

    std::fs::write(tf.dir.join("main.tf"), hcl(2)).unwrap();
    let (code, plan) = tf.plan_exit(&[]);
    let flat = plan.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(code, 2, "{plan}");
    assert!(
        flat.contains(&format!("This rebake retires AMI {first}"))
            && flat.contains(&format!("{first} will be deprecated at once")),
        "the plan says what the rebake retires: {plan}"
    );
    tf.apply(&[]);
    let second = tf.output("id");
    assert_ne!(second, first);
    assert_eq!(tf.output("previous"), format!("[\"{first}\"]"));
    let kept = bed.image(&first).expect("the replaced image still exists");
    let deprecated = kept.deprecation_time().map(str::to_string);
    assert!(deprecated.is_some(), "and is deprecated");
    assert_eq!(tf.plan_exit(&[]).0, 0, "nothing left to do");

    std::fs::write(tf.dir.join("main.tf"), hcl(3)).unwrap();
    let (_, plan) = tf.plan_exit(&[]);
    let flat = plan.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!(
            "snapshots (unless another stack still holds them): {first}"
        )),
        "{plan}"
    );
    tf.apply(&[]);
    let third = tf.output("id");
    assert_eq!(tf.output("previous"), format!("[\"{second}\"]"));
    assert!(bed.image(&first).is_none(), "the oldest is deregistered");
    assert!(
        first_snaps.iter().all(|s| !bed.snapshot_exists(s)),
        "with its snapshots"
    );
    assert!(
        bed.image(&second)
            .and_then(|i| i.deprecation_time().map(str::to_string))
            .is_some()
    );
    let snaps: Vec<String> = [&second, &third]
        .iter()
        .flat_map(|a| snapshots_of(&bed, a))
        .collect();

    tf.destroy(&[]);
    assert!(bed.image(&second).is_none() && bed.image(&third).is_none());
    assert!(snaps.iter().all(|s| !bed.snapshot_exists(s)));
    assert!(
        bed.own_images()
            .iter()
            .all(|i| i.state().map(|s| s.as_str()) == Some("deregistered"))
    );
    bed.assert_no_leftovers();
}

/// The bake's network and launch settings, checked through the EC2 API: the
/// build instance runs in the freest subnet `subnet_filter` finds inside the
/// VPC `vpc_filter` finds, guarded only by the user's group (no temporary
/// group is made), logs in with a temporary RSA key, boots with
/// `user_data_file`'s content, its volumes carry `run_volume_tags`; the image
/// has ENA, SR-IOV and IMDSv2 support; the user's group outlives destroy.
/// A VPC tagged `Name = name` (`{prefix}.0.0/16`) with two subnets tagged
/// `tier` (a /28, then a freer /24) and a security group of the user's:
/// (vpc, small subnet, big subnet, group id).
fn own_network(
    bed: &Bed,
    name: &str,
    prefix: &str,
    tier: &str,
    group: &str,
) -> (String, String, String, String) {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let tagged = |rt: ResourceType, k: &str, val: &str| {
        TagSpecification::builder()
            .resource_type(rt)
            .tags(Tag::builder().key(k).value(val).build())
            .build()
    };
    bed.rt.block_on(async {
        let vpc = bed
            .ec2
            .create_vpc()
            .cidr_block(format!("{prefix}.0.0/16"))
            .tag_specifications(tagged(ResourceType::Vpc, "Name", name))
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let mut subnets = vec![];
        for cidr in [format!("{prefix}.1.0/28"), format!("{prefix}.2.0/24")] {
            let s = bed
                .ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .tag_specifications(tagged(ResourceType::Subnet, "tier", tier))
                .send()
                .await
                .unwrap();
            subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        let g = bed
            .ec2
            .create_security_group()
            .group_name(group)
            .description("the account's approved group")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let g = g.group_id().unwrap().to_string();
        (vpc, subnets[0].clone(), subnets[1].clone(), g)
    })
}

fn own_network_groups_and_rsa_key_shape_the_build(v: TfVersion) {
    use aws_sdk_ec2::types::Filter;
    let bed = Bed::start();
    let (vpc, small, big, group) =
        own_network(&bed, "golden-build", "10.20", "build", "approved-ssh");
    let remote = bed.remote_dir();
    std::fs::create_dir_all(&remote).unwrap();
    let (started, release) = (remote.join("started"), remote.join("release"));
    let hcl = format!(
        r#"{provider}
resource "golden_ami" "net" {{
  name_prefix             = "net-"
  instance_type           = "t3.micro"
  source_ami              = "ami-0a11ce0000000a001"
  vpc_filter {{
    filters = {{ "tag:Name" = "golden-build" }}
  }}
  subnet_filter {{
    filters   = {{ "tag:tier" = "build" }}
    most_free = true
  }}
  security_group_ids      = ["{group}"]
  temporary_key_pair_type = "rsa"
  user_data_file          = "${{path.module}}/user-data.sh"
  run_volume_tags         = {{ backup = "nightly" }}
  ena_support             = true
  sriov_support           = true
  imds_support            = "v2.0"
{ssh}
  provision {{
    shell {{
      inline = ["touch {started}", "i=0; while [ ! -e {release} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"]
    }}
  }}
}}
output "id" {{
  value = golden_ami.net.id
}}
"#,
        provider = bed.provider_hcl(),
        ssh = bed.ssh_hcl(),
        started = started.display(),
        release = release.display(),
    );
    let tf = bed.workspace("net", &hcl, v);
    std::fs::write(
        tf.dir.join("user-data.sh"),
        "#!/bin/sh\necho golden-user-data-file\n",
    )
    .unwrap();
    tf.init();
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "the network resolves at plan time:\n{plan}");
    let mut apply = tf.apply_until(&started, "the provisioning step");
    // While the instance runs: where, guarded by what, with which key and volume tags.
    let (subnet, groups, volume_tags, key_types, group_names) = bed.rt.block_on(async {
        let o = bed.ec2.describe_instances().send().await.unwrap();
        let i = o.reservations()[0].instances()[0].clone();
        let vols = bed
            .ec2
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name("attachment.instance-id")
                    .values(i.instance_id().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let keys = bed
            .ec2
            .describe_key_pairs()
            .include_public_key(true)
            .send()
            .await
            .unwrap();
        let sgs = bed.ec2.describe_security_groups().send().await.unwrap();
        (
            i.subnet_id().unwrap_or_default().to_string(),
            i.security_groups()
                .iter()
                .map(|g| g.group_id().unwrap_or_default().to_string())
                .collect::<Vec<_>>(),
            vols.volumes()
                .iter()
                .map(|v| tag_value(v.tags(), "backup"))
                .collect::<Vec<_>>(),
            keys.key_pairs()
                .iter()
                .map(|k| {
                    k.public_key()
                        .unwrap_or_default()
                        .split(' ')
                        .next()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect::<Vec<_>>(),
            sgs.security_groups()
                .iter()
                .filter(|g| g.vpc_id() == Some(vpc.as_str()))
                .map(|g| g.group_name().unwrap_or_default().to_string())
                .collect::<Vec<_>>(),
        )
    });
    std::fs::write(&release, "").unwrap();
    let status = apply.wait().unwrap();
    assert!(status.success(), "apply failed: {status}");
    assert_eq!(subnet, big, "the freest subnet, not {small}");
    assert_eq!(groups, vec![group.clone()], "only the user's group");
    let mut names = group_names.clone();
    names.sort();
    assert_eq!(names, vec!["approved-ssh", "default"], "no temporary group");
    assert!(!volume_tags.is_empty());
    assert!(
        volume_tags.iter().all(|t| t.as_deref() == Some("nightly")),
        "{volume_tags:?}"
    );
    assert_eq!(key_types, vec!["ssh-rsa"], "the temporary key is RSA");
    let (_, user_data) = bed.build_instance_facts();
    assert!(
        user_data.contains("echo golden-user-data-file"),
        "{user_data}"
    );
    let ami = tf.output("id");
    let img = bed.image(&ami).unwrap();
    assert_eq!(img.ena_support(), Some(true));
    assert_eq!(img.sriov_net_support(), Some("simple"));
    assert_eq!(img.imds_support().map(|s| s.as_str()), Some("v2.0"));
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "read back as configured:\n{plan}");
    // A new user data file content plans a new bake.
    std::fs::write(tf.dir.join("user-data.sh"), "#!/bin/sh\necho v2\n").unwrap();
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("user_data_file_digest"), "{plan}");
    tf.destroy(&[]);
    let still = bed.rt.block_on(async {
        bed.ec2
            .describe_security_groups()
            .group_ids(&group)
            .send()
            .await
            .map(|o| o.security_groups().len())
            .unwrap_or(0)
    });
    assert_eq!(still, 1, "the user's group is left alone");
    assert!(bed.own_images().is_empty());
    assert!(bed.live_instances().is_empty());
    assert!(bed.key_pairs().is_empty());
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

/// Issue 12's whole surface in one bake: the build instance placed by
/// `vpc_filter`/`subnet_filter`, guarded by the user's group only, a spot
/// instance with an RSA key, `user_data_file`, tagged volumes and its own
/// block devices; the image encrypted with a key, copied to two regions
/// (each copy's snapshots under that region's key), shared by account,
/// group, organization and OU with snapshot permissions in every region,
/// ENA/SR-IOV/IMDS support, deprecation and deregistration protection.
/// Checked through the EC2 API in every region; destroy is refused until
/// protection is lifted, then nothing of the bake is left anywhere.
fn every_attribute_in_one_bake(v: TfVersion) {
    let bed = Bed::start();
    let (key, west_key) = (kms_key(&bed), kms_key_in(&bed, "us-west-2"));
    let org = "arn:aws:organizations::123456789012:organization/o-abcdefghij";
    let ou = "arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdef3456";
    let (_, _, big, group) = own_network(&bed, "golden-all", "10.30", "all", "approved-all");
    let year = 1970
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 31_556_952
        + 3;
    let remote = bed.remote_dir();
    std::fs::create_dir_all(&remote).unwrap();
    let (started, release) = (remote.join("started"), remote.join("release"));
    let hcl = |protected: bool| {
        format!(
            r#"{provider}
resource "golden_ami" "all" {{
  name_prefix   = "all-"
  description   = "every attribute"
  instance_type = "t3.micro"
  source_ami    = "ami-0a11ce0000000a001"
  vpc_filter {{
    filters = {{ "tag:Name" = "golden-all" }}
  }}
  subnet_filter {{
    filters   = {{ "tag:tier" = "all" }}
    most_free = true
  }}
  security_group_ids              = ["{group}"]
  temporary_key_pair_type         = "rsa"
  user_data_file                  = "${{path.module}}/user-data.sh"
  run_tags                        = {{ stage = "build" }}
  run_volume_tags                 = {{ backup = "nightly" }}
  ebs_optimized                   = true
  capacity_reservation_preference = "none"
  enable_unlimited_credits        = true
  spot_price                      = "auto"
  spot_tags                       = {{ team = "images" }}
  spot_fallback_on_demand         = true
  launch_block_device {{
    device_name = "/dev/xvda"
    volume_size = 20
    volume_type = "gp3"
    throughput  = 250
  }}
  ami_block_device {{
    device_name = "/dev/sdg"
    volume_size = 7
    volume_type = "gp3"
  }}
  encrypt_boot                   = true
  kms_key_id                     = "{key}"
  ami_regions                    = ["us-west-2", "eu-west-1"]
  region_kms_key_ids             = {{ "us-west-2" = "{west_key}" }}
  snapshot_copy_duration_minutes = 15
  ami_users                      = ["111122223333"]
  ami_groups                     = ["all"]
  ami_org_arns                   = ["{org}"]
  ami_ou_arns                    = ["{ou}"]
  snapshot_users                 = ["210987654321"]
  snapshot_groups                = ["all"]
  ena_support                    = true
  sriov_support                  = true
  imds_support                   = "v2.0"
  deprecate_at                   = "{year}-01-01T00:00:00Z"
  deregistration_protection {{
    enabled = {protected}
  }}
  tags          = {{ Name = "everything" }}
  snapshot_tags = {{ team = "web" }}
{ssh}
  provision {{
    shell {{
      inline = ["touch {started}", "i=0; while [ ! -e {release} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"]
    }}
  }}
}}
output "id" {{
  value = golden_ami.all.id
}}
"#,
            provider = bed.provider_hcl(),
            ssh = bed.ssh_hcl(),
            started = started.display(),
            release = release.display(),
        )
    };
    let tf = bed.workspace("all", &hcl(true), v);
    std::fs::write(tf.dir.join("user-data.sh"), "#!/bin/sh\necho all\n").unwrap();
    tf.init();
    let mut apply = tf.apply_until(&started, "the provisioning step");
    // While the instance runs: where, guarded by what, bought how, with which key.
    let (subnet, groups, lifecycle, key_types, volume_tags) = bed.rt.block_on(async {
        let o = bed.ec2.describe_instances().send().await.unwrap();
        let i = o.reservations()[0].instances()[0].clone();
        let keys = bed
            .ec2
            .describe_key_pairs()
            .include_public_key(true)
            .send()
            .await
            .unwrap();
        let vols = bed.ec2.describe_volumes().send().await.unwrap();
        (
            i.subnet_id().unwrap_or_default().to_string(),
            i.security_groups()
                .iter()
                .map(|g| g.group_id().unwrap_or_default().to_string())
                .collect::<Vec<_>>(),
            i.instance_lifecycle().map(|l| l.as_str().to_string()),
            keys.key_pairs()
                .iter()
                .map(|k| {
                    let pk = k.public_key().unwrap_or_default();
                    pk.split(' ').next().unwrap_or_default().to_string()
                })
                .collect::<Vec<_>>(),
            vols.volumes()
                .iter()
                .map(|v| tag_value(v.tags(), "backup"))
                .collect::<Vec<_>>(),
        )
    });
    let extra_groups = bed.extra_security_groups();
    std::fs::write(&release, "").unwrap();
    let status = apply.wait().unwrap();
    assert!(status.success(), "apply failed: {status}");
    assert_eq!(subnet, big, "the freest subnet of the filtered VPC");
    assert_eq!(groups, vec![group.clone()], "only the user's group");
    assert_eq!(extra_groups, vec!["approved-all"], "no temporary group");
    assert_eq!(lifecycle.as_deref(), Some("spot"));
    assert_eq!(key_types, vec!["ssh-rsa"]);
    assert!(
        volume_tags.iter().all(|t| t.as_deref() == Some("nightly")),
        "{volume_tags:?}"
    );

    let ami = tf.output("id");
    let img = bed.image(&ami).unwrap();
    assert_eq!(img.ena_support(), Some(true));
    assert_eq!(img.sriov_net_support(), Some("simple"));
    assert_eq!(img.imds_support().map(|s| s.as_str()), Some("v2.0"));
    let devices: Vec<String> = img
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.device_name().map(str::to_string))
        .collect();
    assert!(devices.contains(&"/dev/sdg".to_string()), "{devices:?}");
    let state = golden_values(&tf.state_json());
    let (ids, build_id) = (state["region_ami_ids"].clone(), state["build_id"].clone());
    let seen = regions_seen(&bed, &COPY_REGIONS);
    let mut launch_want: Vec<String> = ["111122223333", "all", org, ou]
        .iter()
        .map(|s| s.to_string())
        .collect();
    launch_want.sort();
    for region in COPY_REGIONS {
        let images = seen[region]["images"].as_array().unwrap();
        assert_eq!(images.len(), 1, "{region}: {seen}");
        let i = &images[0];
        assert_eq!(i["id"], ids[region], "{region}: {ids}");
        assert_eq!(i["tags"]["golden:build-id"], build_id, "{region}");
        assert_eq!(i["tags"]["Name"], "everything", "{region}");
        assert_eq!(i["launch"], serde_json::json!(launch_want), "{region}: {i}");
        assert!(i["deprecation"].as_str().is_some(), "{region}: {i}");
        assert_eq!(i["protection"], "enabled-without-cooldown", "{region}: {i}");
        let want_key = match region {
            "us-east-1" => Some(key.as_str()),
            "us-west-2" => Some(west_key.as_str()),
            _ => None,
        };
        for snap in i["snapshots"].as_array().unwrap() {
            let s = &seen[region]["snapshots"][snap.as_str().unwrap()];
            assert_eq!(s["encrypted"], true, "{region}: {s}");
            if let Some(k) = want_key {
                assert_eq!(s["kms"], k, "{region}: {s}");
            }
            assert_eq!(
                s["volume_users"],
                serde_json::json!(["210987654321", "all"]),
                "{region}: {s}"
            );
        }
    }
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "everything reads back as configured:\n{plan}");

    let refused = tf.fails(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    let flat = refused.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Set `enabled = false`"), "{refused}");
    assert!(bed.image(&ami).is_some(), "the image stays");
    std::fs::write(tf.dir.join("main.tf"), hcl(false)).unwrap();
    tf.apply(&[]);
    assert_eq!(tf.output("id"), ami, "lifting protection is in place");
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
            .filter(|s| s["tags"]["golden:build-id"] == build_id)
            .collect();
        assert!(ours.is_empty(), "{region}: {ours:?}");
    }
    assert_eq!(
        bed.extra_security_groups(),
        vec!["approved-all"],
        "the user's group stays"
    );
    assert!(bed.live_instances().is_empty());
    assert!(bed.key_pairs().is_empty());
}
