//! The Packer options whose golden_ami (or provider) name or shape differs.
//! Every option not listed maps to the attribute or block of the same name,
//! found in the schema itself ([`super::mapping`]); a unit test checks that
//! every target below exists there.

/// What becomes of one Packer option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// The same value under another name: a path in golden_ami's schema.
    To(&'static str),
    /// `ami_name`: with the build's time in it, `name_prefix` (the provider
    /// appends a UTC time and a random suffix); without, `name`.
    AmiName,
    /// A local file whose content the attribute takes: `file("${path.module}/...")`.
    FileOf(&'static str),
    /// A path in the provider block's schema.
    Provider(&'static str),
    /// `["K=V", ...]` becomes a map at this path.
    EnvList(&'static str),
    /// A number of seconds becomes a duration (`"900s"`) at this provider path.
    Seconds(&'static str),
}

/// amazon-ebs options.
pub const BUILDER: &[(&str, Rule)] = &[
    ("ami_name", Rule::AmiName),
    ("ami_description", Rule::To("description")),
    ("user_data_file", Rule::FileOf("user_data")),
    ("ssh_username", Rule::To("ssh.username")),
    ("ssh_host", Rule::To("ssh.host")),
    ("ssh_port", Rule::To("ssh.port")),
    ("ssh_timeout", Rule::To("ssh.timeout")),
    ("ssh_interface", Rule::To("ssh.interface")),
    (
        "temporary_security_group_source_cidrs",
        Rule::To("ssh.allowed_cidrs"),
    ),
    ("ssh_keypair_name", Rule::To("ssh.key_pair_name")),
    ("ssh_private_key_file", Rule::FileOf("ssh.private_key")),
    ("ssh_bastion_host", Rule::To("ssh.bastion.host")),
    ("ssh_bastion_port", Rule::To("ssh.bastion.port")),
    ("ssh_bastion_username", Rule::To("ssh.bastion.username")),
    (
        "ssh_bastion_private_key_file",
        Rule::FileOf("ssh.bastion.private_key"),
    ),
    ("custom_endpoint_ec2", Rule::Provider("endpoints.ec2")),
];

/// Inside amazon-ebs's `assume_role` (mapped to the provider's block of that name).
pub const ASSUME_ROLE: &[(&str, Rule)] =
    &[("duration_seconds", Rule::Seconds("assume_role.duration"))];

/// `shell` provisioner options.
pub const SHELL: &[(&str, Rule)] = &[
    ("environment_vars", Rule::EnvList("environment")),
    ("env", Rule::To("environment")),
];

/// Options Packer reads that change nothing in the image, dropped silently.
pub const SILENT: &[&str] = &["communicator"];

pub fn lookup(table: &[(&str, Rule)], key: &str) -> Option<Rule> {
    table.iter().find(|(k, _)| *k == key).map(|(_, r)| *r)
}
