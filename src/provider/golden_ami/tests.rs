//! The resource's rules without Terraform or AWS: every plan-time check,
//! decoding with defaults, the digest and what forces a new bake.

use super::model::bake_spec;
use super::plan::replaced_paths;
use super::schema::GoldenAmi;
use super::validate;
use crate::bake::spec::{HostKeyCheck, HttpEndpoint, HttpTokens, Interface};
use crate::bake::{BakeSpec, SourceSpec};
use crate::protocol::value::Value;
use crate::provider::schema::decode::decode;
use crate::provision::ProvisionStep;
use serde_json::{Value as Json, json};
use std::time::Duration;

pub(super) fn value(j: Json) -> Value {
    Value::decode_json(j.to_string().as_bytes()).unwrap()
}

/// A valid configuration, as Terraform sends it (only set attributes here).
pub(super) fn good() -> Json {
    json!({
        "name": "web-1",
        "instance_type": "t3.micro",
        "source_ami": "ami-0a11ce0000000a001",
        "ssh": { "username": "ec2-user" },
    })
}

/// `good()` with `patch` merged in (nulls remove).
pub(super) fn with(patch: Json) -> Value {
    let mut base = good();
    merge(&mut base, patch);
    value(base)
}

fn merge(base: &mut Json, patch: Json) {
    match (base, patch) {
        (Json::Object(b), Json::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(&k);
                } else if let (Some(slot), true) = (b.get_mut(&k), v.is_object()) {
                    merge(slot, v);
                } else {
                    b.insert(k, v);
                }
            }
        }
        (b, p) => *b = p,
    }
}

/// The (path, "summary: detail") of each diagnostic.
fn problems(v: &Value) -> Vec<(String, String)> {
    validate(v)
        .0
        .iter()
        .map(|d| {
            (
                d.path.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                format!("{}: {}", d.summary, d.detail),
            )
        })
        .collect()
}

#[test]
fn a_good_configuration_passes() {
    assert_eq!(problems(&with(json!({}))), vec![]);
}

