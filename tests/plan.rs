//! What the plan says: rebake only on a real change, and say why; in-place
//! updates; create_before_destroy; values unknown until apply; and a
//! catalogue of bad configurations refused at plan time with nothing made.

mod support;

use std::time::Duration;
use support::{Bed, TfVersion, golden_values};

on_both_terraforms!(
    script_content_change_plans_a_rebake_naming_the_step,
    newer_source_ami_plans_a_rebake_unless_opted_out,
    triggers_and_sharing,
    create_before_destroy_replaces_without_a_gap,
    file_source_known_only_after_apply,
    bad_configurations_are_refused_at_plan,
    deprecation_and_snapshot_tags_changed_by_hand_are_planned_back,
);

fn resource(bed: &Bed, body: &str) -> String {
    format!(
        "{}\nresource \"golden_ami\" \"img\" {{\n  instance_type = \"t3.micro\"\n{}\n{body}\n}}\noutput \"id\" {{\n  value = golden_ami.img.id\n}}\n",
        bed.provider_hcl(),
        bed.ssh_hcl()
    )
}

fn script_content_change_plans_a_rebake_naming_the_step(v: TfVersion) {
    let bed = Bed::start();
    let remote = bed.remote_dir();
    let body = format!(
        r#"  name_prefix = "scripted-"
  source_ami  = "ami-0a11ce0000000a001"
  provision {{
    shell {{
      inline = ["mkdir -p {r}"]
    }}
  }}
  provision {{
    file {{
      source      = "${{path.module}}/payload"
      destination = "{r}/"
    }}
  }}
  provision {{
    shell {{
      script = "${{path.module}}/setup.sh"
    }}
  }}"#,
        r = remote.display()
    );
    let tf = bed.workspace("scripted", &resource(&bed, &body), v);
    std::fs::create_dir_all(tf.dir.join("payload")).unwrap();
    std::fs::write(tf.dir.join("payload/app.conf"), "port = 80\n").unwrap();
    std::fs::write(
        tf.dir.join("setup.sh"),
        format!("#!/bin/sh\necho v1 > {}/version\n", remote.display()),
    )
    .unwrap();
    tf.init();
    tf.apply(&[]);
    let first = tf.output("id");
    assert_eq!(
        std::fs::read_to_string(remote.join("version")).unwrap(),
        "v1\n"
    );
    assert_eq!(
        std::fs::read_to_string(remote.join("payload/app.conf")).unwrap(),
        "port = 80\n"
    );
    let vals = golden_values(&tf.state_json());
    assert!(
        vals["input_digest"].as_str().is_some_and(|d| d.len() == 64),
        "{vals}"
    );
    assert!(
        vals["provision"][0]["content_digest"].is_null(),
        "inline steps read no file"
    );
    assert!(vals["provision"][2]["content_digest"].as_str().is_some());

    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "nothing changed:\n{out}");

    // Same path, new content: a rebake, and the plan names the step.
    std::fs::write(
        tf.dir.join("setup.sh"),
        format!("#!/bin/sh\necho v2 > {}/version\n", remote.display()),
    )
    .unwrap();
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("must be replaced"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("content_digest") && l.contains("forces replacement"));
    assert!(
        line.is_some(),
        "the plan names the changed step's content_digest:\n{out}"
    );
    assert!(out.contains("input_digest"), "{out}");

    // A file inside an uploaded directory counts too.
    std::fs::write(
        tf.dir.join("setup.sh"),
        format!("#!/bin/sh\necho v1 > {}/version\n", remote.display()),
    )
    .unwrap();
    assert_eq!(
        tf.plan_exit(&[]).0,
        0,
        "back to the baked content: no change"
    );
    std::fs::write(tf.dir.join("payload/app.conf"), "port = 8080\n").unwrap();
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{out}");
    tf.apply(&[]);
    let second = tf.output("id");
    assert_ne!(first, second);
    assert!(bed.image(&first).is_none(), "the old image is gone");
    assert_eq!(
        std::fs::read_to_string(remote.join("payload/app.conf")).unwrap(),
        "port = 8080\n"
    );
    assert_eq!(tf.plan_exit(&[]).0, 0);
}

