//! From a decoded golden_ami to the bake's plain data: field to field, the
//! defaults already filled by the attribute definitions.

use super::schema::{
    Direction, File, GoldenAmi, PublicGroup, SecurityGroupFilter, Shell, Ssh, SubnetFilter,
    VpcFilter,
};
use crate::bake::spec::HostKeyCheck;
use crate::bake::{BakeSpec, BastionSpec, MetadataSpec, SourceSpec, SshSpec};
use crate::choices::Choice;
use crate::ec2::model::{NetworkChoice, SubnetPick};
use crate::provider::tag_policy::TagPolicy;
use crate::provision::{FileStep, ProvisionStep, ShellStep};
use std::path::PathBuf;

/// The source to bake from: the id resolved at plan time when there is one.
pub fn source(v: &GoldenAmi) -> Option<SourceSpec> {
    if let Some(id) = v.source_ami_id.as_ref().or(v.source_ami.as_ref()) {
        return Some(SourceSpec::Id(id.clone()));
    }
    v.source_ami_filter.as_ref().map(|f| SourceSpec::Filter {
        filters: f.filters.clone(),
        owners: f.owners.clone(),
        most_recent: f.most_recent,
    })
}

fn ssh(s: &Ssh) -> Result<SshSpec, Incomplete> {
    let bastion = match &s.bastion {
        Some(b) => Some(BastionSpec {
            host: b.host.clone(),
            port: b.port,
            username: b.username.clone(),
            private_key: b
                .private_key
                .clone()
                .ok_or(Incomplete("ssh.bastion.private_key"))?,
            host_key: b.host_key.clone(),
        }),
        None => None,
    };
    Ok(SshSpec {
        username: s.username.clone(),
        host: s.host.clone(),
        port: s.port,
        timeout: s.timeout.0,
        allowed_cidrs: s.allowed_cidrs.clone(),
        interface: s.interface,
        host_key: s.host_key.clone(),
        key_pair_name: s.key_pair_name.clone(),
        bastion,
        private_key: s.private_key.clone(),
        // The default follows from whether there is a key to pin.
        host_key_check: s.host_key_check.unwrap_or(if s.host_key.is_some() {
            HostKeyCheck::Pinned
        } else {
            HostKeyCheck::Generated
        }),
    })
}

fn shell_step(s: &Shell) -> ShellStep {
    ShellStep {
        inline: s.inline.clone(),
        scripts: s
            .script
            .iter()
            .chain(&s.scripts)
            .map(PathBuf::from)
            .collect(),
        environment: s.environment.clone(),
        valid_exit_codes: s.valid_exit_codes.clone(),
        inline_shebang: s.inline_shebang.clone(),
        remote_folder: s.remote_folder.clone(),
        execute_command: s.execute_command.clone(),
        pause_before: s.pause_before.0,
        max_retries: s.max_retries,
        timeout: s.timeout.map(|t| t.0),
        skip_clean: s.skip_clean,
        expect_disconnect: s.expect_disconnect,
        remote_path: s.remote_path.clone(),
    }
}

