//! The golden_ami resource, each attribute defined once: its typed field and,
//! after `=>`, its description, default, checks and what a change does. The
//! tfplugin6 schema, the docs, plan-time checks, defaults and the input
//! digest all come from here.

use crate::bake::spec::{
    HostKeyCheck, HttpEndpoint, HttpTokens, Interface, KeyPairType, SpotAllocationStrategy,
};
use crate::ec2::model::{CapacityPreference, ImdsSupport, LaunchOptions, Tenancy};
use crate::ec2::volumes::VolumeType;
use crate::provider::duration::Dur;
use crate::provider::schema::check::PORT;
use crate::provider::schema::{BlockDef, Schema};
use crate::{define_block, define_group};
use std::collections::BTreeMap;

/// Bumped when the state layout or the meaning of a stored value changes;
/// `upgrade_state` maps old versions. 2: the input digest leaves nulls out.
pub const SCHEMA_VERSION: i64 = 2;

pub fn schema() -> Schema {
    Schema {
        version: SCHEMA_VERSION,
        block: GoldenAmi::block(),
    }
}

crate::choices!(
    /// Which way a `file` step copies.
    pub enum Direction {
        Upload = "upload",
        Download = "download",
    }
);

crate::choices!(
    /// EC2's one permission group: everyone.
    pub enum PublicGroup {
        All = "all",
    }
);