/// Makes an image owned by this account named `name`, as a "base image" publisher would.
fn publish_base(bed: &Bed, name: &str) -> String {
    bed.rt.block_on(async {
        let run = bed
            .ec2
            .run_instances()
            .image_id("ami-0a11ce0000000a001")
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .unwrap();
        let inst = run.instances()[0].instance_id().unwrap().to_string();
        let img = bed
            .ec2
            .create_image()
            .instance_id(&inst)
            .name(name)
            .send()
            .await
            .unwrap();
        bed.ec2
            .terminate_instances()
            .instance_ids(&inst)
            .send()
            .await
            .unwrap();
        img.image_id().unwrap().to_string()
    })
}

fn newer_source_ami_plans_a_rebake_unless_opted_out(v: TfVersion) {
    let bed = Bed::start();
    let base1 = publish_base(&bed, "base-1");
    let body = |follow: bool| {
        format!(
            r#"  name_prefix = "follower-"
  rebake_on_new_source = {follow}
  source_ami_filter {{
    filters     = {{ name = "base-*" }}
    owners      = ["self"]
    most_recent = true
  }}"#
        )
    };
    let tf = bed.workspace("follow", &resource(&bed, &body(true)), v);
    tf.init();
    tf.apply(&[]);
    assert_eq!(
        golden_values(&tf.state_json())["source_ami_id"],
        base1.as_str()
    );
    assert_eq!(tf.plan_exit(&[]).0, 0);

    // CreationDate has one-second resolution: make the new one clearly newer.
    std::thread::sleep(Duration::from_millis(1100));
    let base2 = publish_base(&bed, "base-2");
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&base2) && out.contains("forces replacement"),
        "the plan shows the new source:\n{out}"
    );

    std::fs::write(tf.dir.join("main.tf"), resource(&bed, &body(false))).unwrap();
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "only rebake_on_new_source itself changes:\n{out}");
    assert!(!out.contains("must be replaced"), "{out}");
    tf.apply(&[]);
    assert_eq!(
        golden_values(&tf.state_json())["source_ami_id"],
        base1.as_str()
    );
    assert_eq!(
        tf.plan_exit(&[]).0,
        0,
        "opted out: no rebake for a newer source"
    );
}

fn triggers_and_sharing(v: TfVersion) {
    let bed = Bed::start();
    let body = |trigger: &str, users: &str| {
        format!(
            "  name_prefix = \"trig-\"\n  source_ami = \"ami-0a11ce0000000a001\"\n  triggers = {{ app_version = \"{trigger}\" }}\n  ami_users = {users}\n"
        )
    };
    let tf = bed.workspace(
        "trig",
        &resource(&bed, &body("1.0", "[\"111122223333\"]")),
        v,
    );
    tf.init();
    tf.apply(&[]);
    let first = tf.output("id");
    let perms = |id: &str| -> Vec<String> {
        bed.rt.block_on(async {
            let o = bed
                .ec2
                .describe_image_attribute()
                .image_id(id)
                .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
                .send()
                .await
                .unwrap();
            o.launch_permissions()
                .iter()
                .filter_map(|p| p.user_id().map(str::to_string))
                .collect()
        })
    };
    assert_eq!(perms(&first), vec!["111122223333"]);

    std::fs::write(
        tf.dir.join("main.tf"),
        resource(&bed, &body("1.0", "[\"444455556666\"]")),
    )
    .unwrap();
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2);
    assert!(
        out.contains("updated in-place") && !out.contains("must be replaced"),
        "{out}"
    );
    tf.apply(&[]);
    assert_eq!(tf.output("id"), first);
    assert_eq!(perms(&first), vec!["444455556666"]);

    std::fs::write(
        tf.dir.join("main.tf"),
        resource(&bed, &body("2.0", "[\"444455556666\"]")),
    )
    .unwrap();
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2);
    assert!(
        out.contains("must be replaced") && out.contains("app_version"),
        "{out}"
    );
    tf.apply(&[]);
    assert_ne!(tf.output("id"), first);
}

