//! The golden_ami schema: each attribute defined once, with its help text.

use crate::protocol::schema::{Attr, Block, Nesting, Schema, Ty};

/// Bumped when the state layout changes; `upgrade_state` maps old versions.
pub const SCHEMA_VERSION: i64 = 1;

pub fn schema() -> Schema {
    Schema {
        version: SCHEMA_VERSION,
        block: resource_block(),
    }
}

fn resource_block() -> Block {
    Block::new("Bakes an AMI: launches a build instance from a source AMI, provisions it over SSH, stops it, creates the image, and removes every temporary resource. Destroy deregisters the AMI and deletes its snapshots.")
        .attr(Attr::computed("id", Ty::String, "The AMI id; use it as `aws_instance.ami`."))
        .attr(Attr::optional_computed("name", Ty::String, "AMI name (3–128 characters: letters, digits, spaces and `( ) [ ] . / - ' @ _`). Conflicts with `name_prefix`; one of the two is required."))
        .attr(Attr::optional("name_prefix", Ty::String, "Makes a unique AMI name starting with this prefix, followed by the UTC time and a random suffix; lets `create_before_destroy` replace an image without a name clash."))
        .attr(Attr::optional("description", Ty::String, "AMI description. Changed in place.").in_place())
        .attr(Attr::required("instance_type", Ty::String, "Instance type of the build instance, e.g. `t3.micro`."))
        .attr(Attr::optional("source_ami", Ty::String, "Id of the AMI to start from. Conflicts with `source_ami_filter`; one of the two is required."))
        .attr(Attr::optional("subnet_id", Ty::String, "Subnet for the build instance; default: the default VPC."))
        .attr(Attr::optional("associate_public_ip_address", Ty::Bool, "Give the build instance a public IP address (default: the subnet's setting)."))
        .attr(Attr::optional("iam_instance_profile", Ty::String, "Instance profile name for the build instance."))
        .attr(Attr::optional("user_data", Ty::String, "User data for the build instance."))
        .attr(Attr::optional("triggers", Ty::map_of_strings(), "Arbitrary values; changing any of them bakes a new image (for inputs the provider cannot see, such as a package version)."))
        .attr(Attr::optional("rebake_on_new_source", Ty::Bool, "With a `source_ami_filter`, plan a new bake when the filter selects a newer AMI than the one baked from. Default `true`.").in_place())
        .attr(Attr::optional("ami_users", Ty::list_of_strings(), "Account ids allowed to launch the AMI (`all` makes it public). Changed in place.").in_place())
        .attr(Attr::optional("deprecate_at", Ty::String, "RFC 3339 time at which EC2 marks the AMI deprecated. Changed in place.").in_place())
        .attr(Attr::optional("tags", Ty::map_of_strings(), "Tags on the AMI. Changed in place.").in_place())
        .attr(Attr::optional("snapshot_tags", Ty::map_of_strings(), "Tags on the AMI's snapshots. Changed in place.").in_place())
        .attr(Attr::optional("run_tags", Ty::map_of_strings(), "Tags on the build instance, its volumes, the temporary key pair and security group.").in_place())
        .attr(Attr::computed("source_ami_id", Ty::String, "The AMI the image was baked from (resolved from `source_ami_filter` at plan time)."))
        .attr(Attr::computed("snapshot_ids", Ty::list_of_strings(), "EBS snapshots backing the AMI."))
        .attr(Attr::computed("region", Ty::String, "Region the AMI lives in."))
        .attr(Attr::computed("creation_date", Ty::String, "When EC2 created the AMI."))
        .attr(Attr::computed("build_id", Ty::String, "Id of the bake; every temporary resource and the AMI carry it in the `golden:build-id` tag."))
        .attr(Attr::computed("input_digest", Ty::String, "SHA-256 of everything that shapes the image: the resolved source AMI, instance settings, every `provision` step with the content of the local files it uses, and `triggers`. A change plans a new bake."))
        .block(
            "source_ami_filter",
            Nesting::Single,
            Block::new("Finds the source AMI as Packer's `source_ami_filter` does, at plan time.")
                .attr(Attr::required("filters", Ty::map_of_strings(), "DescribeImages filters, e.g. `{ name = \"amzn2-ami-hvm-*\", architecture = \"x86_64\" }`."))
                .attr(Attr::optional("owners", Ty::list_of_strings(), "Owner account ids or aliases (`amazon`, `self`, ...). Strongly recommended."))
                .attr(Attr::optional("most_recent", Ty::Bool, "Take the newest match when several match; without it several matches are an error.")),
        )
        .block_in_place(
            "ssh",
            Nesting::Single,
            Block::new("How to reach the build instance. Required.")
                .attr(Attr::required("username", Ty::String, "User to log in as, e.g. `ec2-user`."))
                .attr(Attr::optional("host", Ty::String, "Dial this address instead of the instance's (a NAT, a tunnel, a local test bed)."))
                .attr(Attr::optional("port", Ty::Number, "SSH port. Default 22."))
                .attr(Attr::optional("timeout", Ty::String, "How long to keep trying to connect, e.g. `5m`. Default `5m`."))
                .attr(Attr::optional("interface", Ty::String, "Which instance address to dial without `host`: `public_ip`, `private_ip`, `public_dns` or `private_dns`. Default: public IP if any, else private IP."))
                .attr(Attr::optional("allowed_cidrs", Ty::list_of_strings(), "Who the temporary security group lets reach SSH. Default: the VPC's CIDR. `0.0.0.0/0` only when written here."))
                .attr(Attr::optional("key_pair_name", Ty::String, "Launch with this existing EC2 key pair instead of a temporary one; needs `private_key`."))
                .attr(Attr::optional("private_key", Ty::String, "The private key of `key_pair_name` (OpenSSH or PEM). Sensitive and write-only: Terraform 1.11+ never stores it in plans or state (older versions store it, as a sensitive value).").sensitive().write_only())
                .attr(Attr::optional("host_key", Ty::String, "The build instance's SSH host public key (`ssh-ed25519 AAAA...`) to demand (`host_key_check = \"pinned\"`)."))
                .attr(Attr::optional("host_key_check", Ty::String, "How the host key is verified: `console` (default without `host_key`): only a key whose fingerprint cloud-init printed on the instance console, read with GetConsoleOutput; `pinned` (default with `host_key`): exactly `host_key`; `none`: the first key seen, unverified. In every mode a reconnect must present the same key."))
                .block(
                    "bastion",
                    Nesting::Single,
                    Block::new("A jump host for instances in private subnets: the bake reaches the instance through a direct-tcpip channel opened on it, as Terraform's `connection` block and Packer's `ssh_bastion_*` do.")
                        .attr(Attr::required("host", Ty::String, "Bastion address."))
                        .attr(Attr::optional("port", Ty::Number, "Bastion SSH port. Default 22."))
                        .attr(Attr::required("username", Ty::String, "User on the bastion."))
                        .attr(Attr::required("private_key", Ty::String, "Private key for the bastion. Sensitive and write-only (Terraform 1.11+).").sensitive().write_only())
                        .attr(Attr::optional("host_key", Ty::String, "The bastion's host public key to demand; without it the first key seen is trusted (and logged).")),
                ),
        )
        .block(
            "provision",
            Nesting::List,
            Block::new("A provisioning step; the blocks run in order. Each holds exactly one of `shell` or `file`.")
                .attr(Attr::computed("content_digest", Ty::String, "SHA-256 of the local files this step uploads or runs (names, modes and contents); null when it uses none. Editing such a file plans a new bake and the plan names this attribute."))
                .block(
                    "shell",
                    Nesting::Single,
                    Block::new("Runs commands on the build instance, like Packer's `shell` provisioner.")
                        .attr(Attr::optional("inline", Ty::list_of_strings(), "Commands run as one script with `inline_shebang` (default `/bin/sh -e`: the first failing command fails the step)."))
                        .attr(Attr::optional("script", Ty::String, "A local script to upload and run."))
                        .attr(Attr::optional("scripts", Ty::list_of_strings(), "Local scripts to upload and run, in order."))
                        .attr(Attr::optional("environment", Ty::map_of_strings(), "Environment variables for the commands. Passed through a file that is sourced and deleted, never on a command line; the values are masked in logs and diagnostics. Write-only: Terraform 1.11+ never stores them in state or plans (older versions ignore that and store them, as sensitive values). Being write-only, a change of value alone does not plan a new bake: change `triggers` for that.").sensitive().write_only())
                        .attr(Attr::optional("valid_exit_codes", Ty::List(Box::new(Ty::Number)), "Exit codes that count as success. Default `[0]`."))
                        .attr(Attr::optional("inline_shebang", Ty::String, "Interpreter line for `inline`. Default `/bin/sh -e`."))
                        .attr(Attr::optional("remote_folder", Ty::String, "Where scripts are uploaded on the instance. Default `/tmp`."))
                        .attr(Attr::optional("pause_before", Ty::String, "Wait this long before the step, e.g. `10s`."))
                        .attr(Attr::optional("max_retries", Ty::Number, "Run the step again this many times if it fails. Default 0."))
                        .attr(Attr::optional("timeout", Ty::String, "Bound on one attempt, e.g. `5m`; the remote command is ended when it passes."))
                        .attr(Attr::optional("skip_clean", Ty::Bool, "Keep the uploaded scripts on the instance."))
                        .attr(Attr::optional("remote_path", Ty::String, "Exact path for the uploaded script (each script of the step in turn); default: a unique name in `remote_folder`."))
                        .attr(Attr::optional("expect_disconnect", Ty::Bool, "A reboot step: the connection dropping counts as success, and the next step reconnects (retrying until `ssh.timeout`, demanding the same host key)."))
                        .attr(Attr::optional("execute_command", Ty::String, "How each script is run. `{{ .Path }}` is the uploaded script; `{{ .Vars }}` expands to the command that loads `environment` (it ends in `&&`). Default `chmod +x {{ .Path }}; {{ .Vars }} {{ .Path }}`.")),
                )
                .block(
                    "file",
                    Nesting::Single,
                    Block::new("Uploads a file, a directory or inline content, like Packer's `file` provisioner.")
                        .attr(Attr::optional("source", Ty::String, "Local file or directory. A directory with a trailing slash uploads its contents; without, the directory itself."))
                        .attr(Attr::optional("sources", Ty::list_of_strings(), "Several sources, each landing inside `destination`."))
                        .attr(Attr::optional("content", Ty::String, "Inline content to write to `destination`."))
                        .attr(Attr::optional("direction", Ty::String, "`upload` (default) or `download`: then `source`/`sources` are paths on the instance and `destination` is a local path, e.g. to bring back a manifest or an SBOM."))
                        .attr(Attr::required("destination", Ty::String, "Absolute path on the build instance. Ending in `/` puts a file inside that directory.")),
                ),
        )
        .block_in_place(
            "metadata_options",
            Nesting::Single,
            Block::new("The build instance's metadata service (IMDS). By default IMDSv2 is required.")
                .attr(Attr::optional("http_tokens", Ty::String, "`required` (default, IMDSv2 only) or `optional`."))
                .attr(Attr::optional("http_endpoint", Ty::String, "`enabled` (default) or `disabled`."))
                .attr(Attr::optional("http_put_response_hop_limit", Ty::Number, "Hop limit for IMDSv2 token requests (1-64).")),
        )
        .block_in_place(
            "timeouts",
            Nesting::Single,
            Block::new("Bounds on the whole operation.")
                .attr(Attr::optional("create", Ty::String, "Default `60m`."))
                .attr(Attr::optional("delete", Ty::String, "Default `20m`.")),
        )
}
