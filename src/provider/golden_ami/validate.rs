//! Plan-time checks of a golden_ami configuration. Values not yet known
//! are skipped; they are checked again when known. Nothing here calls AWS.

use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use crate::provider::duration;

fn err(d: &mut Diagnostics, path: AttrPath, summary: &str, detail: impl Into<String>) {
    d.push(Diagnostic::error(summary, detail).at(path));
}

fn present(v: &Value) -> bool {
    !v.is_null()
}

/// Characters EC2 accepts in an AMI name.
fn ami_name_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ()[]./-'@_".contains(c)
}

pub fn validate(cfg: &Value) -> Diagnostics {
    let mut d = Diagnostics::default();
    let (name, prefix) = (cfg.get("name"), cfg.get("name_prefix"));
    match (present(name), present(prefix)) {
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
    for (attr, v, max) in [("name", name, 128usize), ("name_prefix", prefix, 100)] {
        if let Some(s) = v.as_str() {
            if let Some(bad) = s.chars().find(|c| !ami_name_ok(*c)) {
                err(
                    &mut d,
                    AttrPath::root(attr),
                    "Invalid AMI name",
                    format!(
                        "{s:?} contains {bad:?}; EC2 accepts letters, digits, spaces and ( ) [ ] . / - ' @ _"
                    ),
                );
            }
            let min = if attr == "name" { 3 } else { 1 };
            if s.len() < min || s.len() > max {
                err(
                    &mut d,
                    AttrPath::root(attr),
                    "Invalid AMI name length",
                    format!(
                        "{attr} must be {min} to {max} characters; {s:?} has {}.",
                        s.len()
                    ),
                );
            }
        }
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
    if let Some(s) = cfg.get("source_ami").as_str()
        && !(s.starts_with("ami-") && s.len() > 4 && s[4..].chars().all(|c| c.is_ascii_hexdigit()))
    {
        err(
            &mut d,
            AttrPath::root("source_ami"),
            "Invalid AMI id",
            format!("{s:?} is not an AMI id (ami- followed by hex digits)."),
        );
    }
    if let Value::Map(f) = cfg.get("source_ami_filter").get("filters")
        && f.is_empty()
    {
        err(
            &mut d,
            AttrPath::root("source_ami_filter").attr("filters"),
            "Empty filter",
            "A filter with no conditions would pick from every AMI visible to the account.",
        );
    }
    if let Some(t) = cfg.get("instance_type").as_str() {
        let ok = t.split_once('.').is_some_and(|(family, size)| {
            !family.is_empty()
                && !size.is_empty()
                && family
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && size
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
        if !ok {
            err(
                &mut d,
                AttrPath::root("instance_type"),
                "Invalid instance type",
                format!("{t:?} is not an instance type like \"t3.micro\"."),
            );
        }
    }
    for attr in ["tags", "snapshot_tags", "run_tags"] {
        if let Value::Map(m) = cfg.get(attr) {
            for k in m
                .keys()
                .filter(|k| k.to_ascii_lowercase().starts_with("aws:"))
            {
                err(
                    &mut d,
                    AttrPath::root(attr).key(k),
                    "Reserved tag key",
                    format!("Tag keys starting with \"aws:\" are reserved by AWS ({k:?})."),
                );
            }
        }
    }
    if let Some(at) = cfg.get("deprecate_at").as_str()
        && aws_smithy_types::DateTime::from_str(at, aws_smithy_types::date_time::Format::DateTime)
            .is_err()
    {
        err(
            &mut d,
            AttrPath::root("deprecate_at"),
            "Invalid time",
            format!("{at:?} is not an RFC 3339 time like 2027-01-31T00:00:00Z."),
        );
    }
    for (i, u) in cfg.get("ami_users").as_list().iter().enumerate() {
        if let Some(u) = u.as_str()
            && u != "all"
            && !(u.len() == 12 && u.chars().all(|c| c.is_ascii_digit()))
        {
            err(
                &mut d,
                AttrPath::root("ami_users").index(i),
                "Invalid account id",
                format!("{u:?} is neither a 12-digit account id nor \"all\"."),
            );
        }
    }
    let md = cfg.get("metadata_options");
    for (attr, allowed) in [
        ("http_tokens", ["required", "optional"]),
        ("http_endpoint", ["enabled", "disabled"]),
    ] {
        if let Some(v) = md.get(attr).as_str()
            && !allowed.contains(&v)
        {
            err(
                &mut d,
                AttrPath::root("metadata_options").attr(attr),
                "Invalid metadata option",
                format!("{v:?}: use {} or {}.", allowed[0], allowed[1]),
            );
        }
    }
    if let Some(n) = md.get("http_put_response_hop_limit").as_f64()
        && (!(1.0..=64.0).contains(&n) || n.fract() != 0.0)
    {
        err(
            &mut d,
            AttrPath::root("metadata_options").attr("http_put_response_hop_limit"),
            "Invalid hop limit",
            format!("{n} is not a whole number from 1 to 64."),
        );
    }
    validate_ssh(cfg.get("ssh"), &mut d);
    for (i, p) in cfg.get("provision").as_list().iter().enumerate() {
        validate_provision(p, AttrPath::root("provision").index(i), &mut d);
    }
    for attr in ["create", "delete"] {
        if let Some(s) = cfg.get("timeouts").get(attr).as_str()
            && let Err(e) = duration::parse(s)
        {
            err(
                &mut d,
                AttrPath::root("timeouts").attr(attr),
                "Invalid duration",
                e,
            );
        }
    }
    d
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
    if let Some(p) = ssh.get("port").as_f64()
        && (!(1.0..=65535.0).contains(&p) || p.fract() != 0.0)
    {
        err(
            d,
            path.clone().attr("port"),
            "Invalid port",
            format!("{p} is not a TCP port (1-65535)."),
        );
    }
    if let Some(t) = ssh.get("timeout").as_str()
        && let Err(e) = duration::parse(t)
    {
        err(d, path.clone().attr("timeout"), "Invalid duration", e);
    }
    if let Some(i) = ssh.get("interface").as_str()
        && !["public_ip", "private_ip", "public_dns", "private_dns"].contains(&i)
    {
        err(
            d,
            path.clone().attr("interface"),
            "Invalid interface",
            format!("{i:?}: use public_ip, private_ip, public_dns or private_dns."),
        );
    }
    for (i, c) in ssh.get("allowed_cidrs").as_list().iter().enumerate() {
        if let Some(c) = c.as_str()
            && !cidr_ok(c)
        {
            err(
                d,
                path.clone().attr("allowed_cidrs").index(i),
                "Invalid CIDR",
                format!("{c:?} is not an IPv4 CIDR like 10.0.0.0/16."),
            );
        }
    }
    let bastion = ssh.get("bastion");
    if let Some(p) = bastion.get("port").as_f64()
        && (!(1.0..=65535.0).contains(&p) || p.fract() != 0.0)
    {
        err(
            d,
            path.clone().attr("bastion").attr("port"),
            "Invalid port",
            format!("{p} is not a TCP port (1-65535)."),
        );
    }
    if let Some(k) = bastion.get("private_key").as_str()
        && russh::keys::decode_secret_key(k, None).is_err()
    {
        err(
            d,
            path.clone().attr("bastion").attr("private_key"),
            "Invalid private key",
            "Give an unencrypted OpenSSH or PEM private key.",
        );
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
    if let Some(k) = ssh.get("private_key").as_str()
        && russh::keys::decode_secret_key(k, None).is_err()
    {
        err(
            d,
            path.clone().attr("private_key"),
            "Invalid private key",
            "Give an unencrypted OpenSSH or PEM private key (for example with file(\"~/.ssh/id_ed25519\")).",
        );
    }
    match ssh.get("host_key_check").as_str() {
        Some("pinned") if ssh.get("host_key").is_null() => err(
            d,
            path.clone().attr("host_key_check"),
            "No key to pin",
            "host_key_check = \"pinned\" needs ssh.host_key.",
        ),
        Some(m) if !["console", "pinned", "none"].contains(&m) => err(
            d,
            path.clone().attr("host_key_check"),
            "Invalid host_key_check",
            format!("{m:?}: use console, pinned or none."),
        ),
        _ => {}
    }
    if let Some(k) = ssh.get("host_key").as_str()
        && russh::keys::PublicKey::from_openssh(k).is_err()
    {
        err(
            d,
            path.attr("host_key"),
            "Invalid host key",
            "Give the key as in known_hosts or a .pub file: \"ssh-ed25519 AAAA...\".",
        );
    }
}

fn cidr_ok(c: &str) -> bool {
    c.split_once('/').is_some_and(|(ip, bits)| {
        ip.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
    })
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
            return;
        }
        (false, false) => {
            err(
                d,
                path.clone(),
                &format!("Empty {path}"),
                "A `provision` block holds exactly one of `shell { ... }` or `file { ... }`.",
            );
            return;
        }
        _ => {}
    }
    if present(shell) {
        let sp = path.attr("shell");
        let inline = shell.get("inline");
        if let Value::List(l) = inline
            && l.is_empty()
        {
            err(
                d,
                sp.clone().attr("inline"),
                "Empty inline list",
                "`inline` needs at least one command.",
            );
        }
        if [inline, shell.get("script"), shell.get("scripts")]
            .iter()
            .all(|v| v.is_null())
        {
            err(
                d,
                sp.clone(),
                "Nothing to run",
                "Set one of `inline`, `script` or `scripts`.",
            );
        }
        let mut files: Vec<(AttrPath, &str)> = Vec::new();
        if let Some(s) = shell.get("script").as_str() {
            files.push((sp.clone().attr("script"), s));
        }
        for (i, s) in shell.get("scripts").as_list().iter().enumerate() {
            if let Some(s) = s.as_str() {
                files.push((sp.clone().attr("scripts").index(i), s));
            }
        }
        for (fp, f) in files {
            if !std::path::Path::new(f).is_file() {
                err(
                    d,
                    fp,
                    "Script not found",
                    format!(
                        "{f:?} is not a readable file (relative paths start from Terraform's working directory; use path.module)."
                    ),
                );
            }
        }
        for (i, c) in shell.get("valid_exit_codes").as_list().iter().enumerate() {
            if let Some(c) = c.as_f64()
                && (!(0.0..=255.0).contains(&c) || c.fract() != 0.0)
            {
                err(
                    d,
                    sp.clone().attr("valid_exit_codes").index(i),
                    "Invalid exit code",
                    format!("{c} is not an exit status (0-255)."),
                );
            }
        }
        if let Value::Map(env) = shell.get("environment") {
            for k in env.keys() {
                let ok = k
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    err(
                        d,
                        sp.clone().attr("environment").key(k),
                        "Invalid variable name",
                        format!(
                            "{k:?} is not a shell variable name (letters, digits, _; not starting with a digit)."
                        ),
                    );
                }
            }
        }
        for attr in ["pause_before", "timeout"] {
            if let Some(t) = shell.get(attr).as_str()
                && let Err(e) = duration::parse(t)
            {
                err(d, sp.clone().attr(attr), "Invalid duration", e);
            }
        }
        if let Some(n) = shell.get("max_retries").as_f64()
            && (!(0.0..=100.0).contains(&n) || n.fract() != 0.0)
        {
            err(
                d,
                sp.clone().attr("max_retries"),
                "Invalid max_retries",
                format!("{n} is not a whole number from 0 to 100."),
            );
        }
        if let Some(c) = shell.get("execute_command").as_str()
            && !c.contains("{{ .Path }}")
        {
            err(
                d,
                sp.clone().attr("execute_command"),
                "No script in execute_command",
                format!("{c:?} never runs the script: include {{{{ .Path }}}}."),
            );
        }
        if let Some(f) = shell.get("remote_path").as_str()
            && !f.starts_with('/')
        {
            err(
                d,
                sp.clone().attr("remote_path"),
                "Relative remote path",
                format!("{f:?} must be an absolute path on the instance."),
            );
        }
        if let Some(f) = shell.get("remote_folder").as_str()
            && !f.starts_with('/')
        {
            err(
                d,
                sp.attr("remote_folder"),
                "Relative remote path",
                format!("{f:?} must be an absolute path on the instance."),
            );
        }
    } else {
        let fp = path.attr("file");
        let download = match file.get("direction").as_str() {
            None | Some("upload") => false,
            Some("download") => true,
            Some(other) => {
                err(
                    d,
                    fp.clone().attr("direction"),
                    "Invalid direction",
                    format!("{other:?}: use upload or download."),
                );
                false
            }
        };
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
}