fn create_before_destroy_replaces_without_a_gap(v: TfVersion) {
    let bed = Bed::start();
    let hcl = |itype: &str| {
        format!(
            r#"{provider}
resource "golden_ami" "img" {{
  name_prefix   = "cbd-"
  instance_type = "{itype}"
  source_ami    = "ami-0a11ce0000000a001"
{ssh}
  lifecycle {{
    create_before_destroy = true
  }}
}}
# Stands in for aws_instance.ami: something that consumes the id.
resource "null_resource" "server" {{
  triggers = {{ ami = golden_ami.img.id }}
}}
output "id" {{
  value = golden_ami.img.id
}}
"#,
            provider = bed.provider_hcl_with_null(),
            ssh = bed.ssh_hcl()
        )
    };
    let tf = bed.workspace("cbd", &hcl("t3.micro"), v);
    tf.init();
    tf.apply(&[]);
    let old = tf.output("id");
    std::fs::write(tf.dir.join("main.tf"), hcl("t3.small")).unwrap();
    let out = tf.apply(&[]);
    let new = tf.output("id");
    assert_ne!(old, new);
    let created = out
        .find("golden_ami.img: Creation complete")
        .expect("new image created");
    let destroying = out
        .find("golden_ami.img (deposed object")
        .expect("old image destroyed");
    assert!(
        created < destroying,
        "the new AMI exists before the old one goes:\n{out}"
    );
    assert!(bed.image(&old).is_none());
    assert!(bed.image(&new).is_some());
    let state = tf.state_json();
    let server = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "null_resource")
        .unwrap()
        .clone();
    assert_eq!(server["values"]["triggers"]["ami"], new.as_str());
}

fn file_source_known_only_after_apply(v: TfVersion) {
    let bed = Bed::start();
    let remote = bed.remote_dir();
    let hcl = format!(
        r#"{provider}
# Produces the file to upload; its name is known only after apply.
resource "null_resource" "gen" {{
  provisioner "local-exec" {{
    command = "echo generated-payload > gen-${{self.id}}.txt"
  }}
}}
resource "golden_ami" "img" {{
  name_prefix   = "late-"
  instance_type = "t3.micro"
  source_ami    = "ami-0a11ce0000000a001"
{ssh}
  provision {{
    shell {{
      inline = ["mkdir -p {r}"]
    }}
  }}
  provision {{
    file {{
      source      = "gen-${{null_resource.gen.id}}.txt"
      destination = "{r}/payload.txt"
    }}
  }}
}}
"#,
        provider = bed.provider_hcl_with_null(),
        ssh = bed.ssh_hcl(),
        r = remote.display()
    );
    let tf = bed.workspace("late", &hcl, v);
    tf.init();
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("content_digest = (known after apply)"),
        "{out}"
    );
    tf.apply(&[]);
    assert_eq!(
        std::fs::read_to_string(remote.join("payload.txt")).unwrap(),
        "generated-payload\n"
    );
    let vals = golden_values(&tf.state_json());
    assert!(vals["input_digest"].as_str().is_some(), "{vals}");
    assert!(
        vals["provision"][1]["content_digest"].as_str().is_some(),
        "{vals}"
    );
    assert_eq!(tf.plan_exit(&[]).0, 0);
}