define_block! {
    /// A golden_ami object: configuration, plan or state.
    pub struct GoldenAmi: "Bakes an AMI: launches a build instance from a source AMI, provisions it over SSH, stops it, creates the image, and removes every temporary resource. Destroy deregisters the AMI and deletes its snapshots." {
        pub id: Option<String> => computed("The AMI id; use it as `aws_instance.ami`."),
        pub name: Option<String> => optional_computed("AMI name (3–128 characters: letters, digits, spaces and `( ) [ ] . / - ' @ _`). Conflicts with `name_prefix`; one of the two is required.")
            .check(Check::AmiName { min: 3, max: 128 })
            .digest(false),
        pub name_prefix: Option<String> => optional("Makes a unique AMI name starting with this prefix, followed by the UTC time and a random suffix; lets `create_before_destroy` replace an image without a name clash.")
            .check(Check::AmiName { min: 1, max: 100 })
            .digest(false),
        pub description: Option<String> => optional("AMI description. Changed in place.").in_place(),
        pub force_deregister: bool => optional("With a fixed `name` that an AMI of this account already has (one this resource does not hold), deregister that AMI right before creating the new one, as Packer's `force_deregister` does. Without it the plan fails and names that AMI: nothing is baked.")
            .default(false)
            .in_place(),
        pub force_delete_snapshot: bool => optional("With `force_deregister`, delete the deregistered AMI's snapshots too.")
            .default(false)
            .in_place(),
        // Optional in Rust only: an imported state has none.
        pub instance_type: Option<String> => required("Instance type of the build instance, e.g. `t3.micro`.")
            .check(Check::InstanceType),
        pub source_ami: Option<String> => optional("Id of the AMI to start from. Conflicts with `source_ami_filter`; one of the two is required.")
            .check(Check::AmiId),
        pub subnet_id: Option<String> => optional("Subnet for the build instance (checked at plan time: it must exist, and be in `vpc_id` and `availability_zone` when set); default: the default VPC. Conflicts with `subnet_filter`."),
        pub vpc_id: Option<String> => optional("VPC of the build instance; needs `subnet_id` or `subnet_filter` (searched within it). Conflicts with `vpc_filter`."),
        pub security_group_ids: Vec<String> => optional("Existing security groups for the build instance, in its VPC (checked at plan time): no temporary group is made, and the bake never changes nor deletes these. They must let the bake reach SSH. Conflicts with `security_group_filter` and `ssh.allowed_cidrs`."),
        pub temporary_key_pair_type: KeyPairType => optional("Type of the temporary key pair: `ed25519`, or `rsa` (3072 bits, signing with rsa-sha2-256/512) for older images whose sshd lacks ed25519.")
            .default("ed25519"),
        pub user_data_file: Option<String> => optional("A local file whose content is the build instance's user data (Packer's `user_data_file`). Conflicts with `user_data`. Its content is in the input digest (`user_data_file_digest`); its path is not.")
            .check(Check::LocalFile)
            .digest(false),
        pub user_data_file_digest: Option<String> => computed("SHA-256 of `user_data_file`'s content; a change plans a new bake.")
            .digest(true),
        pub run_volume_tags: BTreeMap<String, String> => optional("Tags on the build instance's volumes only, over `run_tags` (Packer's `run_volume_tags`).")
            .check(Check::NoReservedTagKeys)
            .in_place(),
        pub ena_support: Option<bool> => optional("Enhanced networking with ENA on the image: set on the stopped build instance before CreateImage, as Packer's `ena_support` does; default: as the source AMI."),
        pub sriov_support: Option<bool> => optional("SR-IOV enhanced networking (`simple`, Intel 82599 VF) on the image, set like `ena_support` (Packer's `sriov_support`); default: as the source AMI."),
        pub imds_support: Option<ImdsSupport> => optional("`v2.0`: instances launched from the image get IMDSv2 only (their metadata requests need a token); set on the image after CreateImage, as Packer's `imds_support`."),
        pub associate_public_ip_address: Option<bool> => optional("Give the build instance a public IP address (default: the subnet's setting)."),
        #[serde(flatten)]
        pub launch: LaunchOptions => group(),
        pub spot_price: Option<String> => optional("Launch the build instance as a spot instance: `auto` pays up to the on-demand price (EC2's default), a decimal such as `\"0.05\"` is the highest price in dollars an hour. The launch is RunInstances with spot market options: a one-time spot request that is fulfilled at once or refused at once (no request waits open for capacity), tagged like every temporary resource and cancelled when the bake ends. Changing it bakes nothing new.")
            .check(Check::SpotPrice)
            .in_place(),
        pub spot_instance_types: Vec<String> => optional("Instance types to try for the spot build instance, in this order (see `spot_allocation_strategy`): a type without spot capacity makes way for the next. Needs `spot_price`. When set, the spot instance is one of these, and `instance_type` is only the on-demand type of `spot_fallback_on_demand` (Packer ignores `instance_type` then). Default: `instance_type` alone.")
            .check(Check::InstanceType),
        pub spot_allocation_strategy: Option<SpotAllocationStrategy> => optional("How to order `spot_instance_types`: `lowest-price` and `price-capacity-optimized` try the type with the lowest current spot price first (DescribeSpotPriceHistory; equal prices keep the written order); `capacity-optimized`, `capacity-optimized-prioritized` and `diversified` keep the written order, capacity being learned by asking type by type (one build instance has nothing to diversify). Needs `spot_price`.")
            .in_place(),
        pub spot_tags: BTreeMap<String, String> => optional("Tags on the spot request (beside `golden:build-id` and `golden:expires-at`). Needs `spot_price`.")
            .check(Check::NoReservedTagKeys)
            .in_place(),
        pub spot_fallback_on_demand: bool => optional("When no spot capacity is to be had for any spot type (EC2 answers `InsufficientInstanceCapacity` or `SpotMaxPriceTooLow`), launch `instance_type` on demand instead of failing the bake. Needs `spot_price`.")
            .default(false)
            .in_place(),
        pub user_data: Option<String> => optional("User data for the build instance."),
        pub triggers: BTreeMap<String, String> => optional("Arbitrary values; changing any of them bakes a new image (for inputs the provider cannot see, such as a package version)."),
        pub rebake_on_new_source: bool => optional("With a `source_ami_filter`, plan a new bake when the filter selects a newer AMI than the one baked from.")
            .default(true)
            .in_place(),
        pub ami_users: Vec<String> => optional("Account ids allowed to launch the AMI (`all` makes it public). Changed in place.")
            .check(Check::AccountIdOrAll)
            .in_place(),
        pub ami_groups: Vec<PublicGroup> => optional("Groups allowed to launch the AMI: `all` makes it public (Packer's `ami_groups`). Changed in place.")
            .in_place(),
        pub ami_org_arns: Vec<String> => optional("AWS Organizations whose accounts may launch the AMI (organization ARNs). Changed in place.")
            .check(Check::OrganizationArn)
            .in_place(),
        pub ami_ou_arns: Vec<String> => optional("Organizational units whose accounts may launch the AMI (OU ARNs). Changed in place.")
            .check(Check::OuArn)
            .in_place(),
        pub snapshot_users: Vec<String> => optional("Account ids allowed to create volumes from the AMI's snapshots. Changed in place.")
            .check(Check::AccountId)
            .in_place(),
        pub snapshot_groups: Vec<PublicGroup> => optional("`all` lets anyone create volumes from the AMI's snapshots. Changed in place.")
            .in_place(),
        pub deprecate_at: Option<String> => optional("RFC 3339 time at which EC2 marks the AMI deprecated. Changed in place.")
            .check(Check::Rfc3339)
            .in_place(),
        pub tags: BTreeMap<String, String> => optional("Tags on the AMI. Changed in place.")
            .check(Check::NoReservedTagKeys)
            .in_place(),
        pub snapshot_tags: BTreeMap<String, String> => optional("Tags on the AMI's snapshots. Changed in place.")
            .check(Check::NoReservedTagKeys)
            .in_place(),
        pub run_tags: BTreeMap<String, String> => optional("Tags on the build instance, its volumes, the temporary key pair and security group.")
            .check(Check::NoReservedTagKeys)
            .in_place(),
        pub tags_all: BTreeMap<String, String> => computed("All tags on the AMI but the provider's own `golden:*`: the provider's `default_tags` with `tags` over them, less `ignore_tags`. A change of `default_tags` updates it in place."),
        pub source_ami_id: Option<String> => computed("The AMI the image was baked from (resolved from `source_ami_filter` at plan time).")
            .digest(true),
        pub snapshot_ids: Vec<String> => computed("EBS snapshots backing the AMI."),
        pub region: Option<String> => computed("Region the AMI lives in."),
        pub creation_date: Option<String> => computed("When EC2 created the AMI."),
        pub build_id: Option<String> => computed("Id of the bake; every temporary resource and the AMI carry it in the `golden:build-id` tag."),
        pub input_digest: Option<String> => computed("SHA-256 of everything that shapes the image: the resolved source AMI, instance settings, every `provision` step with the content of the local files it uses, and `triggers`. A change plans a new bake."),
        pub reuse_identical: bool => optional("Before baking, look for an available, undeprecated image of this account with the same `input_digest` (and the same `name`, when `name` is set) and adopt it instead of baking: no instance, key pair or security group is made. The plan cannot know yet (it warns when such an image exists now); the apply decides. Every stack holding an image is recorded on it with a `golden:holder:<id>` tag (the stack that baked it too); a destroy releases this stack's hold and deregisters the image, with its snapshots, only when no other holder remains. Two applies running at the same moment may both find nothing and both bake: each then holds its own image. Tags, sharing and deprecation are set on the image by whoever changes them; give the stacks identical settings.")
            .default(false)
            .in_place(),
        pub reused: Option<bool> => computed("Whether the apply adopted an identical existing image (`reuse_identical`) instead of baking."),
        pub keep_previous: u32 => optional("How many images a rebake leaves launchable: the image being replaced is deprecated (EC2 refuses a deprecation time in the past, so it is set two minutes ahead, rounded up to the minute) and kept, tagged `golden:retained-by`; beyond this many the oldest are deregistered with their snapshots (unless another stack holds them, see `reuse_identical`). The plan of a rebake warns which images it will deprecate and deregister. `terraform destroy` removes the current image and every kept one. Needs `name_prefix` (a kept image keeps its name). Lowering it in place deregisters the oldest kept images beyond the new count. With `keep_previous > 0` a rebake is planned as an in-place update of this line of images (`id` known after apply), not a replace: the new image is made first, and a failed bake retires nothing.")
            .default(0)
            .check(Check::Whole { min: 0, max: 100, what: "a number of images" })
            .in_place(),
        pub previous_ids: Vec<String> => computed("Images earlier bakes of this resource left launchable (`keep_previous`), newest first."),
        // The filter only matters through the AMI it resolves to (`source_ami_id`).
        pub source_ami_filter: Option<SourceAmiFilter> => block().digest(false),
        pub vpc_filter: Option<VpcFilter> => block(),
        pub subnet_filter: Option<SubnetFilter> => block(),
        pub security_group_filter: Option<SecurityGroupFilter> => block(),
        pub ssh: Option<Ssh> => block().in_place(),
        pub provision: Vec<Provision> => block(),
        pub encrypt_boot: Option<bool> => optional("Encrypt the image's root snapshot: the build instance's root volume is launched encrypted (with `kms_key_id`, or the account's default EBS key), so CreateImage makes an encrypted snapshot directly, with no extra copy as Packer's `encrypt_boot` makes."),
        pub kms_key_id: Option<String> => optional("KMS key (id, ARN or alias) for `encrypt_boot`; needs `encrypt_boot = true`."),
        pub ami_regions: Vec<String> => optional("Regions to copy the finished image to (Packer's `ami_regions`), all at once; the build region needs no entry (it is skipped). Each copy is tagged like the original, shared, deprecated and protected like it, and is part of this resource: a copy failing anywhere removes every copy and the image (nothing half-copied stays), and destroy removes the image and its snapshots in every region. The regions shape the resource, as they make a different set of images: a change plans a new bake (as a new `packer build` would).")
            .check(Check::Region),
        pub region_kms_key_ids: BTreeMap<String, String> => optional("KMS key (id, ARN or alias, which must exist in that region) per region of `ami_regions`, for the copy's snapshots there (Packer's `region_kms_key_ids`). A region without a key here gets its default EBS key when `encrypt_boot` is set, and an unencrypted copy otherwise.")
            .check(Check::RegionKeys),
        pub snapshot_copy_duration_minutes: Option<i64> => optional("Time-based copy: each copy's snapshots complete within this many minutes (CopyImage's `SnapshotCopyCompletionDurationMinutes`: 15-minute steps, at most 48 hours); default: best effort.")
            .check(Check::Whole { min: 15, max: 2880, what: "a copy duration in minutes" })
            .check(Check::MultipleOf(15)),
        pub region_ami_ids: BTreeMap<String, String> => computed("The AMI id in each region the image is in, the build region included."),
        pub launch_block_device: Vec<DeviceMapping> => block(),
        pub ami_block_device: Vec<DeviceMapping> => block(),
        pub deregistration_protection: Option<DeregistrationProtection> => block().in_place(),
        pub metadata_options: MetadataOptions => block().in_place().defaults_when_absent(),
        pub timeouts: Timeouts => block().in_place().defaults_when_absent(),
    }
}