/// Every rule: the configuration, where the diagnostic points, what it says.
#[test]
fn every_rule_refuses_its_bad_input_at_its_attribute() {
    let script = tempfile::NamedTempFile::new().unwrap();
    let script = script.path().to_string_lossy().to_string();
    let long = "a".repeat(129);
    let cases: Vec<(&str, Json, &str, &str)> = vec![
        (
            "region name",
            json!({"ami_regions": ["us-west-2", "US_WEST"]}),
            "ami_regions[1]",
            "\"US_WEST\" is not an AWS region name",
        ),
        (
            "key for a region without a copy",
            json!({"ami_regions": ["us-west-2"], "region_kms_key_ids": {"eu-west-1": "alias/k"}}),
            "region_kms_key_ids[\"eu-west-1\"]",
            "\"eu-west-1\" is not in `ami_regions`",
        ),
        (
            "key region name",
            json!({"ami_regions": ["us-west-2"], "region_kms_key_ids": {"west": "alias/k"}}),
            "region_kms_key_ids[\"west\"]",
            "\"west\" is not an AWS region name",
        ),
        (
            "copy duration step",
            json!({"snapshot_copy_duration_minutes": 20}),
            "snapshot_copy_duration_minutes",
            "20 is not a multiple of 15",
        ),
        (
            "copy duration range",
            json!({"snapshot_copy_duration_minutes": 0}),
            "snapshot_copy_duration_minutes",
            "0 is not a copy duration in minutes (15-2880)",
        ),
        (
            "both names",
            json!({"name_prefix": "x-"}),
            "name_prefix",
            "Set either `name` or `name_prefix`",
        ),
        (
            "no name",
            json!({"name": null}),
            "name",
            "Set `name`, or `name_prefix`",
        ),
        (
            "name characters",
            json!({"name": "bad*name"}),
            "name",
            "contains '*'",
        ),
        (
            "name length",
            json!({"name": long}),
            "name",
            "must be 3 to 128 characters",
        ),
        (
            "prefix length",
            json!({"name": null, "name_prefix": "a".repeat(101)}),
            "name_prefix",
            "must be 1 to 100 characters",
        ),
        (
            "negative keep_previous",
            json!({"name": null, "name_prefix": "x-", "keep_previous": -1}),
            "keep_previous",
            "-1 is not a number of images (0-100)",
        ),
        (
            "keep_previous with a fixed name",
            json!({"keep_previous": 1}),
            "keep_previous",
            "keep_previous needs name_prefix",
        ),
        (
            "both sources",
            json!({"source_ami_filter": {"filters": {"name": "x"}}}),
            "source_ami",
            "Set either `source_ami` or a `source_ami_filter`",
        ),
        (
            "no source",
            json!({"source_ami": null}),
            "source_ami",
            "Set `source_ami`, or a `source_ami_filter` block",
        ),
        (
            "malformed source",
            json!({"source_ami": "image-12"}),
            "source_ami",
            "is not an AMI id",
        ),
        (
            "empty filter",
            json!({"source_ami": null, "source_ami_filter": {"filters": {}}}),
            "source_ami_filter.filters",
            "A filter with no conditions",
        ),
        (
            "instance type",
            json!({"instance_type": "t2micro"}),
            "instance_type",
            "is not an instance type",
        ),
        (
            "reserved tag",
            json!({"tags": {"aws:owner": "me"}}),
            "tags[\"aws:owner\"]",
            "reserved by AWS",
        ),
        (
            "reserved snapshot tag",
            json!({"snapshot_tags": {"AWS:x": "me"}}),
            "snapshot_tags[\"AWS:x\"]",
            "reserved by AWS",
        ),
        (
            "reserved run tag",
            json!({"run_tags": {"aws:y": "me"}}),
            "run_tags[\"aws:y\"]",
            "reserved by AWS",
        ),
        (
            "deprecate_at",
            json!({"deprecate_at": "next year"}),
            "deprecate_at",
            "is not an RFC 3339 time",
        ),
        (
            "ami_users",
            json!({"ami_users": ["111122223333", "bob"]}),
            "ami_users[1]",
            "neither a 12-digit account id",
        ),
        (
            "volume too large for its type",
            json!({"launch_block_device": [{"device_name": "/dev/xvda", "volume_type": "gp2", "volume_size": 20000}]}),
            "launch_block_device[0].volume_size",
            "gp2 volumes are 1–16384 GiB; got 20000.",
        ),
        (
            "volume type",
            json!({"launch_block_device": [{"device_name": "/dev/xvda", "volume_type": "gp4"}]}),
            "launch_block_device[0].volume_type",
            "\"gp4\": use standard, gp2, gp3, io1, io2, st1 or sc1.",
        ),
        (
            "io1 without iops",
            json!({"launch_block_device": [{"device_name": "/dev/sdf", "volume_type": "io1", "volume_size": 10}]}),
            "launch_block_device[0].iops",
            "io1 volumes need `iops`.",
        ),
        (
            "gp3 iops out of range",
            json!({"launch_block_device": [{"device_name": "/dev/sdf", "volume_type": "gp3", "volume_size": 10, "iops": 100}]}),
            "launch_block_device[0].iops",
            "gp3 volumes take 3000–80000 IOPS; got 100.",
        ),
        (
            "iops on gp2",
            json!({"launch_block_device": [{"device_name": "/dev/sdf", "volume_type": "gp2", "volume_size": 10, "iops": 3000}]}),
            "launch_block_device[0].iops",
            "gp2 volumes take no `iops`",
        ),
        (
            "throughput on io2",
            json!({"launch_block_device": [{"device_name": "/dev/sdf", "volume_type": "io2", "volume_size": 10, "iops": 1000, "throughput": 500}]}),
            "launch_block_device[0].throughput",
            "Only gp3 volumes take `throughput`",
        ),
        (
            "gp3 throughput out of range",
            json!({"ami_block_device": [{"device_name": "/dev/sdf", "volume_type": "gp3", "volume_size": 10, "throughput": 4000}]}),
            "ami_block_device[0].throughput",
            "gp3 volumes take 125–2000 MiB/s; got 4000.",
        ),
        (
            "snapshot with encrypted",
            json!({"launch_block_device": [{"device_name": "/dev/sdf", "snapshot_id": "snap-0123", "encrypted": true}]}),
            "launch_block_device[0].encrypted",
            "has the snapshot's encryption",
        ),
        (
            "kms key without encryption",
            json!({"launch_block_device": [{"device_name": "/dev/sdf", "volume_size": 5, "kms_key_id": "alias/golden"}]}),
            "launch_block_device[0].kms_key_id",
            "`kms_key_id` needs `encrypted = true`.",
        ),
        (
            "no_device with a size",
            json!({"ami_block_device": [{"device_name": "/dev/sdf", "no_device": true, "volume_size": 5}]}),
            "ami_block_device[0].volume_size",
            "`no_device = true` suppresses the device",
        ),
        (
            "instance store with EBS settings",
            json!({"ami_block_device": [{"device_name": "/dev/sdb", "virtual_name": "ephemeral0", "volume_size": 5}]}),
            "ami_block_device[0].volume_size",
            "takes no EBS settings",
        ),
        (
            "image device without a size",
            json!({"ami_block_device": [{"device_name": "/dev/sdg", "volume_type": "gp3"}]}),
            "ami_block_device[0].volume_size",
            "needs `volume_size` or `snapshot_id`",
        ),
        (
            "device named twice",
            json!({"launch_block_device": [{"device_name": "/dev/sdf", "volume_size": 5}, {"device_name": "/dev/sdf", "volume_size": 6}]}),
            "launch_block_device[1].device_name",
            "/dev/sdf already has a launch_block_device block.",
        ),
        (
            "kms_key_id without encrypt_boot",
            json!({"kms_key_id": "alias/golden"}),
            "kms_key_id",
            "set `encrypt_boot = true` too.",
        ),
        (
            "tenancy",
            json!({"tenancy": "shared"}),
            "tenancy",
            "\"shared\": use default, dedicated or host.",
        ),
        (
            "vpc twice",
            json!({"vpc_id": "vpc-1", "vpc_filter": {"filters": {"tag:Name": "b"}}, "subnet_id": "subnet-1"}),
            "vpc_id",
            "Set either `vpc_id` or a `vpc_filter` block",
        ),
        (
            "subnet twice",
            json!({"subnet_id": "subnet-1", "subnet_filter": {"filters": {"tag:Name": "b"}}}),
            "subnet_id",
            "Set either `subnet_id` or a `subnet_filter` block",
        ),
        (
            "vpc without a subnet",
            json!({"vpc_id": "vpc-1"}),
            "vpc_id",
            "set `subnet_id` or a `subnet_filter` block",
        ),
        (
            "vpc filter without a subnet",
            json!({"vpc_filter": {"filters": {"tag:Name": "b"}}}),
            "vpc_filter.filters",
            "set `subnet_id` or a `subnet_filter` block",
        ),
        (
            "empty vpc filter",
            json!({"vpc_filter": {"filters": {}}, "subnet_id": "subnet-1"}),
            "vpc_filter.filters",
            "would match every VPC",
        ),
        (
            "most free and random",
            json!({"subnet_filter": {"filters": {"a": "b"}, "most_free": true, "random": true}}),
            "subnet_filter.random",
            "Set either `most_free`",
        ),
        (
            "group ids and filter",
            json!({"security_group_ids": ["sg-1"], "security_group_filter": {"filters": {"group-name": "x"}}}),
            "security_group_ids",
            "Set either `security_group_ids` or a `security_group_filter` block",
        ),
        (
            "own groups and allowed cidrs",
            json!({"security_group_ids": ["sg-1"], "ssh": {"username": "ec2-user", "allowed_cidrs": ["10.0.0.0/8"]}}),
            "ssh.allowed_cidrs",
            "none is made",
        ),
        (
            "group filter and allowed cidrs",
            json!({"security_group_filter": {"filters": {"group-name": "x"}}, "ssh": {"username": "ec2-user", "allowed_cidrs": ["10.0.0.0/8"]}}),
            "ssh.allowed_cidrs",
            "none is made",
        ),
        (
            "user data twice",
            json!({"user_data": "#!/bin/sh", "user_data_file": script}),
            "user_data_file",
            "Set either `user_data` or `user_data_file`",
        ),
        (
            "user data file missing",
            json!({"user_data_file": "/nonexistent/user-data.sh"}),
            "user_data_file",
            "",
        ),
        (
            "key pair type",
            json!({"temporary_key_pair_type": "dsa"}),
            "temporary_key_pair_type",
            "\"dsa\": use ed25519 or rsa.",
        ),
        (
            "imds support",
            json!({"imds_support": "v1.0"}),
            "imds_support",
            "use v2.0",
        ),
        (
            "reserved run volume tag",
            json!({"run_volume_tags": {"aws:z": "me"}}),
            "run_volume_tags[\"aws:z\"]",
            "reserved by AWS",
        ),
        (
            "capacity reservation twice",
            json!({"capacity_reservation_preference": "open", "capacity_reservation_id": "cr-0123456789abcdef0"}),
            "capacity_reservation_id",
            "Set either `capacity_reservation_id`",
        ),
        (
            "unlimited credits on a non-burstable type",
            json!({"instance_type": "m5.large", "enable_unlimited_credits": true}),
            "enable_unlimited_credits",
            "`m5.large` is not one",
        ),
        (
            "http_tokens",
            json!({"metadata_options": {"http_tokens": "sometimes"}}),
            "metadata_options.http_tokens",
            "\"sometimes\": use required or optional.",
        ),
        (
            "http_endpoint",
            json!({"metadata_options": {"http_endpoint": "on"}}),
            "metadata_options.http_endpoint",
            "use enabled or disabled",
        ),
        (
            "hop limit",
            json!({"metadata_options": {"http_put_response_hop_limit": 65}}),
            "metadata_options.http_put_response_hop_limit",
            "65 is not a whole number (1-64)",
        ),
        (
            "create timeout",
            json!({"timeouts": {"create": "soon"}}),
            "timeouts.create",
            "\"soon\" is not a duration",
        ),
        (
            "delete timeout",
            json!({"timeouts": {"delete": "10 minutes"}}),
            "timeouts.delete",
            "is not a duration",
        ),
        (
            "no ssh",
            json!({"ssh": null}),
            "ssh",
            "Add an `ssh { username",
        ),
        (
            "port",
            json!({"ssh": {"port": 70000}}),
            "ssh.port",
            "70000 is not a TCP port",
        ),
        (
            "ssh timeout",
            json!({"ssh": {"timeout": "5 minutes"}}),
            "ssh.timeout",
            "\"5 minutes\" is not a duration",
        ),
        (
            "interface",
            json!({"ssh": {"interface": "ipv6"}}),
            "ssh.interface",
            "use public_ip, private_ip, public_dns or private_dns",
        ),
        (
            "cidr",
            json!({"ssh": {"allowed_cidrs": ["10.0.0.0/33"]}}),
            "ssh.allowed_cidrs[0]",
            "is not an IPv4 CIDR",
        ),
        (
            "key pair without key",
            json!({"ssh": {"key_pair_name": "mine"}}),
            "ssh.key_pair_name",
            "key_pair_name needs private_key",
        ),
        (
            "key without key pair",
            json!({"ssh": {"private_key": "x"}}),
            "ssh.private_key",
            "private_key needs the EC2 key_pair_name",
        ),
        (
            "bad private key",
            json!({"ssh": {"key_pair_name": "mine", "private_key": "x"}}),
            "ssh.private_key",
            "unencrypted OpenSSH or PEM private key",
        ),
        (
            "bad host key",
            json!({"ssh": {"host_key": "ssh-ed25519 AAAA"}}),
            "ssh.host_key",
            "as in known_hosts",
        ),
        (
            "pinned without key",
            json!({"ssh": {"host_key_check": "pinned"}}),
            "ssh.host_key_check",
            "needs ssh.host_key",
        ),
        (
            "host_key_check",
            json!({"ssh": {"host_key_check": "trust"}}),
            "ssh.host_key_check",
            "use generated, console, pinned or none",
        ),
        (
            "bastion port",
            json!({"ssh": {"bastion": {"host": "b", "username": "u", "private_key": "x", "port": 0}}}),
            "ssh.bastion.port",
            "0 is not a TCP port",
        ),
        (
            "bastion key",
            json!({"ssh": {"bastion": {"host": "b", "username": "u", "private_key": "x"}}}),
            "ssh.bastion.private_key",
            "unencrypted OpenSSH or PEM private key",
        ),
        (
            "bastion host key",
            json!({"ssh": {"bastion": {"host": "b", "username": "u", "private_key": "x", "host_key": "nope"}}}),
            "ssh.bastion.host_key",
            "as in known_hosts",
        ),
        (
            "empty provision",
            json!({"provision": [{}]}),
            "provision[0]",
            "Empty provision[0]",
        ),
        (
            "two kinds",
            json!({"provision": [{"shell": {"inline": ["true"]}, "file": {"content": "x", "destination": "/tmp/x"}}]}),
            "provision[0].file.destination",
            "Two step kinds in provision[0]",
        ),
        (
            "nothing to run",
            json!({"provision": [{"shell": {}}]}),
            "provision[0].shell",
            "Set one of `inline`, `script` or `scripts`",
        ),
        (
            "empty inline",
            json!({"provision": [{"shell": {"inline": []}}]}),
            "provision[0].shell.inline",
            "`inline` needs at least one command",
        ),
        (
            "missing script",
            json!({"provision": [{"shell": {"script": "nope.sh"}}]}),
            "provision[0].shell.script",
            "\"nope.sh\" is not a readable file",
        ),
        (
            "missing scripts",
            json!({"provision": [{"shell": {"scripts": [script, "gone.sh"]}}]}),
            "provision[0].shell.scripts[1]",
            "\"gone.sh\" is not a readable file",
        ),
        (
            "exit code",
            json!({"provision": [{"shell": {"inline": ["true"], "valid_exit_codes": [0, 300]}}]}),
            "provision[0].shell.valid_exit_codes[1]",
            "300 is not an exit status",
        ),
        (
            "env name",
            json!({"provision": [{"shell": {"inline": ["true"], "environment": {"1X": "v"}}}]}),
            "provision[0].shell.environment[\"1X\"]",
            "is not a shell variable name",
        ),
        (
            "pause_before",
            json!({"provision": [{"shell": {"inline": ["true"], "pause_before": "a bit"}}]}),
            "provision[0].shell.pause_before",
            "is not a duration",
        ),
        (
            "step timeout",
            json!({"provision": [{"shell": {"inline": ["true"], "timeout": "forever"}}]}),
            "provision[0].shell.timeout",
            "is not a duration",
        ),
        (
            "max_retries",
            json!({"provision": [{"shell": {"inline": ["true"], "max_retries": 101}}]}),
            "provision[0].shell.max_retries",
            "101 is not a whole number (0-100)",
        ),
        (
            "execute_command",
            json!({"provision": [{"shell": {"inline": ["true"], "execute_command": "sudo sh"}}]}),
            "provision[0].shell.execute_command",
            "never runs the script",
        ),
        (
            "remote_path",
            json!({"provision": [{"shell": {"inline": ["true"], "remote_path": "x.sh"}}]}),
            "provision[0].shell.remote_path",
            "must be an absolute path",
        ),
        (
            "remote_folder",
            json!({"provision": [{"shell": {"inline": ["true"], "remote_folder": "tmp"}}]}),
            "provision[0].shell.remote_folder",
            "must be an absolute path",
        ),
        (
            "missing file source",
            json!({"provision": [{"file": {"source": "no-such-file", "destination": "/tmp/x"}}]}),
            "provision[0].file.source",
            "\"no-such-file\" does not exist",
        ),
        (
            "missing file sources",
            json!({"provision": [{"file": {"sources": [script, "no-such"], "destination": "/tmp/"}}]}),
            "provision[0].file.sources[1]",
            "\"no-such\" does not exist",
        ),
        (
            "relative destination",
            json!({"provision": [{"file": {"content": "x", "destination": "relative/path"}}]}),
            "provision[0].file.destination",
            "must be an absolute path",
        ),
        (
            "source and content",
            json!({"provision": [{"file": {"source": script, "content": "x", "destination": "/tmp/x"}}]}),
            "provision[0].file.content",
            "Set either `source` or `content`",
        ),
        (
            "nothing to upload",
            json!({"provision": [{"file": {"destination": "/tmp/x"}}]}),
            "provision[0].file.source",
            "Set `source` (a local file or directory) or `content`",
        ),
        (
            "direction",
            json!({"provision": [{"file": {"content": "x", "destination": "/tmp/x", "direction": "sideways"}}]}),
            "provision[0].file.direction",
            "use upload or download",
        ),
        (
            "download content",
            json!({"provision": [{"file": {"content": "x", "destination": "out", "direction": "download"}}]}),
            "provision[0].file.content",
            "A download takes `source` or `sources`",
        ),
        (
            "download relative source",
            json!({"provision": [{"file": {"source": "etc/x", "destination": "out", "direction": "download"}}]}),
            "provision[0].file.source",
            "must be an absolute path on the instance",
        ),
    ];
    for (what, patch, path, message) in cases {
        let found = problems(&with(patch));
        assert!(
            found.iter().any(|(p, m)| p == path && m.contains(message)),
            "{what}: expected {message:?} at {path}, got {found:?}"
        );
    }
}