/// Each bad configuration: the body inside the resource, the message, and
/// the source line Terraform must point at (the attribute path made visible).
/// One case per kind of failure: an attribute's own check, a rule across
/// attributes, a nested block, a list element, a map key, a missing block, a
/// local file (relative to Terraform's directory), an AWS lookup and a
/// negative count (keep_previous). Every rule's message is covered by the
/// unit tests (src/provider/golden_ami/tests.rs).
fn catalogue(bed: &Bed) -> Vec<(&'static str, String, &'static str, String)> {
    let ssh = bed.ssh_hcl();
    let src = "source_ami = \"ami-0a11ce0000000a001\"";
    let named = |rest: &str| format!("name = \"bad-config\"\n{src}\n{ssh}\n{rest}");
    vec![
        (
            "both names",
            format!("name = \"abc\"\nname_prefix = \"x-\"\n{src}\n{ssh}"),
            "Set either `name` or `name_prefix`",
            "name_prefix = \"x-\"".into(),
        ),
        (
            "malformed source",
            format!("name = \"abc\"\nsource_ami = \"image-12\"\n{ssh}"),
            "is not an AMI id",
            "source_ami = \"image-12\"".into(),
        ),
        (
            "filter matches nothing",
            format!(
                "name = \"abc\"\nsource_ami_filter {{\nfilters = {{ name = \"does-not-exist-*\" }}\nowners = [\"amazon\"]\n}}\n{ssh}"
            ),
            "no AMI matches filters {\"name\": \"does-not-exist-*\"} with owners [\"amazon\"]",
            "filters = { name = \"does-not-exist-*\" }".into(),
        ),
        (
            "missing script",
            named("provision {\nshell {\nscript = \"nope.sh\"\n}\n}"),
            "\"nope.sh\" is not a readable file",
            "script = \"nope.sh\"".into(),
        ),
        (
            "exit code",
            named("provision {\nshell {\ninline = [\"true\"]\nvalid_exit_codes = [0, 300]\n}\n}"),
            "300 is not an exit status",
            "valid_exit_codes = [0, 300]".into(),
        ),
        (
            "port",
            format!("name = \"abc\"\n{src}\nssh {{\nusername = \"u\"\nport = 70000\n}}"),
            "70000 is not a TCP port",
            "port = 70000".into(),
        ),
        (
            "reserved tag",
            named("tags = { \"aws:owner\" = \"me\" }"),
            "reserved by AWS",
            "tags = { \"aws:owner\" = \"me\" }".into(),
        ),
        (
            "spot price",
            named("spot_price = \"cheap\""),
            "is neither \"auto\" (up to the on-demand price) nor a maximum price",
            "spot_price = \"cheap\"".into(),
        ),
        (
            "spot strategy",
            named("spot_price = \"auto\"\nspot_allocation_strategy = \"cheapest\""),
            "\"cheapest\": use lowest-price, diversified",
            "spot_allocation_strategy = \"cheapest\"".into(),
        ),
        (
            "spot setting without spot_price",
            named("spot_instance_types = [\"t3.micro\", \"t3a.micro\"]"),
            "`spot_instance_types` applies to a spot build instance: set `spot_price`",
            "spot_instance_types = [\"t3.micro\", \"t3a.micro\"]".into(),
        ),
        (
            "negative keep_previous",
            format!("name_prefix = \"k-\"\n{src}\n{ssh}\nkeep_previous = -1"),
            "-1 is not a number of images (0-100)",
            "keep_previous = -1".into(),
        ),
        (
            "subnet twice",
            named(
                "subnet_id = \"subnet-1\"\nsubnet_filter {\nfilters = { \"tag:tier\" = \"build\" }\n}",
            ),
            "Set either `subnet_id` or a `subnet_filter` block",
            "subnet_id = \"subnet-1\"".into(),
        ),
        (
            "own groups and allowed cidrs",
            format!(
                "name = \"abc\"\n{src}\nsecurity_group_ids = [\"sg-1\"]\n{}",
                bed.ssh_hcl_with("    allowed_cidrs = [\"10.0.0.0/8\"]\n")
            ),
            "Conflicting SSH access settings",
            "allowed_cidrs = [\"10.0.0.0/8\"]".into(),
        ),
        (
            "subnet filter matches nothing",
            named("subnet_filter {\nfilters = { \"tag:tier\" = \"none\" }\n}"),
            "matches no subnet",
            "filters = { \"tag:tier\" = \"none\" }".into(),
        ),
        (
            "vpc filter matches nothing",
            named(
                "vpc_filter {\nfilters = { cidr = \"192.168.77.0/24\" }\n}\nsubnet_filter {\nfilters = { \"tag:tier\" = \"x\" }\n}",
            ),
            "matches no VPC",
            "filters = { cidr = \"192.168.77.0/24\" }".into(),
        ),
        (
            "missing group",
            named("security_group_ids = [\"sg-0000000000000dead\"]"),
            "sg-0000000000000dead does not exist",
            "security_group_ids = [\"sg-0000000000000dead\"]".into(),
        ),
        (
            "user data twice",
            named("user_data = \"#!/bin/sh\"\nuser_data_file = \"main.tf\""),
            "Set either `user_data` or `user_data_file`",
            "user_data_file = \"main.tf\"".into(),
        ),
        (
            "key pair type",
            named("temporary_key_pair_type = \"dsa\""),
            "\"dsa\": use ed25519 or rsa.",
            "temporary_key_pair_type = \"dsa\"".into(),
        ),
        (
            "bad region",
            named("ami_regions = [\"us-west-2\", \"Mars-1\"]"),
            "\"Mars-1\" is not an AWS region name",
            "ami_regions = [\"us-west-2\", \"Mars-1\"]".into(),
        ),
        (
            "key for a region without a copy",
            named(
                "ami_regions = [\"us-west-2\"]\nregion_kms_key_ids = { \"eu-west-1\" = \"alias/k\" }",
            ),
            "\"eu-west-1\" is not in `ami_regions`",
            "region_kms_key_ids = { \"eu-west-1\" = \"alias/k\" }".into(),
        ),
        (
            "copy duration",
            named("ami_regions = [\"us-west-2\"]\nsnapshot_copy_duration_minutes = 20"),
            "20 is not a multiple of 15",
            "snapshot_copy_duration_minutes = 20".into(),
        ),
        (
            "no ssh",
            format!("name = \"abc\"\n{src}"),
            "Add an `ssh { username",
            "resource \"golden_ami\" \"img\"".into(),
        ),
        (
            // A whole resource of another type: used as it is.
            "channel name SSM refuses",
            "resource \"golden_channel\" \"bad\" {\nname = \"web prod\"\nami_id = \"ami-0a11ce0000000a001\"\n}"
                .to_string(),
            "SSM parameter names take letters, digits",
            "name = \"web prod\"".into(),
        ),
    ]
}