define_group! {
    /// Launch settings passed to RunInstances unchanged.
    LaunchOptions {
        iam_instance_profile: Option<String> => optional("Instance profile name for the build instance."),
        ebs_optimized: Option<bool> => optional("Launch the build instance EBS-optimized (Packer's `ebs_optimized`); default: the instance type's own setting."),
        availability_zone: Option<String> => optional("Availability Zone of the build instance, e.g. `us-east-1b` (with `subnet_id`, the subnet's zone must be this one); default: EC2's choice."),
        tenancy: Option<Tenancy> => optional("Tenancy of the build instance; default: the VPC's."),
        placement_group: Option<String> => optional("Placement group the build instance launches into."),
        capacity_reservation_preference: Option<CapacityPreference> => optional("`open`: the build instance may use any open capacity reservation that matches; `none`: never. Conflicts with `capacity_reservation_id`."),
        capacity_reservation_id: Option<String> => optional("A capacity reservation the build instance launches into (`cr-...`)."),
        enable_unlimited_credits: Option<bool> => optional("Launch a burstable (`t*`) build instance with unlimited CPU credits, so a long provisioning run is not throttled; default: the type's own mode."),
        enable_nitro_enclave: Option<bool> => optional("Launch the build instance with AWS Nitro Enclaves enabled."),
    }
}

