//! End to end: `golden_channel` through the real terraform CLI against moto's
//! SSM (in the same moto server as EC2), checked through the SSM API with
//! boto3 (testbed/check_channel.py): publish, promote in place (the history
//! kept as versions), a parameter deleted by hand planned back, import by
//! name, destroy. The AMIs are the bed's catalogue images: a channel needs
//! an image that exists, not a bake.

mod support;

use support::{Bed, Tf, TfVersion};

on_both_terraforms!(channel_publishes_promotes_and_destroys);

const FIRST: &str = "ami-0a11ce0000000a001";
const SECOND: &str = "ami-0a11ce0000000a002";
const PARAM: &str = "/golden/channel/web/prod";

/// Runs testbed/check_channel.py; panics with its words when a check fails.
fn check(bed: &Bed, args: &[&str]) {
    let out = std::process::Command::new("python3")
        .arg(support::repo().join("testbed/check_channel.py"))
        .args([bed.moto_endpoint.as_str(), "us-east-1", PARAM])
        .args(args)
        .output()
        .expect("python3 (install with `bash scripts/setup.sh`)");
    assert!(
        out.status.success(),
        "check_channel {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn apply(tf: &Tf, ami: &str) -> String {
    tf.apply(&[format!("-var=ami={ami}")])
}

fn channel_publishes_promotes_and_destroys(v: TfVersion) {
    let bed = Bed::start();
    let hcl = format!(
        r#"{}
variable "ami" {{}}
resource "golden_channel" "web" {{
  name   = "web/prod"
  ami_id = var.ami
}}
output "parameter_name" {{ value = golden_channel.web.parameter_name }}
output "resolve_ssm" {{ value = golden_channel.web.resolve_ssm }}
output "version" {{ value = golden_channel.web.versions["us-east-1"] }}
output "published" {{ value = golden_channel.web.region_ami_ids["us-east-1"] }}
"#,
        bed.provider_hcl()
    );
    let tf = bed.workspace("channel", &hcl, v);
    tf.init();

    apply(&tf, FIRST);
    check(&bed, &["history", FIRST]);
    assert_eq!(tf.output("parameter_name"), PARAM);
    assert_eq!(tf.output("resolve_ssm"), format!("resolve:ssm:{PARAM}"));
    assert_eq!(tf.output("version"), "1");
    assert_eq!(tf.output("published"), FIRST);

    // Promotion: in place, a second version; `name:1` still the first id.
    let (code, plan) = tf.plan_exit(&[format!("-var=ami={SECOND}")]);
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("1 to change, 0 to destroy"), "{plan}");
    apply(&tf, SECOND);
    check(&bed, &["history", &format!("{FIRST},{SECOND}")]);
    assert_eq!(tf.output("version"), "2");
    let (code, plan) = tf.plan_exit(&[format!("-var=ami={SECOND}")]);
    assert_eq!(code, 0, "the same AMI plans nothing:\n{plan}");

    // A missing AMI is refused at plan time, nothing written.
    let (code, plan) = tf.plan_exit(&["-var=ami=ami-0000000000000bad".to_string()]);
    assert_eq!(code, 1, "{plan}");
    assert!(plan.contains("AMI not found"), "{plan}");

    // Deleted by hand: the plan makes it again.
    check(&bed, &["delete"]);
    let (code, plan) = tf.plan_exit(&[format!("-var=ami={SECOND}")]);
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.contains("1 to add, 0 to change, 0 to destroy"),
        "{plan}"
    );
    apply(&tf, SECOND);
    check(&bed, &["history", SECOND]);

    // Import by name: the state matches the configuration.
    tf.ok(&["state", "rm", "golden_channel.web"]);
    tf.ok(&[
        "import",
        "-input=false",
        &format!("-var=ami={SECOND}"),
        "golden_channel.web",
        "web/prod",
    ]);
    // (1.0.3 plans the outputs `state rm` dropped; the resource has no change.)
    let (_, plan) = tf.plan_exit(&[format!("-var=ami={SECOND}")]);
    assert!(
        !plan.contains("golden_channel.web will") && !plan.contains("golden_channel.web must"),
        "an imported channel plans nothing:\n{plan}"
    );

    tf.destroy(&[format!("-var=ami={SECOND}")]);
    check(&bed, &["absent"]);
}