fn bad_configurations_are_refused_at_plan(v: TfVersion) {
    let bed = Bed::start();
    let tf = bed.workspace(
        "bad",
        &resource(
            &bed,
            "name = \"fine\"\nsource_ami = \"ami-0a11ce0000000a001\"",
        ),
        v,
    );
    tf.init();
    let cases = catalogue(&bed);
    assert_eq!(cases.len(), 23, "one case per kind of failure");
    for (what, body, message, line) in cases {
        let hcl = if body.starts_with("resource ") {
            format!("{}\n{body}\n", bed.provider_hcl())
        } else {
            format!(
                "{}\nresource \"golden_ami\" \"img\" {{\ninstance_type = \"t3.micro\"\n{body}\n}}\n",
                bed.provider_hcl()
            )
        };
        std::fs::write(tf.dir.join("main.tf"), &hcl).unwrap();
        let out = tf.fails(&["plan", "-no-color", "-input=false"]);
        assert!(
            out.contains(message),
            "{what}: expected {message:?} in:\n{out}"
        );
        // Terraform quotes the configuration line the diagnostic's path points at.
        let shown = out.lines().any(|l| {
            l.split_once(": ").is_some_and(|(n, rest)| {
                n.trim().parse::<u32>().is_ok() && rest.trim().starts_with(line.as_str())
            })
        });
        assert!(
            shown,
            "{what}: expected the diagnostic to point at `{line}`:\n{out}"
        );
    }
    for (what, body, message, line) in data_source_catalogue() {
        let hcl = format!(
            "{}\ndata \"golden_ami\" \"found\" {{\n{body}\n}}\n",
            bed.provider_hcl()
        );
        std::fs::write(tf.dir.join("main.tf"), &hcl).unwrap();
        let out = tf.fails(&["plan", "-no-color", "-input=false"]);
        assert!(
            support::flat(&out).contains(message),
            "{what}: expected {message:?} in:\n{out}"
        );
        let shown = out.lines().any(|l| {
            l.split_once(": ").is_some_and(|(n, rest)| {
                n.trim().parse::<u32>().is_ok() && rest.trim().starts_with(line)
            })
        });
        assert!(
            shown,
            "{what}: expected the diagnostic to point at `{line}`:\n{out}"
        );
    }
    assert_eq!(bed.all_instances(), 0, "a refused plan launches nothing");
    assert!(bed.key_pairs().is_empty());
    assert!(bed.extra_security_groups().is_empty());
    assert!(bed.own_images().is_empty());
}