#[test]
fn unknown_values_are_checked_later() {
    let mut v = with(json!({"ssh": {"port": 22}}));
    v.set("instance_type", Value::Unknown);
    let Value::Map(ssh) = v.get("ssh").clone() else {
        panic!("no ssh")
    };
    let mut ssh = Value::Map(ssh);
    ssh.set("port", Value::Unknown);
    v.set("ssh", ssh);
    assert_eq!(problems(&v), vec![]);
}

#[test]
fn spot_settings_need_spot_price_and_instance_type_is_then_the_fallback() {
    for (attr, val) in [
        ("spot_instance_types", json!(["t3.small"])),
        ("spot_allocation_strategy", json!("lowest-price")),
        ("spot_tags", json!({"team": "images"})),
        ("spot_fallback_on_demand", json!(true)),
    ] {
        let got = problems(&with(json!({ attr: val })));
        assert_eq!(got.len(), 1, "{attr}: {got:?}");
        assert_eq!(got[0].0, attr);
        assert!(got[0].1.contains("set `spot_price`"), "{got:?}");
    }
    // Off, empty or alone: nothing to say.
    for patch in [
        json!({"spot_fallback_on_demand": false, "spot_tags": {}}),
        json!({"spot_price": "auto"}),
        json!({"spot_price": "0.05", "spot_instance_types": ["t3.small"], "spot_fallback_on_demand": true}),
    ] {
        assert_eq!(problems(&with(patch.clone())), vec![], "{patch}");
    }
    let got = problems(&with(
        json!({"spot_price": "auto", "spot_instance_types": ["t3.small"]}),
    ));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "instance_type");
    assert!(got[0].1.starts_with("instance_type is not used"), "{got:?}");
    let bad = problems(&with(json!({"spot_price": "0"})));
    assert!(
        bad.iter()
            .any(|(p, m)| p == "spot_price" && m.contains("neither \"auto\"")),
        "{bad:?}"
    );
    let bad = problems(&with(
        json!({"spot_price": "auto", "spot_allocation_strategy": "cheapest"}),
    ));
    assert!(
        bad.iter().any(|(p, _)| p == "spot_allocation_strategy"),
        "{bad:?}"
    );
}

