//! The provider block's AWS-provider settings end to end, against moto's STS
//! and EC2 on the same server: an assumed role, the account guards, default
//! tags and ignored tags. Checked through the AWS APIs.
//!
//! moto keeps one world per account and picks it by the request's access
//! key: credentials from its AssumeRole act in the role's account. So an
//! image that only the role's credentials can see, owned by the role's
//! account, was made with the assumed credentials.
//!
//! Run under the Terraform on PATH only: nothing here depends on the
//! Terraform version, and CI time is short.

mod support;

use support::{Bed, TfVersion, flat};

const ROLE_ACCOUNT: &str = "111111111111";
const ROLE: &str = "arn:aws:iam::111111111111:role/baker";
/// moto's account for credentials it did not issue.
const BASE_ACCOUNT: &str = "123456789012";

fn tag_value(tags: &[aws_sdk_ec2::types::Tag], key: &str) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .map(str::to_string)
}

/// `provider "golden"` on this bed with `extra` settings, STS at moto too.
fn provider(bed: &Bed, extra: &str) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    golden = {{ source = \"golden-ami/golden\" }}\n  }}\n}}\nprovider \"golden\" {{\n  region = \"us-east-1\"\n{extra}\n  endpoints {{\n    ec2 = \"{e}\"\n    sts = \"{e}\"\n  }}\n}}\n",
        e = bed.endpoint
    )
}

/// An EC2 client acting as `role` (AssumeRole through moto's STS).
fn ec2_as(bed: &Bed, role: &str) -> aws_sdk_ec2::Client {
    bed.rt.block_on(async {
        use aws_smithy_http_client::tls;
        let http = || {
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https()
        };
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::new()
                .http_client(http())
                .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
                .region(aws_sdk_sts::config::Region::new("us-east-1"))
                .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
                .credentials_provider(aws_sdk_sts::config::Credentials::new(
                    "test", "test", None, None, "test",
                ))
                .endpoint_url(&bed.moto_endpoint)
                .build(),
        );
        let c = sts
            .assume_role()
            .role_arn(role)
            .role_session_name("test-checks")
            .send()
            .await
            .unwrap()
            .credentials
            .unwrap();
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::new()
                .http_client(http())
                .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
                .region(aws_sdk_ec2::config::Region::new("us-east-1"))
                .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
                .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    c.access_key_id,
                    c.secret_access_key,
                    Some(c.session_token),
                    None,
                    "test",
                ))
                .endpoint_url(&bed.moto_endpoint)
                .build(),
        )
    })
}

/// Imports the public keys of the role account's key pairs into the base
/// account; true once there was one.
fn bridge_key_pairs(bed: &Bed, role_ec2: &aws_sdk_ec2::Client) -> bool {
    bed.rt.block_on(async {
        let found = role_ec2
            .describe_key_pairs()
            .include_public_key(true)
            .send()
            .await
            .unwrap();
        let mut any = false;
        for k in found.key_pairs() {
            if let (Some(name), Some(public)) = (k.key_name(), k.public_key()) {
                bed.ec2
                    .import_key_pair()
                    .key_name(name)
                    .public_key_material(aws_smithy_types::Blob::new(public.as_bytes()))
                    .send()
                    .await
                    .unwrap();
                any = true;
            }
        }
        any
    })
}