define_block! {
    pub struct SourceAmiFilter: "Finds the source AMI as Packer's `source_ami_filter` does, at plan time." {
        pub filters: BTreeMap<String, String> => required("DescribeImages filters, e.g. `{ name = \"amzn2-ami-hvm-*\", architecture = \"x86_64\" }`.")
            .check(Check::NonEmpty("A filter with no conditions would pick from every AMI visible to the account.")),
        pub owners: Vec<String> => optional("Owner account ids or aliases (`amazon`, `self`, ...) whose AMIs you trust. Needed: without it anyone who publishes a matching public AMI could become the source."),
        pub most_recent: bool => optional("Take the newest match when several match; without it several matches are an error.")
            .default(false),
    }
}

define_block! {
    pub struct VpcFilter: "Finds the build instance's VPC at plan time, as Packer's `vpc_filter`: the filters must match exactly one VPC. Needs `subnet_id` or `subnet_filter`." {
        pub filters: BTreeMap<String, String> => required("DescribeVpcs filters, e.g. `{ \"tag:Name\" = \"build\", \"is-default\" = \"false\" }`.")
            .check(Check::NonEmpty("A filter with no conditions would match every VPC.")),
    }
}

define_block! {
    pub struct SubnetFilter: "Finds the build instance's subnet at plan time (and again at apply), as Packer's `subnet_filter`, within the chosen VPC and `availability_zone` when set. Several matches are an error unless `most_free` or `random`." {
        pub filters: BTreeMap<String, String> => required("DescribeSubnets filters, e.g. `{ \"tag:tier\" = \"build\" }`.")
            .check(Check::NonEmpty("A filter with no conditions would match every subnet.")),
        pub most_free: bool => optional("Take the match with the most free IPv4 addresses.").default(false),
        pub random: bool => optional("Take any match.").default(false),
    }
}