#[test]
fn spot_price_auto_has_no_maximum_and_spot_tags_get_the_default_tags() {
    use crate::bake::spec::SpotAllocationStrategy;
    assert!(spec(&with(json!({}))).spot.is_none());
    let auto = spec(&with(json!({"spot_price": "auto"})));
    let Some(s) = auto.spot else {
        panic!("no spot")
    };
    assert_eq!(s.max_price, None);
    assert!(s.instance_types.is_empty() && !s.fallback_on_demand && s.strategy.is_none());
    let v = with(json!({
        "spot_price": "0.05",
        "spot_instance_types": ["t3.small", "t3a.small"],
        "spot_allocation_strategy": "price-capacity-optimized",
        "spot_tags": {"team": "images"},
        "spot_fallback_on_demand": true,
    }));
    let decoded: GoldenAmi = decode(&v).unwrap();
    let policy = crate::provider::tag_policy::TagPolicy {
        defaults: std::collections::BTreeMap::from([("owner".into(), "ops".into())]),
        ..Default::default()
    };
    let s = bake_spec(&decoded, "n".into(), "b".into(), "http://ip", &policy)
        .unwrap()
        .spot
        .unwrap();
    assert_eq!(s.max_price.as_deref(), Some("0.05"));
    assert_eq!(s.instance_types, ["t3.small", "t3a.small"]);
    assert_eq!(
        s.strategy,
        Some(SpotAllocationStrategy::PriceCapacityOptimized)
    );
    assert!(s.fallback_on_demand);
    assert_eq!(s.tags.get("team").map(String::as_str), Some("images"));
    assert_eq!(s.tags.get("owner").map(String::as_str), Some("ops"));
}

fn spec(v: &Value) -> BakeSpec {
    let decoded: GoldenAmi = decode(v).unwrap();
    bake_spec(
        &decoded,
        "n".into(),
        "b".into(),
        "http://ip",
        &Default::default(),
    )
    .unwrap()
}

#[test]
fn defaults_come_from_the_definitions() {
    let s = spec(&with(
        json!({"provision": [{"shell": {"inline": ["true"]}}, {"file": {"content": "x", "destination": "/x"}}]}),
    ));
    assert_eq!(s.ssh.port, 22);
    assert_eq!(s.ssh.timeout, Duration::from_secs(300));
    assert_eq!(s.ssh.host_key_check, HostKeyCheck::Generated);
    assert_eq!(s.ssh.interface, None);
    assert_eq!(s.create_timeout, Duration::from_secs(3600));
    assert_eq!(s.metadata.http_tokens, HttpTokens::Required);
    assert_eq!(s.metadata.http_endpoint, HttpEndpoint::Enabled);
    assert!(matches!(s.source, SourceSpec::Id(ref id) if id == "ami-0a11ce0000000a001"));
    let ProvisionStep::Shell(sh) = &s.provision[0] else {
        panic!("not a shell step")
    };
    assert_eq!(sh.valid_exit_codes, vec![0]);
    assert_eq!(sh.inline_shebang, "/bin/sh -e");
    assert_eq!(sh.remote_folder, "/tmp");
    assert_eq!(
        sh.execute_command,
        "chmod +x {{ .Path }}; {{ .Vars }} {{ .Path }}"
    );
    assert_eq!(sh.max_retries, 0);
    assert_eq!(sh.timeout, None);
    let ProvisionStep::File(f) = &s.provision[1] else {
        panic!("not a file step")
    };
    assert!(!f.download);
}

#[test]
fn set_values_decode_into_real_types() {
    let s = spec(&with(json!({
        "ssh": {"port": 2222, "timeout": "90s", "interface": "private_dns", "host_key": "ssh-ed25519 AAAA"},
        "metadata_options": {"http_tokens": "optional", "http_put_response_hop_limit": 3},
        "timeouts": {"create": "2h"},
        "provision": [{"shell": {"script": "a.sh", "scripts": ["b.sh"], "max_retries": 2, "timeout": "1m"}},
                      {"file": {"sources": ["/etc/os-release"], "destination": "out/", "direction": "download"}}],
    })));
    assert_eq!(s.ssh.port, 2222);
    assert_eq!(s.ssh.timeout, Duration::from_secs(90));
    assert_eq!(s.ssh.interface, Some(Interface::PrivateDns));
    assert_eq!(
        s.ssh.host_key_check,
        HostKeyCheck::Pinned,
        "a host key is pinned by default"
    );
    assert_eq!(s.metadata.http_tokens, HttpTokens::Optional);
    assert_eq!(s.metadata.http_put_response_hop_limit, Some(3));
    assert_eq!(s.create_timeout, Duration::from_secs(7200));
    let ProvisionStep::Shell(sh) = &s.provision[0] else {
        panic!("not a shell step")
    };
    let scripts: Vec<String> = sh.scripts.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(scripts, vec!["a.sh", "b.sh"]);
    assert_eq!(
        (sh.max_retries, sh.timeout),
        (2, Some(Duration::from_secs(60)))
    );
    let ProvisionStep::File(f) = &s.provision[1] else {
        panic!("not a file step")
    };
    assert!(f.download);
    assert_eq!(f.sources, vec!["/etc/os-release"]);
}