/// Assumed role, account guard and default tags in one bake: everything is
/// made in the role's account, carries the default tags (the resource's own
/// win), and the default tags are no drift.
#[test]
fn an_assumed_role_bakes_in_its_account_with_default_tags_on_everything() {
    let bed = Bed::start();
    let remote = bed.remote_dir();
    std::fs::create_dir_all(&remote).unwrap();
    let (started, release) = (remote.join("started"), remote.join("release"));
    let hcl = format!(
        r#"{provider}
resource "golden_ami" "tagged" {{
  name_prefix   = "tagged-"
  instance_type = "t3.micro"
  source_ami    = "ami-0a11ce0000000a001"
  tags          = {{ env = "mine" }}
  snapshot_tags = {{ kind = "root" }}
{ssh}
  provision {{
    shell {{
      inline = ["touch {started}", "while [ ! -e {release} ]; do sleep 0.2; done"]
    }}
  }}
}}
output "id" {{
  value = golden_ami.tagged.id
}}
"#,
        provider = provider(
            &bed,
            &format!(
                r#"  access_key = "AKIDBASE"
  secret_key = "base-secret-7f3a"
  token      = "base-session-token-9c1e"
  allowed_account_ids = ["{ROLE_ACCOUNT}"]
  assume_role {{
    role_arn            = "{ROLE}"
    session_name        = "golden-e2e"
    tags                = {{ purpose = "bake" }}
    transitive_tag_keys = ["purpose"]
    source_identity     = "e2e"
    duration            = "1h"
  }}
  default_tags {{
    tags = {{ team = "infra", env = "default" }}
  }}"#
            )
        ),
        ssh = bed.ssh_hcl(),
        started = started.display(),
        release = release.display(),
    );
    let mut tf = bed.workspace("assumed", &hcl, TfVersion::Current);
    let log = bed.dir.path().join("trace.log");
    tf.extra_env.push(("TF_LOG".into(), "TRACE".into()));
    tf.extra_env
        .push(("TF_LOG_PATH".into(), log.display().to_string()));
    tf.init();
    let role_ec2 = ec2_as(&bed, ROLE);
    let mut apply = tf
        .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The bed's sshd admits the key pairs of moto's base account (where a
    // real instance's cloud-init would install the launch key): copy the
    // temporary key pair the bake made in the role's account over to it.
    let mut bridged = false;
    support::eventually(std::time::Duration::from_secs(90), "provisioning", || {
        if !bridged {
            bridged = bridge_key_pairs(&bed, &role_ec2);
        }
        started.exists() || apply.try_wait().unwrap().is_some()
    });
    if !started.exists() {
        let out = apply.wait_with_output().unwrap();
        panic!(
            "the apply ended before provisioning:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // While the bake runs: its temporary resources, in the role's account.
    let (instances, keys, groups) = bed.rt.block_on(async {
        let i = role_ec2.describe_instances().send().await.unwrap();
        let k = role_ec2.describe_key_pairs().send().await.unwrap();
        let g = role_ec2.describe_security_groups().send().await.unwrap();
        (
            i.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .map(|i| i.tags().to_vec())
                .collect::<Vec<_>>(),
            k.key_pairs()
                .iter()
                .map(|k| k.tags().to_vec())
                .collect::<Vec<_>>(),
            g.security_groups()
                .iter()
                .filter(|g| g.group_name() != Some("default"))
                .map(|g| g.tags().to_vec())
                .collect::<Vec<_>>(),
        )
    });
    std::fs::write(&release, "").unwrap();
    let out = apply.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for (what, found) in [
        ("instance", &instances),
        ("key pair", &keys),
        ("security group", &groups),
    ] {
        assert_eq!(found.len(), 1, "one temporary {what} in the role's account");
        assert_eq!(
            tag_value(&found[0], "team").as_deref(),
            Some("infra"),
            "{what}: {:?}",
            found[0]
        );
        assert!(tag_value(&found[0], "golden:build-id").is_some(), "{what}");
    }
    assert!(
        bed.live_instances().is_empty(),
        "nothing launched in the base account"
    );
    assert_eq!(
        bed.all_instances(),
        0,
        "nothing launched in the base account"
    );

    let ami = tf.output("id");
    assert!(
        bed.image(&ami).is_none(),
        "the base account does not see the image"
    );
    let img = bed.rt.block_on(async {
        role_ec2
            .describe_images()
            .image_ids(&ami)
            .send()
            .await
            .unwrap()
            .images()[0]
            .clone()
    });
    assert_eq!(
        img.owner_id(),
        Some(ROLE_ACCOUNT),
        "made with the assumed credentials"
    );
    assert_eq!(tag_value(img.tags(), "team").as_deref(), Some("infra"));
    assert_eq!(
        tag_value(img.tags(), "env").as_deref(),
        Some("mine"),
        "the resource's tag wins"
    );
    let snapshot = img.block_device_mappings()[0]
        .ebs()
        .and_then(|e| e.snapshot_id())
        .unwrap()
        .to_string();
    let snap_tags = bed.rt.block_on(async {
        role_ec2
            .describe_snapshots()
            .snapshot_ids(&snapshot)
            .send()
            .await
            .unwrap()
            .snapshots()[0]
            .tags()
            .to_vec()
    });
    assert_eq!(tag_value(&snap_tags, "team").as_deref(), Some("infra"));
    assert_eq!(tag_value(&snap_tags, "kind").as_deref(), Some("root"));

    // Default tags are not drift; the state's tags are the resource's own.
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "{plan}");
    let state = support::golden_values(&tf.state_json());
    assert_eq!(state["tags"], serde_json::json!({"env": "mine"}));
    assert_eq!(
        state["tags_all"],
        serde_json::json!({"env": "mine", "team": "infra"})
    );
    tf.destroy(&[]);
    let trace = std::fs::read_to_string(&log).unwrap();
    assert!(
        trace.contains("assuming role"),
        "the provider's own log is in the trace"
    );
    for secret in ["base-secret-7f3a", "base-session-token-9c1e"] {
        assert!(!trace.contains(secret), "{secret} is in the TRACE log");
        assert!(
            !tf.state_file().contains(secret),
            "{secret} is in the state"
        );
    }
    let left = bed.rt.block_on(async {
        role_ec2
            .describe_images()
            .owners("self")
            .send()
            .await
            .unwrap()
            .images()
            .len()
    });
    assert_eq!(left, 0, "destroy removed the image from the role's account");
}

fn small(bed: &Bed, settings: &str) -> String {
    format!(
        r#"{provider}
resource "golden_ami" "small" {{
  name_prefix   = "small-"
  instance_type = "t3.micro"
  source_ami    = "ami-0a11ce0000000a001"
  tags          = {{ Name = "small" }}
{ssh}
}}
output "id" {{
  value = golden_ami.small.id
}}
"#,
        provider = provider(bed, settings),
        ssh = bed.ssh_hcl()
    )
}

/// A guard the credentials fail stops plan and apply with a diagnostic that
/// names the account, before anything is made; one they pass lets the plan
/// through (also for web identity credentials).
#[test]
fn account_guards_stop_before_anything_is_made() {
    let bed = Bed::start();
    let token = bed.dir.path().join("web-token");
    std::fs::write(&token, "header.payload.signature\n").unwrap();
    let web = format!(
        "  assume_role_with_web_identity {{\n    role_arn = \"arn:aws:iam::222222222222:role/ci\"\n    web_identity_token_file = \"{}\"\n  }}\n",
        token.display()
    );
    let cases = [
        (
            format!("  forbidden_account_ids = [\"{BASE_ACCOUNT}\"]"),
            Some(("forbidden", BASE_ACCOUNT)),
        ),
        (
            format!("  allowed_account_ids = [\"{ROLE_ACCOUNT}\"]"),
            Some(("not allowed", BASE_ACCOUNT)),
        ),
        (
            format!("{web}  allowed_account_ids = [\"222222222222\"]"),
            None,
        ),
        (
            format!("{web}  forbidden_account_ids = [\"222222222222\"]"),
            Some(("forbidden", "222222222222")),
        ),
    ];
    for (i, (settings, refused)) in cases.iter().enumerate() {
        let tf = bed.workspace(
            &format!("guard{i}"),
            &small(&bed, settings),
            TfVersion::Current,
        );
        tf.init();
        match refused {
            Some((word, account)) => {
                let out = flat(&tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]));
                assert!(
                    out.contains(&format!("AWS account {word}")),
                    "{settings}: {out}"
                );
                assert!(
                    out.contains(&format!("belong to account {account}")),
                    "{settings}: {out}"
                );
            }
            None => {
                let (code, plan) = tf.plan_exit(&[]);
                assert_eq!(code, 2, "{settings}: {plan}");
            }
        }
    }
    assert_eq!(bed.all_instances(), 0, "nothing launched");
    assert!(bed.own_images().is_empty());
    assert!(bed.key_pairs().is_empty());
}