define_block! {
    pub struct SecurityGroupFilter: "Finds existing security groups for the build instance in its VPC, as Packer's `security_group_filter`: every match is used and no temporary group is made. Matching none fails the plan." {
        pub filters: BTreeMap<String, String> => required("DescribeSecurityGroups filters, e.g. `{ \"tag:role\" = \"packer\" }`.")
            .check(Check::NonEmpty("A filter with no conditions would match every group.")),
    }
}

define_block! {
    pub struct Ssh: "How to reach the build instance. Required." {
        pub username: String => required("User to log in as, e.g. `ec2-user`."),
        pub host: Option<String> => optional("Dial this address instead of the instance's (a NAT, a tunnel, a local test bed)."),
        pub port: u16 => optional("SSH port.").default(22).check(PORT),
        pub timeout: Dur => optional("How long to keep trying to connect, e.g. `5m`.").default("5m"),
        pub interface: Option<Interface> => optional("Which instance address to dial without `host`. Default: public IP if any, else private IP."),
        pub allowed_cidrs: Vec<String> => optional("Who the temporary security group lets reach SSH. Default: the VPC's CIDR. `0.0.0.0/0` only when written here.")
            .check(Check::Ipv4Cidr),
        pub key_pair_name: Option<String> => optional("Launch with this existing EC2 key pair instead of a temporary one; needs `private_key`."),
        pub private_key: Option<String> => optional("The private key of `key_pair_name` (OpenSSH or PEM). Sensitive and write-only: Terraform 1.11+ never stores it in plans or state (older versions store it, as a sensitive value).")
            .check(Check::PrivateKey)
            .sensitive()
            .write_only(),
        pub host_key: Option<String> => optional("The build instance's SSH host public key (`ssh-ed25519 AAAA...`) to demand (`host_key_check = \"pinned\"`).")
            .check(Check::PublicKey),
        pub host_key_check: Option<HostKeyCheck> => optional("How the host key is verified. `generated` (default without `host_key`): the bake makes an ed25519 host key pair, hands it to cloud-init in the user data (a cloud-config `ssh_keys` part), demands exactly that key, and before stopping the instance removes the host key files holding it (cloud-init makes new host keys on each instance launched from the image). Works on every instance type as soon as sshd answers; needs cloud-init in the source AMI, and user data that does not set `ssh_keys` itself. The private key is never logged nor stored in state, but user data can be read by anyone allowed `ec2:DescribeInstanceAttribute` on the build instance and by any process on it (through the metadata service; cloud-init also keeps a root-only copy under /var/lib/cloud/instances/, which the image keeps as it does any user data): acceptable for a key that only identifies this one throw-away instance for the minutes of the bake, not for a key you keep. `console`: only a key whose fingerprint cloud-init printed on the instance console, read with GetConsoleOutput (the live output on Nitro types; on Xen types such as `t2` the buffered one, which EC2 may post minutes late, so raise `timeout`); only the last complete fingerprint block counts. `pinned` (default with `host_key`): exactly `host_key`. `none`: the first key seen, unverified. In every mode a reconnect must present the same key."),
        pub bastion: Option<Bastion> => block(),
    }
}

