//! The provider block: region, profile, endpoints, retries.

use super::context::Configured;
use super::schema::decode::decode;
use super::schema::{BlockDef, Schema};
use crate::define_block;
use crate::ec2::{AwsSettings, Ec2};
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: ProviderBlock::block(),
    }
}

define_block! {
    pub struct ProviderBlock: "Bakes AWS golden images (AMIs) from Terraform, the way Packer's `amazon-ebs` builder does. Credentials come from the standard AWS chain: environment, shared config and credentials files, SSO, web identity, container and instance metadata." {
        pub region: Option<String> => optional("AWS region to bake in. Defaults to the region of the AWS chain (`AWS_REGION`, the profile)."),
        pub profile: Option<String> => optional("Named profile from the shared AWS config and credentials files."),
        pub public_ip_url: String => optional("Where to learn this machine's public IPv4 address when the build instance is reached on a public address: the temporary security group admits SSH from that address only.")
            .default(crate::public_ip::DEFAULT_URL)
            .check(Check::HttpUrl),
        pub max_retries: u32 => optional("Attempts per EC2 call on throttling and server errors, with adaptive backoff and jitter.")
            .default(25)
            .check(Check::Whole { min: 1, max: 100, what: "a whole number" }),
        pub sweep_expired: bool => optional("Remove expired temporary resources at each run: whenever this provider is configured (plan, apply, destroy, import of any configuration, from any machine), it removes, in this account and region, the instances, volumes, key pairs, security groups, unfinished images and snapshots whose `golden:expires-at` tag has passed and that carry `golden:build-id` too: what bakes that were killed left behind. A few EC2 calls per run, in the background, each removal logged; `false` turns it off.")
            .default(true),
        pub endpoints: Endpoints => block().defaults_when_absent(),
    }
}

define_block! {
    pub struct Endpoints: "Custom service endpoints: a local emulator, LocalStack or a VPC endpoint." {
        pub ec2: Option<String> => optional("EC2 endpoint URL, e.g. `http://127.0.0.1:5000`.").check(Check::HttpUrl),
    }
}

pub struct ProviderConfig {
    settings: AwsSettings,
    public_ip_url: String,
    pub sweep_expired: bool,
}

impl ProviderConfig {
    /// The settings, or the diagnostics that say why there are none. Unknown
    /// values (settings that depend on resources not yet created) are
    /// checked once known.
    pub fn from_value(v: &Value) -> (Option<ProviderConfig>, Diagnostics) {
        let mut diags = Diagnostics::default();
        ProviderBlock::block().check(v, None, &mut diags);
        if diags.has_errors() || !v.is_wholly_known() {
            return (None, diags);
        }
        match decode::<ProviderBlock>(v) {
            Ok(b) => (
                Some(ProviderConfig {
                    settings: AwsSettings {
                        region: b.region,
                        profile: b.profile,
                        ec2_endpoint: b.endpoints.ec2,
                        max_retries: b.max_retries,
                    },
                    public_ip_url: b.public_ip_url,
                    sweep_expired: b.sweep_expired,
                }),
                diags,
            ),
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Internal error in the golden provider",
                    e.to_string(),
                ));
                (None, diags)
            }
        }
    }

    pub async fn connect(&self) -> Result<Configured, Diagnostic> {
        let ec2 = Ec2::connect(&self.settings)
            .await
            .remembering(crate::bake::leftovers::memory_dir());
        if ec2.region.is_empty() {
            return Err(Diagnostic::error(
                "No AWS region",
                "Set `region` in the provider block, or AWS_REGION, or a region in the AWS profile.",
            )
            .at(AttrPath::root("region")));
        }
        Ok(Configured {
            ec2,
            public_ip_url: self.public_ip_url.clone(),
        })
    }
}