/// Tags put on the image outside Terraform under `ignore_tags` are no
/// drift and survive an update; any other foreign tag is drift. A changed
/// default tag updates the image in place, through `tags_all`.
#[test]
fn ignored_tags_stay_out_of_drift_and_default_tags_update_in_place() {
    let bed = Bed::start();
    let settings = |team: &str| {
        format!(
            "  ignore_tags {{\n    keys         = [\"owner\"]\n    key_prefixes = [\"ops:\"]\n  }}\n  default_tags {{\n    tags = {{ team = \"{team}\" }}\n  }}"
        )
    };
    let tf = bed.workspace(
        "ignore",
        &small(&bed, &settings("infra")),
        TfVersion::Current,
    );
    tf.init();
    tf.apply(&[]);
    let ami = tf.output("id");
    let tag = |k: &str, v: &str| {
        bed.rt.block_on(async {
            bed.ec2
                .create_tags()
                .resources(&ami)
                .tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                .send()
                .await
                .unwrap()
        });
    };
    tag("owner", "someone");
    tag("ops:ticket", "42");
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 0, "ignored tags are no drift:\n{plan}");
    tag("stray", "x");
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "a foreign tag not ignored is drift:\n{plan}");
    assert!(plan.contains("stray"), "{plan}");
    tf.apply(&[]);
    let img = bed.image(&ami).unwrap();
    assert_eq!(
        tag_value(img.tags(), "stray"),
        None,
        "the apply removed the stray tag"
    );
    assert_eq!(
        tag_value(img.tags(), "owner").as_deref(),
        Some("someone"),
        "ignored tags survive"
    );
    assert_eq!(tag_value(img.tags(), "ops:ticket").as_deref(), Some("42"));
    assert_eq!(tf.plan_exit(&[]).0, 0);

    std::fs::write(tf.dir.join("main.tf"), small(&bed, &settings("platform"))).unwrap();
    let (code, plan) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.contains("updated in-place") && plan.contains("tags_all"),
        "{plan}"
    );
    tf.apply(&[]);
    assert_eq!(tf.output("id"), ami, "no rebake for a default tag");
    let img = bed.image(&ami).unwrap();
    assert_eq!(tag_value(img.tags(), "team").as_deref(), Some("platform"));
    assert_eq!(tag_value(img.tags(), "owner").as_deref(), Some("someone"));
    assert_eq!(tf.plan_exit(&[]).0, 0);
}