define_block! {
    pub struct Bastion: "A jump host for instances in private subnets: the bake reaches the instance through a direct-tcpip channel opened on it, as Terraform's `connection` block and Packer's `ssh_bastion_*` do." {
        pub host: String => required("Bastion address."),
        pub port: u16 => optional("Bastion SSH port.").default(22).check(PORT),
        pub username: String => required("User on the bastion."),
        // Optional in Rust only: Terraform 1.11+ stores write-only values as null.
        pub private_key: Option<String> => required("Private key for the bastion. Sensitive and write-only (Terraform 1.11+).")
            .check(Check::PrivateKey)
            .sensitive()
            .write_only(),
        pub host_key: Option<String> => optional("The bastion's host public key to demand; without it the first key seen is trusted (and logged).")
            .check(Check::PublicKey),
    }
}

define_block! {
    pub struct Provision: "A provisioning step; the blocks run in order. Each holds exactly one of `shell` or `file`." {
        pub content_digest: Option<String> => computed("SHA-256 of the local files this step uploads or runs (names, modes and contents); null when it uses none. Editing such a file plans a new bake and the plan names this attribute."),
        pub shell: Option<Shell> => block(),
        pub file: Option<File> => block(),
    }
}

define_block! {
    pub struct Shell: "Runs commands on the build instance, like Packer's `shell` provisioner." {
        pub inline: Vec<String> => optional("Commands run as one script with `inline_shebang` (by default `/bin/sh -e`: the first failing command fails the step).")
            .check(Check::NonEmpty("`inline` needs at least one command.")),
        pub script: Option<String> => optional("A local script to upload and run.").check(Check::LocalFile),
        pub scripts: Vec<String> => optional("Local scripts to upload and run, in order.").check(Check::LocalFile),
        pub environment: BTreeMap<String, String> => optional("Environment variables for the commands. Passed through a file that is sourced and deleted, never on a command line. The values are masked in logs and diagnostics, in the output of every step of the bake (a later step printing them is masked too): a trailing line break is ignored, and each line of a multi-line value (a PEM key) is masked on its own. Values, and lines of multi-line values, shorter than 3 characters are not masked, nor is a value the commands transform (encode it, for example). Output lines longer than 64 KiB are logged in pieces of 64 KiB, and a value that straddles a cut between two pieces is not masked. Write-only: Terraform 1.11+ never stores them in state or plans (older versions ignore that and store them, as sensitive values). Being write-only, a change of value alone does not plan a new bake: change `triggers` for that.")
            .check(Check::ShellNames)
            .sensitive()
            .write_only(),
        pub valid_exit_codes: Vec<u32> => optional("Exit codes that count as success.")
            .default([0])
            .check(Check::Whole { min: 0, max: 255, what: "an exit status" }),
        pub inline_shebang: String => optional("Interpreter line for `inline`.").default("/bin/sh -e"),
        pub remote_folder: String => optional("Where scripts are uploaded on the instance.")
            .default("/tmp")
            .check(Check::AbsolutePath),
        pub pause_before: Dur => optional("Wait this long before the step, e.g. `10s`.").default("0s"),
        pub max_retries: u32 => optional("Run the step again this many times if it fails.")
            .default(0)
            .check(Check::Whole { min: 0, max: 100, what: "a whole number" }),
        pub timeout: Option<Dur> => optional("Bound on one attempt, e.g. `5m`; the remote command is ended when it passes."),
        pub skip_clean: bool => optional("Keep the uploaded scripts on the instance.").default(false),
        pub remote_path: Option<String> => optional("Exact path for the uploaded script (each script of the step in turn); default: a unique name in `remote_folder`.")
            .check(Check::AbsolutePath),
        pub expect_disconnect: bool => optional("A reboot step: the connection dropping counts as success, and the next step reconnects (retrying until `ssh.timeout`, demanding the same host key).")
            .default(false),
        pub execute_command: String => optional("How each script is run. `{{ .Path }}` is the uploaded script; `{{ .Vars }}` expands to the command that loads `environment` (it ends in `&&`).")
            .default("chmod +x {{ .Path }}; {{ .Vars }} {{ .Path }}")
            .check(Check::Contains { needle: "{{ .Path }}", why: "never runs the script" }),
    }
}

