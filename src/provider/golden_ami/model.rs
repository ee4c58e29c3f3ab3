//! From a (validated, known) golden_ami value to the bake's plain data.

use crate::bake::{BakeSpec, MetadataSpec, SourceSpec, SshSpec};
use crate::protocol::value::Value;
use crate::provider::duration;
use crate::provision::{FileStep, ProvisionStep, ShellStep};
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
pub const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const DEFAULT_SSH_TIMEOUT: Duration = Duration::from_secs(5 * 60);

fn opt_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn duration_or(v: &Value, default: Duration) -> Duration {
    v.as_str()
        .and_then(|s| duration::parse(s).ok())
        .unwrap_or(default)
}

pub fn create_timeout(v: &Value) -> Duration {
    duration_or(v.get("timeouts").get("create"), DEFAULT_CREATE_TIMEOUT)
}

pub fn delete_timeout(v: &Value) -> Duration {
    duration_or(v.get("timeouts").get("delete"), DEFAULT_DELETE_TIMEOUT)
}

/// The source to bake from: the id resolved at plan time when there is one.
pub fn source(v: &Value) -> SourceSpec {
    if let Some(id) = v
        .get("source_ami_id")
        .as_str()
        .or(v.get("source_ami").as_str())
    {
        return SourceSpec::Id(id.to_string());
    }
    let f = v.get("source_ami_filter");
    SourceSpec::Filter {
        filters: f.get("filters").as_string_map(),
        owners: f.get("owners").as_string_list(),
        most_recent: f.get("most_recent").as_bool().unwrap_or(false),
    }
}

fn ssh(v: &Value) -> SshSpec {
    SshSpec {
        username: v.get("username").as_str().unwrap_or_default().to_string(),
        host: opt_string(v.get("host")),
        port: v.get("port").as_f64().map(|p| p as u16).unwrap_or(22),
        timeout: duration_or(v.get("timeout"), DEFAULT_SSH_TIMEOUT),
        allowed_cidrs: v.get("allowed_cidrs").as_string_list(),
        interface: opt_string(v.get("interface")),
        host_key: opt_string(v.get("host_key")),
        key_pair_name: opt_string(v.get("key_pair_name")),
        bastion: (!v.get("bastion").is_null()).then(|| {
            let b = v.get("bastion");
            crate::bake::BastionSpec {
                host: b.get("host").as_str().unwrap_or_default().to_string(),
                port: b.get("port").as_f64().map(|p| p as u16).unwrap_or(22),
                username: b.get("username").as_str().unwrap_or_default().to_string(),
                private_key: b
                    .get("private_key")
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                host_key: opt_string(b.get("host_key")),
            }
        }),
        private_key: opt_string(v.get("private_key")),
        host_key_check: v
            .get("host_key_check")
            .as_str()
            .unwrap_or(if v.get("host_key").is_null() {
                "console"
            } else {
                "pinned"
            })
            .to_string(),
    }
}

fn provision_step(p: &Value) -> Option<ProvisionStep> {
    let shell = p.get("shell");
    if !shell.is_null() {
        let mut s = ShellStep {
            inline: shell.get("inline").as_string_list(),
            ..ShellStep::default()
        };
        s.scripts = shell
            .get("script")
            .as_str()
            .into_iter()
            .map(PathBuf::from)
            .collect();
        s.scripts.extend(
            shell
                .get("scripts")
                .as_string_list()
                .into_iter()
                .map(PathBuf::from),
        );
        s.environment = shell.get("environment").as_string_map();
        if let Value::List(codes) = shell.get("valid_exit_codes") {
            s.valid_exit_codes = codes
                .iter()
                .filter_map(|c| c.as_f64())
                .map(|c| c as u32)
                .collect();
        }
        if let Some(x) = shell.get("inline_shebang").as_str() {
            s.inline_shebang = x.to_string();
        }
        if let Some(x) = shell.get("remote_folder").as_str() {
            s.remote_folder = x.to_string();
        }
        if let Some(x) = shell.get("execute_command").as_str() {
            s.execute_command = x.to_string();
        }
        s.pause_before = duration_or(shell.get("pause_before"), Duration::ZERO);
        s.max_retries = shell
            .get("max_retries")
            .as_f64()
            .map(|n| n as u32)
            .unwrap_or(0);
        s.timeout = shell
            .get("timeout")
            .as_str()
            .and_then(|t| duration::parse(t).ok());
        s.skip_clean = shell.get("skip_clean").as_bool().unwrap_or(false);
        s.expect_disconnect = shell.get("expect_disconnect").as_bool().unwrap_or(false);
        s.remote_path = opt_string(shell.get("remote_path"));
        return Some(ProvisionStep::Shell(s));
    }
    let file = p.get("file");
    (!file.is_null()).then(|| {
        let mut sources: Vec<String> = file
            .get("source")
            .as_str()
            .into_iter()
            .map(str::to_string)
            .collect();
        sources.extend(file.get("sources").as_string_list());
        ProvisionStep::File(FileStep {
            sources,
            content: opt_string(file.get("content")),
            destination: file
                .get("destination")
                .as_str()
                .unwrap_or_default()
                .to_string(),
            download: file.get("direction").as_str() == Some("download"),
        })
    })
}

/// A unique AMI name from a prefix: UTC time to the second plus a random tail.
pub fn generated_name(prefix: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    format!("{prefix}{stamp}-{:04x}", rand::random::<u16>())
}

/// The bake for a planned golden_ami whose `name` and `build_id` are set.
pub fn bake_spec(v: &Value, name: String, build_id: String, public_ip_url: &str) -> BakeSpec {
    BakeSpec {
        build_id,
        image_name: name,
        description: opt_string(v.get("description")),
        instance_type: v
            .get("instance_type")
            .as_str()
            .unwrap_or_default()
            .to_string(),
        source: source(v),
        ssh: ssh(v.get("ssh")),
        provision: v
            .get("provision")
            .as_list()
            .iter()
            .filter_map(provision_step)
            .collect(),
        tags: v.get("tags").as_string_map(),
        snapshot_tags: v.get("snapshot_tags").as_string_map(),
        run_tags: v.get("run_tags").as_string_map(),
        subnet_id: opt_string(v.get("subnet_id")),
        iam_instance_profile: opt_string(v.get("iam_instance_profile")),
        user_data: opt_string(v.get("user_data")),
        associate_public_ip: v.get("associate_public_ip_address").as_bool(),
        create_timeout: create_timeout(v),
        ami_users: v.get("ami_users").as_string_list(),
        public_ip_url: public_ip_url.to_string(),
        metadata: MetadataSpec {
            http_tokens: v
                .get("metadata_options")
                .get("http_tokens")
                .as_str()
                .unwrap_or("required")
                .to_string(),
            http_endpoint: v
                .get("metadata_options")
                .get("http_endpoint")
                .as_str()
                .unwrap_or("enabled")
                .to_string(),
            http_put_response_hop_limit: v
                .get("metadata_options")
                .get("http_put_response_hop_limit")
                .as_f64()
                .map(|n| n as i32),
        },
        deprecate_at: opt_string(v.get("deprecate_at")),
    }
}
