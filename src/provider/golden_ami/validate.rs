//! Plan-time rules that span several attributes. Each attribute's own checks
//! are declared with it (schema.rs) and run first. Values not yet known are
//! skipped; they are checked again when known. Nothing here calls AWS.

use super::schema::schema;
use crate::ec2::volumes::VolumeType;
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;

fn err(d: &mut Diagnostics, path: AttrPath, summary: &str, detail: impl Into<String>) {
    d.push(Diagnostic::error(summary, detail).at(path));
}

fn present(v: &Value) -> bool {
    !v.is_null()
}

pub fn validate(cfg: &Value) -> Diagnostics {
    let mut d = Diagnostics::default();
    schema().block.check(cfg, None, &mut d);
    match (present(cfg.get("name")), present(cfg.get("name_prefix"))) {
        (true, true) => err(
            &mut d,
            AttrPath::root("name_prefix"),
            "Conflicting AMI names",
            "Set either `name` or `name_prefix`, not both.",
        ),
        (false, false) => err(
            &mut d,
            AttrPath::root("name"),
            "Missing AMI name",
            "Set `name`, or `name_prefix` for a generated unique name.",
        ),
        _ => {}
    }
    match (
        present(cfg.get("source_ami")),
        present(cfg.get("source_ami_filter")),
    ) {
        (true, true) => err(
            &mut d,
            AttrPath::root("source_ami"),
            "Conflicting sources",
            "Set either `source_ami` or a `source_ami_filter` block, not both.",
        ),
        (false, false) => err(
            &mut d,
            AttrPath::root("source_ami"),
            "Missing source AMI",
            "Set `source_ami`, or a `source_ami_filter` block.",
        ),
        _ => {}
    }
    let filter = cfg.get("source_ami_filter");
    if present(filter)
        && filter.get("owners").as_list().is_empty()
        && !matches!(filter.get("owners"), Value::Unknown)
    {
        err(
            &mut d,
            AttrPath::root("source_ami_filter").attr("owners"),
            "Source filter without owners",
            "Without `owners`, anyone who publishes a public AMI whose name matches the filter can become the source of the next bake (and, with rebake_on_new_source, of a rebake nobody asked for). Name the accounts you trust, e.g. owners = [\"amazon\"], [\"self\"] or an account id, as Packer requires.",
        );
    }
    if number(cfg.get("keep_previous")).is_some_and(|k| k > 0) && present(cfg.get("name")) {
        err(
            &mut d,
            AttrPath::root("keep_previous"),
            "keep_previous needs name_prefix",
            "A kept image keeps its name and EC2 allows one AMI per name, so the next bake could not be created under the same `name`. Use `name_prefix` instead.",
        );
    }
    validate_ssh(cfg.get("ssh"), &mut d);
    for (i, p) in cfg.get("provision").as_list().iter().enumerate() {
        validate_provision(p, AttrPath::root("provision").index(i), &mut d);
    }
    validate_launch(cfg, &mut d);
    validate_spot(cfg, &mut d);
    validate_network(cfg, &mut d);
    validate_regions(cfg, &mut d);
    for list in ["launch_block_device", "ami_block_device"] {
        validate_devices(cfg, list, &mut d);
    }
    d
}

/// The spot settings only mean something with `spot_price`; with
/// `spot_instance_types` and no fallback, `instance_type` is unused.
fn validate_spot(cfg: &Value, d: &mut Diagnostics) {
    let set = |attr: &str| match cfg.get(attr) {
        Value::List(l) => !l.is_empty(),
        Value::Map(m) => !m.is_empty(),
        Value::Bool(b) => *b,
        v => present(v),
    };
    if !present(cfg.get("spot_price")) {
        for attr in [
            "spot_instance_types",
            "spot_allocation_strategy",
            "spot_tags",
            "spot_fallback_on_demand",
        ] {
            if set(attr) {
                err(
                    d,
                    AttrPath::root(attr),
                    "Spot setting without spot_price",
                    format!(
                        "`{attr}` applies to a spot build instance: set `spot_price` (\"auto\" or a maximum price) to launch one."
                    ),
                );
            }
        }
        return;
    }
    if matches!(cfg.get("spot_instance_types"), Value::List(l) if !l.is_empty())
        && !matches!(
            cfg.get("spot_fallback_on_demand"),
            Value::Bool(true) | Value::Unknown
        )
    {
        d.push(
            Diagnostic::warning(
                "instance_type is not used",
                "The spot build instance is one of `spot_instance_types`; `instance_type` only names the on-demand type of `spot_fallback_on_demand`, which is off.",
            )
            .at(AttrPath::root("instance_type")),
        );
    }
}