#[test]
fn an_unknown_configured_value_does_not_decode() {
    let mut v = with(json!({}));
    v.set("subnet_id", Value::Unknown);
    assert!(decode::<GoldenAmi>(&v).is_err());
    // What only apply can tell may be unknown.
    let mut v = with(json!({}));
    for computed in ["id", "snapshot_ids", "name", "input_digest"] {
        v.set(computed, Value::Unknown);
    }
    let planned: GoldenAmi = decode(&v).unwrap();
    assert!(planned.snapshot_ids.is_empty());
}

/// The inputs that shape the image, and only they, move the digest.
#[test]
fn digest_covers_exactly_the_inputs_that_shape_the_image() {
    let base = with(json!({"source_ami_id": "ami-1"}));
    let digest = |v: &Value| super::digest::input_digest(v);
    let d0 = digest(&base);
    assert!(d0.as_str().is_some_and(|d| d.len() == 64));
    let shaping = [
        json!({"instance_type": "t3.large"}),
        json!({"source_ami": "ami-2"}),
        json!({"source_ami_id": "ami-2"}),
        json!({"subnet_id": "subnet-1"}),
        json!({"associate_public_ip_address": true}),
        json!({"iam_instance_profile": "p"}),
        json!({"user_data": "#!/bin/sh"}),
        json!({"triggers": {"v": "2"}}),
        json!({"provision": [{"shell": {"inline": ["true"]}}]}),
        json!({"ami_regions": ["us-west-2"]}),
        json!({"region_kms_key_ids": {"us-west-2": "alias/k"}}),
        json!({"snapshot_copy_duration_minutes": 30}),
    ];
    for p in shaping {
        let mut j = good();
        merge(&mut j, json!({"source_ami_id": "ami-1"}));
        merge(&mut j, p.clone());
        assert_ne!(digest(&value(j)), d0, "{p} must change the digest");
    }
    let not_shaping = [
        json!({"name": "other"}),
        json!({"name_prefix": "p-"}),
        json!({"description": "d"}),
        json!({"tags": {"a": "b"}}),
        json!({"snapshot_tags": {"a": "b"}}),
        json!({"run_tags": {"a": "b"}}),
        json!({"ami_users": ["111122223333"]}),
        json!({"deprecate_at": "2030-01-01T00:00:00Z"}),
        json!({"rebake_on_new_source": false}),
        json!({"ssh": {"port": 2222}}),
        json!({"timeouts": {"create": "2h"}}),
        json!({"metadata_options": {"http_tokens": "optional"}}),
        json!({"source_ami_filter": {"filters": {"name": "x"}}}),
        json!({"id": "ami-9", "snapshot_ids": ["snap-1"], "build_id": "x"}),
        json!({"region_ami_ids": {"us-west-2": "ami-8"}}),
    ];
    for p in not_shaping {
        let mut j = good();
        merge(&mut j, json!({"source_ami_id": "ami-1"}));
        merge(&mut j, p.clone());
        assert_eq!(digest(&value(j)), d0, "{p} must not change the digest");
    }
    let mut partial = base.clone();
    partial.set("source_ami_id", Value::Unknown);
    assert_eq!(digest(&partial), Value::Unknown);
}

#[test]
fn only_replacing_attributes_force_a_new_bake() {
    let prior = with(json!({"source_ami_id": "ami-1"}));
    let paths = |patch: Json| -> Vec<String> {
        let mut j = good();
        merge(&mut j, json!({"source_ami_id": "ami-1"}));
        merge(&mut j, patch);
        let proposed = value(j);
        replaced_paths(&prior, &proposed, &proposed)
            .iter()
            .map(|p| p.to_string())
            .collect()
    };
    assert_eq!(paths(json!({})), Vec::<String>::new());
    assert_eq!(
        paths(json!({"instance_type": "t3.large"})),
        vec!["instance_type"]
    );
    assert_eq!(
        paths(json!({"provision": [{"shell": {"inline": ["x"]}}]})),
        vec!["provision"]
    );
    assert_eq!(paths(json!({"name": "renamed"})), vec!["name"]);
    for in_place in [
        json!({"tags": {"a": "b"}}),
        json!({"description": "d"}),
        json!({"ami_users": ["all"]}),
        json!({"ssh": {"port": 2}}),
        json!({"timeouts": {"delete": "1m"}}),
        json!({"rebake_on_new_source": false}),
    ] {
        assert_eq!(paths(in_place.clone()), Vec::<String>::new(), "{in_place}");
    }
}

#[test]
fn an_absent_attribute_takes_no_part_in_the_digest() {
    // A state written before an optional attribute existed has no key for it;
    // one written after has it as null. Both must digest alike.
    let mut j = good();
    merge(
        &mut j,
        json!({"source_ami_id": "ami-1", "provision": [{"shell": {"inline": ["true"]}}]}),
    );
    let before = value(j.clone());
    j["subnet_id"] = Json::Null;
    j["provision"][0]["shell"]["remote_path"] = Json::Null;
    j["provision"][0]["file"] = Json::Null;
    let after = value(j);
    assert_eq!(
        super::digest::input_digest(&before),
        super::digest::input_digest(&after)
    );
}

/// `LaunchOptions` belongs to ec2/ and is declared here by `define_group!`:
/// a field the group forgot would silently always be absent.
#[test]
fn every_launch_option_is_declared_and_decoded() {
    use crate::ec2::model::LaunchOptions;
    use crate::provider::schema::BlockDef;
    let block = GoldenAmi::block();
    let Json::Object(fields) = serde_json::to_value(LaunchOptions::default()).unwrap() else {
        panic!("LaunchOptions is not a struct")
    };
    for name in fields.keys() {
        assert!(
            block.attrs.iter().any(|a| a.name == name),
            "LaunchOptions.{name} has no definition in the golden_ami schema"
        );
    }
    let s = spec(&with(json!({"iam_instance_profile": "builder"})));
    assert_eq!(s.launch.iam_instance_profile.as_deref(), Some("builder"));
}