fn file_step(f: &File) -> FileStep {
    FileStep {
        sources: f.source.iter().chain(&f.sources).cloned().collect(),
        content: f.content.clone(),
        destination: f.destination.clone(),
        download: f.direction == Direction::Download,
    }
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

/// What a validated configuration lacks that a bake cannot do without.
#[derive(Debug, thiserror::Error)]
#[error("internal: a validated golden_ami has no {0}")]
pub struct Incomplete(&'static str);

/// The bake for a planned golden_ami, given its final name and build id;
/// every tag map carries the provider's default tags under its own.
pub fn bake_spec(
    v: &GoldenAmi,
    name: String,
    build_id: String,
    public_ip_url: &str,
    tags: &TagPolicy,
) -> Result<BakeSpec, Incomplete> {
    let ssh_block = v.ssh.as_ref().ok_or(Incomplete("ssh block"))?;
    Ok(BakeSpec {
        build_id,
        image_name: name,
        description: v.description.clone(),
        instance_type: v.instance_type.clone().ok_or(Incomplete("instance_type"))?,
        source: source(v).ok_or(Incomplete("source AMI"))?,
        ssh: ssh(ssh_block)?,
        provision: v
            .provision
            .iter()
            .filter_map(|p| match (&p.shell, &p.file) {
                (Some(s), _) => Some(ProvisionStep::Shell(shell_step(s))),
                (None, Some(f)) => Some(ProvisionStep::File(file_step(f))),
                (None, None) => None,
            })
            .collect(),
        tags: tags.merged(&v.tags),
        hold_tags: Default::default(),
        snapshot_tags: tags.merged(&v.snapshot_tags),
        run_tags: tags.merged(&v.run_tags),
        network: network(v),
        key_pair_type: v.temporary_key_pair_type,
        run_volume_tags: v.run_volume_tags.clone(),
        imds_support: v.imds_support,
        ena_support: v.ena_support,
        sriov_support: v.sriov_support == Some(true),
        launch: v.launch.clone(),
        spot: spot(v, tags),
        launch_block_devices: v.launch_block_device.iter().map(device).collect(),
        ami_block_devices: v.ami_block_device.iter().map(device).collect(),
        encrypt_boot: v.encrypt_boot == Some(true),
        kms_key_id: v.kms_key_id.clone(),
        user_data: v.user_data.clone(),
        associate_public_ip: v.associate_public_ip_address,
        create_timeout: v.timeouts.create.0,
        delete_timeout: v.timeouts.delete.0,
        launch_principals: launch_principals(
            &v.ami_users,
            &v.ami_groups,
            &v.ami_org_arns,
            &v.ami_ou_arns,
        ),
        snapshot_principals: snapshot_principals(&v.snapshot_users, &v.snapshot_groups),
        public_ip_url: public_ip_url.to_string(),
        metadata: MetadataSpec {
            http_tokens: v.metadata_options.http_tokens,
            http_endpoint: v.metadata_options.http_endpoint,
            http_put_response_hop_limit: v.metadata_options.http_put_response_hop_limit,
        },
        deprecate_at: v.deprecate_at.clone(),
        force_deregister: v.force_deregister,
        force_delete_snapshot: v.force_delete_snapshot,
        deregistration_protection: v
            .deregistration_protection
            .as_ref()
            .filter(|p| p.enabled)
            .map(|p| p.with_cooldown),
        input_digest: v.input_digest.clone(),
        copy_regions: copy_regions(v),
        snapshot_copy_minutes: v.snapshot_copy_duration_minutes,
    })
}

/// The spot launch, when `spot_price` asks for one (`auto`: no maximum).
fn spot(v: &GoldenAmi, tags: &TagPolicy) -> Option<crate::bake::spec::SpotSpec> {
    let price = v.spot_price.as_deref()?;
    Some(crate::bake::spec::SpotSpec {
        max_price: (price != "auto").then(|| price.to_string()),
        instance_types: v.spot_instance_types.clone(),
        strategy: v.spot_allocation_strategy,
        tags: tags.merged(&v.spot_tags),
        fallback_on_demand: v.spot_fallback_on_demand,
    })
}

/// The settings that place the build instance, as the plan reads them of
/// a configuration and the apply of its inputs.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NetworkView {
    pub vpc_id: Option<String>,
    pub vpc_filter: Option<VpcFilter>,
    pub subnet_id: Option<String>,
    pub subnet_filter: Option<SubnetFilter>,
    pub availability_zone: Option<String>,
    pub security_group_ids: Vec<String>,
    pub security_group_filter: Option<SecurityGroupFilter>,
}

impl NetworkView {
    /// As the EC2 seam takes it.
    pub fn choice(self) -> NetworkChoice {
        NetworkChoice {
            vpc_id: self.vpc_id,
            vpc_filter: self.vpc_filter.map(|f| f.filters),
            subnet_id: self.subnet_id,
            subnet_filter: self.subnet_filter.map(|f| SubnetPick {
                filters: f.filters,
                most_free: f.most_free,
                random: f.random,
            }),
            availability_zone: self.availability_zone,
            security_group_ids: self.security_group_ids,
            security_group_filter: self.security_group_filter.map(|f| f.filters),
        }
    }
}

/// Where the build instance runs, as configured (ids or filters).
pub fn network(v: &GoldenAmi) -> NetworkChoice {
    NetworkView {
        vpc_id: v.vpc_id.clone(),
        vpc_filter: v.vpc_filter.clone(),
        subnet_id: v.subnet_id.clone(),
        subnet_filter: v.subnet_filter.clone(),
        availability_zone: v.launch.availability_zone.clone(),
        security_group_ids: v.security_group_ids.clone(),
        security_group_filter: v.security_group_filter.clone(),
    }
    .choice()
}

/// The regions to copy to, each once, with its key (the caller drops the
/// build region, which the bake does not know here).
fn copy_regions(v: &GoldenAmi) -> Vec<crate::bake::RegionCopy> {
    let mut out: Vec<crate::bake::RegionCopy> = vec![];
    for r in &v.ami_regions {
        if !out.iter().any(|c| &c.region == r) {
            out.push(crate::bake::RegionCopy {
                region: r.clone(),
                kms_key_id: v.region_kms_key_ids.get(r).cloned(),
            });
        }
    }
    out
}

/// A configured device, as the EC2 seam takes it.
fn device(d: &super::schema::DeviceMapping) -> crate::ec2::volumes::BlockDevice {
    crate::ec2::volumes::BlockDevice {
        device_name: d.device_name.clone(),
        volume_size: d.volume_size,
        volume_type: d.volume_type,
        iops: d.iops,
        throughput: d.throughput,
        encrypted: d.encrypted,
        kms_key_id: d.kms_key_id.clone(),
        delete_on_termination: d.delete_on_termination,
        snapshot_id: d.snapshot_id.clone(),
        no_device: d.no_device,
        virtual_name: d.virtual_name.clone(),
    }
}

/// Everyone the image is shared with, in one list as EC2's launch
/// permissions hold them (accounts, `all`, organizations, OUs); no repeats.
pub fn launch_principals(
    users: &[String],
    groups: &[PublicGroup],
    orgs: &[String],
    ous: &[String],
) -> Vec<String> {
    let groups = groups.iter().map(|g| g.as_str().to_string());
    let mut all: Vec<String> = vec![];
    for p in users
        .iter()
        .cloned()
        .chain(groups)
        .chain(orgs.iter().cloned())
        .chain(ous.iter().cloned())
    {
        if !all.contains(&p) {
            all.push(p);
        }
    }
    all
}

/// Who may create volumes from the snapshots, as EC2 holds it.
pub fn snapshot_principals(users: &[String], groups: &[PublicGroup]) -> Vec<String> {
    launch_principals(users, groups, &[], &[])
}