define_block! {
    pub struct File: "Uploads a file, a directory or inline content, like Packer's `file` provisioner." {
        pub source: Option<String> => optional("Local file or directory. A directory with a trailing slash uploads its contents; without, the directory itself."),
        pub sources: Vec<String> => optional("Several sources, each landing inside `destination`."),
        pub content: Option<String> => optional("Inline content to write to `destination`."),
        pub direction: Direction => optional("`download` makes `source`/`sources` paths on the instance and `destination` a local path, e.g. to bring back a manifest or an SBOM.")
            .default("upload"),
        pub destination: String => required("Absolute path on the build instance. Ending in `/` puts a file inside that directory."),
    }
}

define_block! {
    pub struct MetadataOptions: "The build instance's metadata service (IMDS). By default IMDSv2 is required." {
        pub http_tokens: HttpTokens => optional("`required` is IMDSv2 only.").default("required"),
        pub http_endpoint: HttpEndpoint => optional("Whether the metadata service answers.").default("enabled"),
        pub http_put_response_hop_limit: Option<i32> => optional("Hop limit for IMDSv2 token requests.")
            .check(Check::Whole { min: 1, max: 64, what: "a whole number" }),
    }
}

define_block! {
    pub struct DeviceMapping: "One device of a block device mapping, as Packer's `launch_block_device_mappings` (`launch_block_device`: the build instance's devices over the source AMI's; name the AMI's root device to resize or re-type it) and `ami_block_device_mappings` (`ami_block_device`: devices the image adds, e.g. a data volume created empty at each launch). Sizes, IOPS and throughput are checked per volume type at plan time." {
        pub device_name: String => required("Device name, e.g. `/dev/xvda` or `/dev/sdf`."),
        pub volume_size: Option<i32> => optional("Size in GiB (gp2 1–16384, gp3 1–65536, io1 4–16384, io2 4–65536, st1/sc1 125–16384, standard 1–1024); default: the snapshot's size."),
        pub volume_type: Option<VolumeType> => optional("EBS volume type; default: EC2's (the snapshot's mapping, else gp2)."),
        pub iops: Option<i32> => optional("Provisioned IOPS: gp3 3000–80000, io1 100–64000, io2 100–256000; required for io1 and io2."),
        pub throughput: Option<i32> => optional("Throughput in MiB/s, gp3 only: 125–2000."),
        pub encrypted: Option<bool> => optional("Encrypt the volume (with `kms_key_id`, or the account's default EBS key). Conflicts with `snapshot_id`: a volume from a snapshot takes the snapshot's encryption."),
        pub kms_key_id: Option<String> => optional("KMS key (id, ARN or alias) for an encrypted volume; needs `encrypted = true`."),
        pub delete_on_termination: Option<bool> => optional("Delete the volume when the instance terminates; default: EC2's (true for volumes made at launch)."),
        pub snapshot_id: Option<String> => optional("Snapshot to create the volume from."),
        pub no_device: bool => optional("Suppress this device of the source AMI's (or the instance's) mapping; no other field may be set.")
            .default(false),
        pub virtual_name: Option<String> => optional("Instance store volume, e.g. `ephemeral0`; no EBS field may be set."),
    }
}

define_block! {
    pub struct DeregistrationProtection: "Protects the AMI from deregistration (EC2's deregistration protection), set once the image is finished. Changed in place. While enabled, `terraform destroy` (and a replacing bake) refuses at once: set `enabled = false` and apply first, as with `deletion_protection` elsewhere." {
        pub enabled: bool => required("Whether EC2 refuses to deregister the AMI."),
        pub with_cooldown: bool => optional("Keep the protection for 24 hours after it is disabled (EC2's cooldown), so a destroy must wait that long.")
            .default(false),
    }
}

define_block! {
    pub struct Timeouts: "Bounds on the whole operation." {
        pub create: Dur => optional("The whole bake.").default("60m"),
        pub delete: Dur => optional("Deregistering the image and deleting its snapshots.").default("20m"),
    }
}