/// The provider reaches EC2 through `http_proxy`, or through HTTP_PROXY
/// when the block sets none: the endpoint's host name does not resolve, so
/// only the proxy (the bed's relay to moto, counting what it relays) can
/// answer the plan's source lookup.
#[test]
fn calls_go_through_the_configured_or_environment_proxy() {
    let bed = Bed::start_with_proxy(&[], &[]);
    let proxy = bed.endpoint.clone();
    let hcl = |settings: &str| {
        small(&bed, settings).replace(
            &format!("ec2 = \"{proxy}\"\n    sts = \"{proxy}\""),
            "ec2 = \"http://ec2.golden.invalid:5000\"\n    sts = \"http://sts.golden.invalid:5000\"",
        )
    };
    let relayed = || {
        bed.set_faults("{}")["requests"]["DescribeImages"]
            .as_u64()
            .unwrap_or(0)
    };
    let configured = bed.workspace(
        "proxy-block",
        &hcl(&format!("  http_proxy = \"{proxy}\"")),
        TfVersion::Current,
    );
    configured.init();
    let before = relayed();
    let (code, plan) = configured.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");
    assert!(
        relayed() > before,
        "the source lookup went through http_proxy"
    );

    let mut from_env = bed.workspace("proxy-env", &hcl(""), TfVersion::Current);
    from_env
        .extra_env
        .push(("HTTP_PROXY".into(), proxy.clone()));
    from_env.init();
    let before = relayed();
    let (code, plan) = from_env.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");
    assert!(
        relayed() > before,
        "the source lookup went through HTTP_PROXY"
    );

    // Without a proxy the made-up host cannot be reached: the proxy is what answered.
    // (One attempt: a name that does not resolve is retried like any connection error.)
    let direct = bed.workspace("proxy-none", &hcl("  max_retries = 1"), TfVersion::Current);
    direct.init();
    let (code, plan) = direct.plan_exit(&[]);
    assert_eq!(code, 1, "{plan}");
    assert_eq!(bed.all_instances(), 0);
}

/// An endpoint whose certificate chains to a private CA is reached with
/// `custom_ca_bundle` (or AWS_CA_BUNDLE), and refused without it.
#[test]
fn a_custom_ca_bundle_is_trusted() {
    let bed = Bed::start();
    let (url, ca) = bed.start_tls_relay();
    let hcl = |settings: &str| {
        small(&bed, settings).replace(
            &format!("ec2 = \"{}\"", bed.endpoint),
            &format!("ec2 = \"{url}\""),
        )
    };
    let trusted = bed.workspace(
        "ca-block",
        &hcl(&format!("  custom_ca_bundle = \"{}\"", ca.display())),
        TfVersion::Current,
    );
    trusted.init();
    let (code, plan) = trusted.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");

    let mut from_env = bed.workspace("ca-env", &hcl(""), TfVersion::Current);
    from_env
        .extra_env
        .push(("AWS_CA_BUNDLE".into(), ca.display().to_string()));
    from_env.init();
    let (code, plan) = from_env.plan_exit(&[]);
    assert_eq!(code, 2, "{plan}");

    let untrusted = bed.workspace("ca-none", &hcl("  max_retries = 1"), TfVersion::Current);
    untrusted.init();
    let (code, plan) = untrusted.plan_exit(&[]);
    assert_eq!(code, 1, "the private CA is not trusted by default:\n{plan}");
    assert!(flat(&plan).contains("UnknownIssuer"), "{plan}");

    let bad = bed.dir.path().join("not-a-bundle.pem");
    std::fs::write(&bad, "nothing here").unwrap();
    let refused = bed.workspace(
        "ca-bad",
        &hcl(&format!("  custom_ca_bundle = \"{}\"", bad.display())),
        TfVersion::Current,
    );
    refused.init();
    let out = flat(&refused.fails(&["plan", "-no-color", "-input=false"]));
    assert!(out.contains("holds no PEM certificate"), "{out}");
}
