//! Plan-time rules that span several attributes. Each attribute's own checks
//! are declared with it (schema.rs) and run first. Values not yet known are
//! skipped; they are checked again when known. Nothing here calls AWS.

use super::schema::schema;
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
    validate_ssh(cfg.get("ssh"), &mut d);
    for (i, p) in cfg.get("provision").as_list().iter().enumerate() {
        validate_provision(p, AttrPath::root("provision").index(i), &mut d);
    }
    validate_launch(cfg, &mut d);
    d
}

/// Launch options that only make sense together (EC2 would refuse them at
/// RunInstances, after the plan promised a bake).
fn validate_launch(cfg: &Value, d: &mut Diagnostics) {
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