#[test]
fn an_import_adopts_the_configuration_unless_the_image_says_otherwise() {
    use super::plan::imported_replacements;
    let planned = with(json!({"source_ami_id": "ami-0a11ce0000000a001", "input_digest": "d1"}));
    let config = with(json!({}));
    let imported = |j: Json, config: &Value| {
        imported_replacements(&value(j), &planned, config)
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    let none: Vec<String> = vec![];
    let image = |extra: Json| {
        let mut j = json!({"id": "ami-9", "name": "web-1"});
        merge(&mut j, extra);
        j
    };
    assert_eq!(
        imported(
            image(json!({"input_digest": "d1", "source_ami_id": "ami-1"})),
            &config
        ),
        none
    );
    assert_eq!(
        imported(
            image(json!({"input_digest": "d0", "source_ami_id": "ami-1"})),
            &config
        ),
        vec!["input_digest"]
    );
    // An AMI cannot be renamed: a configured name must be the image's.
    assert_eq!(
        imported(
            json!({"id": "ami-9", "name": "other", "input_digest": "d1"}),
            &config
        ),
        vec!["name"]
    );
    // Images from before the digest tag: the source AMI decides.
    let src = |id: &str| with(json!({"source_ami": id}));
    assert_eq!(
        imported(
            image(json!({"source_ami_id": "ami-0a11ce0000000a001"})),
            &config
        ),
        none
    );
    assert_eq!(
        imported(
            image(json!({"source_ami_id": "ami-0b0b"})),
            &src("ami-0a11ce0000000a001")
        ),
        vec!["source_ami"]
    );
    // An image that records nothing of its inputs is adopted as configured.
    assert_eq!(imported(image(json!({})), &config), none);
}

/// Refresh found the image deregistered by hand: the plan replaces it, so
/// the replacement's delete removes the snapshots EC2 kept.
#[tokio::test]
async fn an_image_gone_out_of_band_is_replaced() {
    use super::private::Private;
    let state = with(
        json!({"id": "ami-9", "snapshot_ids": ["snap-1"], "source_ami_id": "ami-0a11ce0000000a001"}),
    );
    let mut state = state;
    let d = super::digest::input_digest(&state);
    state.set("input_digest", d);
    let gone = Private {
        image_gone: true,
        ..Private::default()
    }
    .bytes();
    let out = super::plan(
        None,
        state.clone(),
        state.clone(),
        state.clone(),
        gone,
        false,
    )
    .await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    let paths: Vec<String> = out.requires_replace.iter().map(|p| p.to_string()).collect();
    assert_eq!(paths, vec!["id"]);
    assert_eq!(out.planned.get("id"), &Value::Unknown);
    let out = super::plan(None, state.clone(), state.clone(), state, vec![], false).await;
    assert!(
        out.requires_replace.is_empty(),
        "an image that is there is kept"
    );
}

/// The provider and a resource's lifecycle over the fake EC2.
pub(super) fn over_fake(
    fake: &std::sync::Arc<crate::ec2::fake::FakeEc2>,
) -> (
    crate::provider::Configured,
    tokio_util::sync::CancellationToken,
    tokio_util::task::TaskTracker,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let ec2 = crate::ec2::Ec2::with_api(fake.clone(), "us-east-1".into());
    let c = crate::provider::Configured {
        ec2,
        sts: std::sync::Arc::new(crate::sts::fake::FakeSts::new("123456789012")),
        ssm: crate::ssm::Ssm::fake(&crate::ssm::fake::FakeSsm::new("us-east-1")),
        channel_path_prefix: "/golden/channel/".into(),
        accounts: Default::default(),
        account_checked: Default::default(),
        tags: Default::default(),
        public_ip_url: String::new(),
    };
    (
        c,
        Default::default(),
        Default::default(),
        Default::default(),
    )
}

/// A destroy whose snapshot another image shares fails at once, and its
/// diagnostic names that image.
#[tokio::test]
async fn destroy_names_the_image_that_shares_its_snapshot() {
    let fake = crate::ec2::fake::FakeEc2::new();
    let id = fake.add_own_image("web", &Default::default());
    let snaps = fake.snapshots();
    let Some(snap) = snaps.last() else {
        panic!("no snapshot")
    };
    let other = fake.add_own_image_using("web-copy", snap);
    let (c, stop, tasks, abandoned) = over_fake(&fake);
    let life = crate::provider::Lifecycle {
        stop: &stop,
        tasks: &tasks,
        abandoned: &abandoned,
    };
    let prior = with(json!({"id": id, "snapshot_ids": [snap]}));
    let out = tokio::time::timeout(
        Duration::from_secs(5),
        super::apply::apply(&c, life, prior.clone(), Value::Null, Value::Null, vec![]),
    )
    .await;
    let Ok(out) = out else {
        panic!("destroy still waiting on a snapshot another image holds")
    };
    assert_eq!(out.state, prior);
    let d = format!("{:?}", out.diags);
    assert!(out.diags.has_errors() && d.contains(&other), "{d}");
}

/// `terraform destroy` honours Ctrl-C: once Terraform stops the provider, a
/// delete still waiting for a snapshot returns at once, keeping the state.
#[tokio::test]
async fn destroy_returns_when_the_provider_is_stopped() {
    let fake = crate::ec2::fake::FakeEc2::new();
    let id = fake.add_own_image("web", &Default::default());
    // Our own deregistration never settles: only the stop can end the wait.
    for n in 1..=1000 {
        fake.fail("DeleteSnapshot", n, "InvalidSnapshot.InUse");
    }
    let (c, stop, tasks, abandoned) = over_fake(&fake);
    let life = crate::provider::Lifecycle {
        stop: &stop,
        tasks: &tasks,
        abandoned: &abandoned,
    };
    let prior = with(json!({"id": id, "snapshot_ids": []}));
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stopper.cancel();
    });
    let out = tokio::time::timeout(
        Duration::from_secs(5),
        super::apply::apply(&c, life, prior.clone(), Value::Null, Value::Null, vec![]),
    )
    .await;
    let Ok(out) = out else {
        panic!("destroy still waiting 5 s after the stop")
    };
    assert_eq!(out.state, prior, "a stopped destroy keeps the state");
    let d = format!("{:?}", out.diags);
    assert!(out.diags.has_errors() && d.contains("stop"), "{d}");
}

/// An image that is found again clears a not-found seen before: one
/// transient miss must not replace it forever.
#[tokio::test]
async fn an_image_found_again_is_no_longer_marked_gone() {
    use super::private::Private;
    let fake = crate::ec2::fake::FakeEc2::new();
    let id = fake.add_own_image("web", &Default::default());
    let (c, ..) = over_fake(&fake);
    let state = with(json!({"id": id, "snapshot_ids": fake.snapshots()}));
    let gone = Private {
        image_gone: true,
        ..Private::default()
    };
    let out = super::read(&c, state, gone.bytes()).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert!(!Private::read(&out.private).image_gone);
}

/// Terraform 1.11+ stores write-only values as null: a bastion's private key
/// is not in the state, and updating or destroying must not need it.
#[test]
fn a_state_without_its_write_only_values_still_decodes() {
    let state = with(json!({
        "id": "ami-9",
        "ssh": {"username": "u", "bastion": {"host": "b", "username": "u", "private_key": null}},
        "provision": [{"shell": {"inline": ["true"], "environment": null}}],
    }));
    let decoded: GoldenAmi = decode(&state).unwrap();
    assert!(decoded.ssh.unwrap().bastion.unwrap().private_key.is_none());
    let decoded: GoldenAmi = decode(&state).unwrap();
    let err = bake_spec(&decoded, "n".into(), "b".into(), "", &Default::default()).unwrap_err();
    assert!(err.to_string().contains("ssh.bastion.private_key"), "{err}");
}