/// Bad `golden_ami` data sources: (what, body, message, configuration line pointed at).
fn data_source_catalogue() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        (
            "no selector",
            "most_recent = true",
            "Set exactly one of `channel`, `input_digest`, `name` / `name_prefix`",
            "data \"golden_ami\" \"found\"",
        ),
        (
            "two selectors",
            "input_digest = \"abc\"\nname_prefix = \"web-\"",
            "`input_digest` is already set, so `name_prefix` must not be",
            "name_prefix = \"web-\"",
        ),
        (
            "matching nothing",
            "name_prefix = \"nothing-\"\ntags = { team = \"web\" }",
            "No image made by the golden provider in us-east-1 has name_prefix = \"nothing-\" and tags { team = \"web\" }",
            "name_prefix = \"nothing-\"",
        ),
    ]
}

/// `deprecate_at` and `snapshot_tags` changed through the EC2 API behind
/// Terraform's back: the plan shows both, the apply puts them back, and EC2's
/// own rendering of the configured time (`...00.000Z`) is no change.
fn deprecation_and_snapshot_tags_changed_by_hand_are_planned_back(v: TfVersion) {
    let bed = Bed::start();
    // EC2 refuses a time in the past or more than 10 years ahead.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let year = 1970 + secs / 31_556_952 + 3;
    let body = format!(
        "  name_prefix   = \"drift-\"\n  source_ami    = \"ami-0a11ce0000000a001\"\n  deprecate_at  = \"{year}-01-01T00:00:00Z\"\n  snapshot_tags = {{ team = \"web\" }}\n"
    );
    let tf = bed.workspace("drift", &resource(&bed, &body), v);
    tf.init();
    tf.apply(&[]);
    let ami = tf.output("id");
    let vals = golden_values(&tf.state_json());
    let snap = vals["snapshot_ids"][0].as_str().unwrap().to_string();
    let deprecation = || -> Option<String> {
        bed.image(&ami)
            .and_then(|i| i.deprecation_time().map(str::to_string))
    };
    let tags = || {
        let mut t = bed.snapshot_tags(&snap);
        t.retain(|(k, _)| !k.starts_with("golden:"));
        t.sort();
        t
    };
    let configured = format!("{year}-01-01T00:00:00");
    assert!(
        deprecation().is_some_and(|d| d.starts_with(&configured)),
        "{:?}",
        deprecation()
    );
    assert_eq!(tags(), vec![("team".to_string(), "web".to_string())]);
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(
        code, 0,
        "EC2's rendering of the same time is no change:\n{out}"
    );

    bed.rt.block_on(async {
        let later = aws_smithy_types::DateTime::from_str(
            &format!("{}-06-01T12:00:00Z", year + 1),
            aws_smithy_types::date_time::Format::DateTime,
        )
        .unwrap();
        bed.ec2
            .enable_image_deprecation()
            .image_id(&ami)
            .deprecate_at(later)
            .send()
            .await
            .unwrap();
        let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
        bed.ec2
            .create_tags()
            .resources(&snap)
            .tags(tag("team", "ops"))
            .tags(tag("extra", "x"))
            .send()
            .await
            .unwrap();
    });
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("deprecate_at") && out.contains("snapshot_tags"),
        "the plan names both attributes:\n{out}"
    );
    assert!(
        out.contains("updated in-place") && !out.contains("must be replaced"),
        "{out}"
    );
    tf.apply(&[]);
    assert_eq!(tf.output("id"), ami, "put back in place, no rebake");
    assert!(
        deprecation().is_some_and(|d| d.starts_with(&configured)),
        "{:?}",
        deprecation()
    );
    assert_eq!(tags(), vec![("team".to_string(), "web".to_string())]);
    assert!(
        bed.snapshot_tags(&snap)
            .iter()
            .any(|(k, _)| k == "golden:build-id"),
        "the bookkeeping tag stays"
    );
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "{out}");
}