/// A key of `region_kms_key_ids` for a region the image is not copied to
/// would be silently unused.
fn validate_regions(cfg: &Value, d: &mut Diagnostics) {
    let regions = cfg.get("ami_regions");
    if regions.is_unknown_or_partial() {
        return;
    }
    let listed = regions.as_string_list();
    if let Value::Map(keys) = cfg.get("region_kms_key_ids") {
        for region in keys.keys().filter(|r| !listed.contains(r)) {
            err(
                d,
                AttrPath::root("region_kms_key_ids").key(region),
                "KMS key for a region without a copy",
                format!("{region:?} is not in `ami_regions`: add it there, or remove its key."),
            );
        }
    }
}

/// A whole number, when known.
fn number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => Some(*n as i64),
        _ => None,
    }
}

/// Each device's fields against its volume type's limits
/// (`ec2::volumes`), the fields that exclude each other, and device names
/// that appear twice.
fn validate_devices(cfg: &Value, list: &str, d: &mut Diagnostics) {
    let mut seen: Vec<&str> = vec![];
    for (i, dev) in cfg.get(list).as_list().iter().enumerate() {
        let at = |attr: &str| AttrPath::root(list).index(i).attr(attr);
        if let Some(name) = dev.get("device_name").as_str() {
            if seen.contains(&name) {
                err(
                    d,
                    at("device_name"),
                    "Device named twice",
                    format!("{name} already has a {list} block."),
                );
            }
            seen.push(name);
        }
        let set = |attr: &str| present(dev.get(attr)) && dev.get(attr) != &Value::Bool(false);
        const EBS: [&str; 8] = [
            "volume_size",
            "volume_type",
            "iops",
            "throughput",
            "encrypted",
            "kms_key_id",
            "delete_on_termination",
            "snapshot_id",
        ];
        if dev.get("no_device") == &Value::Bool(true) {
            if let Some(other) = EBS.iter().chain(&["virtual_name"]).find(|a| set(a)) {
                err(
                    d,
                    at(other),
                    "Conflicting device settings",
                    "`no_device = true` suppresses the device: set nothing else in its block.",
                );
            }
            continue;
        }
        if present(dev.get("virtual_name")) {
            if let Some(other) = EBS.iter().find(|a| set(a)) {
                err(
                    d,
                    at(other),
                    "Conflicting device settings",
                    "An instance store device (`virtual_name`) takes no EBS settings.",
                );
            }
            continue;
        }
        if set("snapshot_id") && present(dev.get("encrypted")) {
            err(
                d,
                at("encrypted"),
                "Conflicting device settings",
                "A volume made from `snapshot_id` has the snapshot's encryption: leave `encrypted` out.",
            );
        }
        if present(dev.get("kms_key_id")) && dev.get("encrypted") != &Value::Bool(true) {
            err(
                d,
                at("kms_key_id"),
                "KMS key without encryption",
                "`kms_key_id` needs `encrypted = true`.",
            );
        }
        if list == "ami_block_device"
            && !present(dev.get("volume_size"))
            && !present(dev.get("snapshot_id"))
            && dev.get("volume_size") != &Value::Unknown
        {
            err(
                d,
                at("volume_size"),
                "Device without a size",
                "A device the image adds needs `volume_size` or `snapshot_id` (or `no_device = true` to leave an instance's device out).",
            );
        }
        let Some(ty) = dev.get("volume_type").as_str().and_then(VolumeType::parse) else {
            continue;
        };
        if let Some(size) = number(dev.get("volume_size"))
            && !ty.sizes().contains(&size)
        {
            let r = ty.sizes();
            err(
                d,
                at("volume_size"),
                "Volume size out of range",
                format!(
                    "{ty} volumes are {}–{} GiB; got {size}.",
                    r.start(),
                    r.end()
                ),
            );
        }
        match (ty.iops(), dev.get("iops")) {
            (None, v) if present(v) => err(
                d,
                at("iops"),
                "IOPS not supported",
                format!("{ty} volumes take no `iops` (gp3, io1 and io2 do)."),
            ),
            (Some(r), v) => match number(v) {
                Some(n) if !r.contains(&n) => err(
                    d,
                    at("iops"),
                    "IOPS out of range",
                    format!("{ty} volumes take {}–{} IOPS; got {n}.", r.start(), r.end()),
                ),
                None if v.is_null() && ty.needs_iops() => err(
                    d,
                    at("iops"),
                    "Missing IOPS",
                    format!("{ty} volumes need `iops`."),
                ),
                _ => {}
            },
            _ => {}
        }
        match (ty.throughput(), dev.get("throughput")) {
            (None, v) if present(v) => err(
                d,
                at("throughput"),
                "Throughput not supported",
                format!("Only gp3 volumes take `throughput`; this one is {ty}."),
            ),
            (Some(r), v) => {
                if let Some(n) = number(v)
                    && !r.contains(&n)
                {
                    err(
                        d,
                        at("throughput"),
                        "Throughput out of range",
                        format!(
                            "{ty} volumes take {}–{} MiB/s; got {n}.",
                            r.start(),
                            r.end()
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

/// Launch options that only make sense together (EC2 would refuse them at
/// RunInstances, after the plan promised a bake).
fn validate_launch(cfg: &Value, d: &mut Diagnostics) {
    if present(cfg.get("kms_key_id")) && cfg.get("encrypt_boot") != &Value::Bool(true) {
        err(
            d,
            AttrPath::root("kms_key_id"),
            "KMS key without encryption",
            "`kms_key_id` is the key for `encrypt_boot`: set `encrypt_boot = true` too.",
        );
    }
    if present(cfg.get("capacity_reservation_preference"))
        && present(cfg.get("capacity_reservation_id"))
    {
        err(
            d,
            AttrPath::root("capacity_reservation_id"),
            "Conflicting capacity reservation settings",
            "Set either `capacity_reservation_id` (launch into that reservation) or `capacity_reservation_preference`, not both.",
        );
    }
    let burstable = cfg
        .get("instance_type")
        .as_str()
        .map(|t| t.starts_with('t') && t.contains('.'));
    if present(cfg.get("enable_unlimited_credits")) && burstable == Some(false) {
        err(
            d,
            AttrPath::root("enable_unlimited_credits"),
            "Unlimited credits need a burstable instance type",
            format!(
                "enable_unlimited_credits applies to burstable (T) instance types only; `{}` is not one.",
                cfg.get("instance_type").as_str().unwrap_or_default()
            ),
        );
    }
}

/// Network settings that exclude or need each other, as Packer's do. Whether
/// the ids exist and the filters match is the plan's lookup (`plan.rs`).
fn validate_network(cfg: &Value, d: &mut Diagnostics) {
    let at = AttrPath::root;
    let both = |a: &str, b: &str| present(cfg.get(a)) && present(cfg.get(b));
    if both("vpc_id", "vpc_filter") {
        err(
            d,
            at("vpc_id"),
            "Conflicting VPC settings",
            "Set either `vpc_id` or a `vpc_filter` block, not both.",
        );
    }
    if both("subnet_id", "subnet_filter") {
        err(
            d,
            at("subnet_id"),
            "Conflicting subnet settings",
            "Set either `subnet_id` or a `subnet_filter` block, not both.",
        );
    }
    if (present(cfg.get("vpc_id")) || present(cfg.get("vpc_filter")))
        && !present(cfg.get("subnet_id"))
        && !present(cfg.get("subnet_filter"))
    {
        let attr = if present(cfg.get("vpc_id")) {
            at("vpc_id")
        } else {
            at("vpc_filter").attr("filters")
        };
        err(
            d,
            attr,
            "VPC without a subnet",
            "The build instance runs in a subnet: with `vpc_id` or `vpc_filter`, set `subnet_id` or a `subnet_filter` block (searched within that VPC).",
        );
    }
    let pick = cfg.get("subnet_filter");
    if pick.get("most_free") == &Value::Bool(true) && pick.get("random") == &Value::Bool(true) {
        err(
            d,
            at("subnet_filter").attr("random"),
            "Conflicting subnet choices",
            "Set either `most_free` (the subnet with the most free addresses) or `random`, not both.",
        );
    }
    let ids = cfg.get("security_group_ids");
    let has_ids = !ids.as_list().is_empty() || matches!(ids, Value::Unknown);
    if has_ids && present(cfg.get("security_group_filter")) {
        err(
            d,
            at("security_group_ids"),
            "Conflicting security group settings",
            "Set either `security_group_ids` or a `security_group_filter` block, not both.",
        );
    }
    let cidrs = cfg.get("ssh").get("allowed_cidrs");
    if (has_ids || present(cfg.get("security_group_filter")))
        && (!cidrs.as_list().is_empty() || matches!(cidrs, Value::Unknown))
    {
        err(
            d,
            at("ssh").attr("allowed_cidrs"),
            "Conflicting SSH access settings",
            "`ssh.allowed_cidrs` shapes the temporary security group, and with `security_group_ids` or `security_group_filter` none is made: let SSH in through your own groups and leave `allowed_cidrs` out.",
        );
    }
    if both("user_data", "user_data_file") {
        err(
            d,
            at("user_data_file"),
            "Conflicting user data",
            "Set either `user_data` or `user_data_file`, not both.",
        );
    }
}

fn validate_ssh(ssh: &Value, d: &mut Diagnostics) {
    let path = AttrPath::root("ssh");
    if ssh.is_null() {
        err(
            d,
            path,
            "Missing ssh block",
            "Add an `ssh { username = \"...\" }` block: the bake needs to log in to the build instance.",
        );
        return;
    }
    match (
        present(ssh.get("key_pair_name")),
        present(ssh.get("private_key")),
    ) {
        (true, false) => err(
            d,
            path.clone().attr("key_pair_name"),
            "Missing private key",
            "key_pair_name needs private_key to log in.",
        ),
        (false, true) => err(
            d,
            path.clone().attr("private_key"),
            "Missing key pair name",
            "private_key needs the EC2 key_pair_name it belongs to.",
        ),
        _ => {}
    }
    if ssh.get("host_key_check").as_str() == Some("pinned") && ssh.get("host_key").is_null() {
        err(
            d,
            path.attr("host_key_check"),
            "No key to pin",
            "host_key_check = \"pinned\" needs ssh.host_key.",
        );
    }
}

fn validate_provision(p: &Value, path: AttrPath, d: &mut Diagnostics) {
    let (shell, file) = (p.get("shell"), p.get("file"));
    match (present(shell), present(file)) {
        (true, true) => {
            // Terraform can show an attribute's line, not a block's: point at one in `file`.
            let at = ["destination", "source", "content"]
                .into_iter()
                .find(|a| present(file.get(a)))
                .map(|a| path.clone().attr("file").attr(a))
                .unwrap_or(path.clone());
            err(
                d,
                at,
                &format!("Two step kinds in {path}"),
                "A `provision` block holds exactly one of `shell` or `file`; split it into two blocks (order is kept).",
            );
        }
        (false, false) => err(
            d,
            path.clone(),
            &format!("Empty {path}"),
            "A `provision` block holds exactly one of `shell { ... }` or `file { ... }`.",
        ),
        (true, false) => {
            if [
                shell.get("inline"),
                shell.get("script"),
                shell.get("scripts"),
            ]
            .iter()
            .all(|v| v.is_null())
            {
                err(
                    d,
                    path.attr("shell"),
                    "Nothing to run",
                    "Set one of `inline`, `script` or `scripts`.",
                );
            }
        }
        (false, true) => validate_file(file, path.attr("file"), d),
    }
}

/// Sources and destination mean local or remote paths depending on `direction`.
fn validate_file(file: &Value, fp: AttrPath, d: &mut Diagnostics) {
    let download = file.get("direction").as_str() == Some("download");
    let has_sources = present(file.get("source")) || present(file.get("sources"));
    match (has_sources, present(file.get("content"))) {
        (true, true) => err(
            d,
            fp.clone().attr("content"),
            "Conflicting file sources",
            "Set either `source` or `content`, not both.",
        ),
        (false, false) => err(
            d,
            fp.clone().attr("source"),
            "Nothing to upload",
            "Set `source` (a local file or directory) or `content`.",
        ),
        (false, true) if download => err(
            d,
            fp.clone().attr("content"),
            "Nothing to download",
            "A download takes `source` or `sources` on the instance, not `content`.",
        ),
        _ => {}
    }
    let mut sources: Vec<(AttrPath, &str)> = Vec::new();
    if let Some(s) = file.get("source").as_str() {
        sources.push((fp.clone().attr("source"), s));
    }
    for (i, s) in file.get("sources").as_list().iter().enumerate() {
        if let Some(s) = s.as_str() {
            sources.push((fp.clone().attr("sources").index(i), s));
        }
    }
    for (sp, s) in sources {
        if download && !s.starts_with('/') {
            err(
                d,
                sp,
                "Relative source",
                format!("{s:?} must be an absolute path on the instance."),
            );
        } else if !download && !std::path::Path::new(s).exists() {
            err(
                d,
                sp,
                "Source not found",
                format!(
                    "{s:?} does not exist (relative paths start from Terraform's working directory; use path.module)."
                ),
            );
        }
    }
    if let Some(dest) = file.get("destination").as_str()
        && !download
        && !dest.starts_with('/')
    {
        err(
            d,
            fp.attr("destination"),
            "Relative destination",
            format!("{dest:?} must be an absolute path on the instance."),
        );
    }
}