#[test]
fn null_elements_are_refused_at_their_index_or_key() {
    let found = problems(&with(json!({
        "triggers": {"a": null},
        "provision": [{"shell": {"inline": ["true", null]}}],
    })));
    for path in ["triggers[\"a\"]", "provision[0].shell.inline[1]"] {
        assert!(
            found
                .iter()
                .any(|(p, m)| p == path && m.starts_with("Null in")),
            "{path}: {found:?}"
        );
    }
}

/// Write-only values (Terraform 1.0 stores them, 1.11+ does not) take no
/// part in the digest, so it is the same whichever Terraform wrote the state.
#[test]
fn the_digest_does_not_depend_on_write_only_values() {
    let with_env = with(
        json!({"source_ami_id": "ami-1", "provision": [{"shell": {"inline": ["env"], "environment": {"TOKEN": "secret"}}}]}),
    );
    let without = with(
        json!({"source_ami_id": "ami-1", "provision": [{"shell": {"inline": ["env"], "environment": null}}]}),
    );
    assert_eq!(
        super::digest::input_digest(&with_env),
        super::digest::input_digest(&without)
    );
}

/// A state written by the provider before schema version 2 holds a digest
/// made the old way (absent values and write-only ones included). After the
/// upgrade, the plan of the same configuration rebakes nothing, whichever
/// Terraform wrote it.
#[tokio::test]
async fn upgrading_a_version_1_state_plans_no_rebake() {
    use sha2::{Digest, Sha256};
    // The version-1 formula, as it was: these attributes and blocks, nulls kept.
    let old_digest = |v: &Value| {
        let names = [
            "instance_type",
            "source_ami",
            "subnet_id",
            "associate_public_ip_address",
            "iam_instance_profile",
            "user_data",
            "triggers",
            "provision",
            "source_ami_id",
        ];
        let parts: std::collections::BTreeMap<String, Value> = names
            .iter()
            .map(|n| (n.to_string(), v.get(n).clone()))
            .collect();
        hex::encode(Sha256::digest(Value::Map(parts).encode_msgpack()))
    };
    for environment in [json!(null), json!({"TOKEN": "secret"})] {
        let mut config = good();
        merge(
            &mut config,
            json!({"provision": [{"shell": {"inline": ["env"], "environment": environment.clone()}}]}),
        );
        let config = super::schema().block.conform(&value(config));
        let mut stored = config.clone();
        stored.set("id", Value::string("ami-9"));
        stored.set("source_ami_id", Value::string("ami-0a11ce0000000a001"));
        stored.set("snapshot_ids", Value::string_list(["snap-1"]));
        stored.set("input_digest", Value::string(old_digest(&stored)));
        let raw = serde_json::to_vec(&json_of(&stored)).unwrap();
        let (upgraded, d) = super::upgrade_state(1, &raw);
        assert!(!d.has_errors());
        // Terraform 1.11+ (the last flag) plans with write-only values nulled.
        for write_only_allowed in [false, true] {
            // As the provider does after an upgrade for Terraform 1.11+.
            let mut prior = upgraded.clone();
            if write_only_allowed {
                super::schema().block.null_write_only(&mut prior);
            }
            let out = super::plan(
                None,
                prior.clone(),
                prior,
                config.clone(),
                vec![],
                write_only_allowed,
            )
            .await;
            assert!(
                out.requires_replace.is_empty(),
                "environment {environment}, write-only {write_only_allowed}: {:?}",
                out.requires_replace
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// A value as the JSON Terraform stores in a state file.
fn json_of(v: &Value) -> Json {
    match v {
        Value::Null | Value::Unknown => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Number(n) => json!(n),
        Value::String(s) => json!(s),
        Value::List(l) => Json::Array(l.iter().map(json_of).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, i)| (k.clone(), json_of(i))).collect()),
    }
}

/// Refresh reads `deprecate_at` and `snapshot_tags` back from EC2: a change
/// made by hand shows in the state (so in the plan), while EC2's own rendering
/// of the configured time is no change.
#[tokio::test]
async fn refresh_shows_deprecation_and_snapshot_tags_changed_out_of_band() {
    use crate::ec2::api::{Ec2Api, Tags};
    let fake = crate::ec2::fake::FakeEc2::new();
    let id = fake.add_own_image("web", &Default::default());
    let Some(snap) = fake.snapshots().last().cloned() else {
        panic!("no snapshot")
    };
    let tags = |pairs: &[(&str, &str)]| -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let snaps = vec![snap.clone()];
    let api: &dyn Ec2Api = fake.as_ref();
    api.create_tags(&snaps, &tags(&[("team", "web"), ("golden:build-id", "b1")]))
        .await
        .unwrap();
    api.enable_image_deprecation(&id, "2030-01-01T00:00:00Z")
        .await
        .unwrap();
    let (c, ..) = over_fake(&fake);
    let state = with(json!({
        "id": id,
        "snapshot_ids": [snap],
        "deprecate_at": "2030-01-01T00:00:00Z",
        "snapshot_tags": {"team": "web"},
    }));
    let read = |s: Value| super::read(&c, s, vec![]);

    let out = read(state.clone()).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(
        out.state.get("deprecate_at").as_str(),
        Some("2030-01-01T00:00:00Z"),
        "EC2 shows 2030-01-01T00:00:00.000Z: the same time, the configured text stays"
    );
    assert_eq!(
        out.state.get("snapshot_tags").as_string_map(),
        tags(&[("team", "web")])
    );

    // Changed by hand.
    api.enable_image_deprecation(&id, "2031-06-01T12:00:00Z")
        .await
        .unwrap();
    api.create_tags(&snaps, &tags(&[("team", "ops"), ("extra", "x")]))
        .await
        .unwrap();
    let out = read(state.clone()).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    let shown = out.state.get("deprecate_at").as_str().map(str::to_string);
    assert_eq!(shown.as_deref(), Some("2031-06-01T12:00:00.000Z"));
    assert_eq!(
        out.state.get("snapshot_tags").as_string_map(),
        tags(&[("team", "ops"), ("extra", "x")]),
        "the bookkeeping tag stays out of sight"
    );

    // Cancelled and untagged by hand.
    api.disable_image_deprecation(&id).await.unwrap();
    api.delete_tags(&snaps, &["team".into(), "extra".into()])
        .await
        .unwrap();
    let out = read(state).await;
    assert!(out.state.get("deprecate_at").is_null());
    assert_eq!(
        out.state.get("snapshot_tags").as_string_map(),
        Tags::new(),
        "configured tags gone from the snapshot"
    );
    assert!(!out.state.get("snapshot_tags").is_null());
}

/// A refresh of an image configured without `snapshot_tags` asks EC2 no more
/// than before (no DescribeSnapshots), and "none" stays null.
#[tokio::test]
async fn a_plain_refresh_reads_no_snapshots_and_keeps_nulls() {
    let fake = crate::ec2::fake::FakeEc2::new();
    let id = fake.add_own_image("web", &Default::default());
    let (c, ..) = over_fake(&fake);
    // The source AMI is read in the image's DescribeImages.
    let state = with(json!({"id": id, "snapshot_ids": fake.snapshots(),
        "source_ami": crate::ec2::fake::SOURCE_AMI}));
    let out = super::read(&c, state, vec![]).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(fake.calls("DescribeSnapshots"), 0);
    assert_eq!(
        fake.log().len(),
        2,
        "DescribeImages and DescribeImageAttribute: {:?}",
        fake.log()
    );
    assert!(out.state.get("deprecate_at").is_null());
    assert!(out.state.get("snapshot_tags").is_null());

    let state = with(json!({"id": id, "snapshot_tags": {}}));
    let out = super::read(&c, state, vec![]).await;
    assert_eq!(fake.calls("DescribeSnapshots"), 1);
    let kept = out.state.get("snapshot_tags");
    assert!(!kept.is_null() && kept.as_string_map().is_empty());
}

/// A protected image: destroy and replacement are refused at plan time (where
/// Terraform plans them) and again at apply, with no call to EC2, pointing at
/// `deregistration_protection.enabled`; lifting it is an in-place update.
#[tokio::test]
async fn a_protected_image_refuses_destroy_and_replacement() {
    let fake = crate::ec2::fake::FakeEc2::new();
    let id = fake.add_own_image("web", &Default::default());
    let mut state = with(json!({
        "id": id, "snapshot_ids": [], "source_ami_id": "ami-0a11ce0000000a001",
        "deregistration_protection": {"enabled": true, "with_cooldown": null},
    }));
    let d = super::digest::input_digest(&state);
    state.set("input_digest", d);
    let at = |diags: &crate::protocol::diag::Diagnostics| {
        assert!(diags.has_errors(), "{diags:?}");
        let text = format!("{diags:?}");
        assert!(
            text.contains("deregistration_protection") && text.contains("enabled = false"),
            "{text}"
        );
    };
    let out = super::plan(None, state.clone(), Value::Null, Value::Null, vec![], false).await;
    at(&out.diags);
    let mut changed = state.clone();
    changed.set("instance_type", Value::string("t3.large"));
    let out = super::plan(None, state.clone(), changed.clone(), changed, vec![], false).await;
    assert!(!out.requires_replace.is_empty());
    at(&out.diags);

    let (c, stop, tasks, abandoned) = over_fake(&fake);
    let life = crate::provider::Lifecycle {
        stop: &stop,
        tasks: &tasks,
        abandoned: &abandoned,
    };
    let calls = fake.log().len();
    let out = super::apply::apply(&c, life, state.clone(), Value::Null, Value::Null, vec![]).await;
    at(&out.diags);
    assert_eq!(out.state, state, "the image stays in state");
    assert_eq!(fake.log().len(), calls, "no EC2 call");

    let mut lifted = state.clone();
    lifted.set(
        "deregistration_protection",
        value(json!({"enabled": false, "with_cooldown": null})),
    );
    let out = super::plan(
        None,
        state.clone(),
        lifted.clone(),
        lifted.clone(),
        vec![],
        false,
    )
    .await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert!(
        out.requires_replace.is_empty(),
        "lifting protection is in place"
    );
}

/// The copies of a state's `region_ami_ids` are changed in place, read and
/// destroyed in their own regions; a copy gone by hand drops out of
/// `ami_regions` (drift: a replacement).
#[tokio::test]
async fn copies_are_changed_read_and_destroyed_in_their_regions() {
    use crate::ec2::fake::FakeEc2;
    let (home, west) = (FakeEc2::new(), FakeEc2::new());
    let id = home.add_own_image("web", &Default::default());
    let copy = west.add_own_image("web", &Default::default());
    let (mut c, stop, tasks, abandoned) = over_fake(&home);
    let w = west.clone();
    c.ec2.regions = crate::ec2::regions::Regions::new(std::sync::Arc::new(move |_: &str| {
        let api: std::sync::Arc<dyn crate::ec2::api::Ec2Api> = w.clone();
        api
    }));
    let life = || crate::provider::Lifecycle {
        stop: &stop,
        tasks: &tasks,
        abandoned: &abandoned,
    };
    let prior = with(json!({
        "id": id,
        "snapshot_ids": [],
        "ami_regions": ["us-west-2"],
        "region_ami_ids": {"us-east-1": id, "us-west-2": copy},
    }));
    let planned = with(json!({
        "id": id,
        "snapshot_ids": [],
        "ami_regions": ["us-west-2"],
        "region_ami_ids": {"us-east-1": id, "us-west-2": copy},
        "ami_users": ["111122223333"],
    }));
    let out =
        super::apply::apply(&c, life(), prior, planned.clone(), planned.clone(), vec![]).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(
        home.launch_permissions_of(&id),
        vec!["111122223333".to_string()]
    );
    assert_eq!(
        west.launch_permissions_of(&copy),
        vec!["111122223333".to_string()]
    );

    let read = super::read::read(&c, out.state, vec![]).await;
    assert!(!read.diags.has_errors(), "{:?}", read.diags);
    assert_eq!(
        read.state.get("ami_regions").as_string_list(),
        vec!["us-west-2"]
    );
    assert!(c.ec2_in("us-west-2").deregister_image(&copy).await.is_ok());
    let read = super::read::read(&c, read.state, vec![]).await;
    assert!(
        read.state.get("ami_regions").as_string_list().is_empty(),
        "drift"
    );
    assert_eq!(read.state.get("region_ami_ids").as_string_map().len(), 2);

    let gone = super::apply::apply(&c, life(), read.state, Value::Null, Value::Null, vec![]).await;
    assert!(!gone.diags.has_errors(), "{:?}", gone.diags);
    assert!(gone.state.is_null());
    assert!(home.own_images().is_empty() && west.own_images().is_empty());
}

/// An imported image brings its copies: the regions its `golden:copy-regions`
/// tag names, each found there by the build id.
#[tokio::test]
async fn import_finds_the_copies_by_build_id() {
    use crate::ec2::fake::FakeEc2;
    let (home, west) = (FakeEc2::new(), FakeEc2::new());
    let tags = std::collections::BTreeMap::from([
        ("golden:build-id".to_string(), "0000000000b1".to_string()),
        (
            "golden:copy-regions".to_string(),
            "us-east-1,us-west-2".to_string(),
        ),
    ]);
    let id = home.add_own_image("web", &tags);
    let copy = west.add_own_image("web", &tags);
    let (mut c, _, _, _) = over_fake(&home);
    let w = west.clone();
    c.ec2.regions = crate::ec2::regions::Regions::new(std::sync::Arc::new(move |_: &str| {
        let api: std::sync::Arc<dyn crate::ec2::api::Ec2Api> = w.clone();
        api
    }));
    let out = super::read::import(&c, &id).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(
        out.state.get("ami_regions").as_string_list(),
        vec!["us-west-2"]
    );
    let ids = out.state.get("region_ami_ids").as_string_map();
    assert_eq!(ids.get("us-east-1"), Some(&id));
    assert_eq!(ids.get("us-west-2"), Some(&copy));
}
