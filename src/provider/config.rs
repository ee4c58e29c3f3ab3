//! The provider block: region, profile, endpoints, retries.

use super::Configured;
use crate::ec2::{AwsSettings, Ec2};
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::schema::{Attr, Block, Nesting, Schema, Ty};
use crate::protocol::value::Value;

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new("Bakes AWS golden images (AMIs) from Terraform, the way Packer's `amazon-ebs` builder does. Credentials come from the standard AWS chain: environment, shared config and credentials files, SSO, web identity, container and instance metadata.")
            .attr(Attr::optional("region", Ty::String, "AWS region to bake in. Defaults to the region of the AWS chain (`AWS_REGION`, the profile)."))
            .attr(Attr::optional("profile", Ty::String, "Named profile from the shared AWS config and credentials files."))
            .attr(Attr::optional("public_ip_url", Ty::String, "Where to learn this machine's public IPv4 address when the build instance is reached on a public address: the temporary security group admits SSH from that address only. Default `https://checkip.amazonaws.com/`."))
            .attr(Attr::optional("max_retries", Ty::Number, "Attempts per EC2 call on throttling and server errors, with adaptive backoff and jitter. Default 25."))
            .block(
                "endpoints",
                Nesting::Single,
                Block::new("Custom service endpoints: a local emulator, LocalStack or a VPC endpoint.")
                    .attr(Attr::optional("ec2", Ty::String, "EC2 endpoint URL, e.g. `http://127.0.0.1:5000`.")),
            ),
    }
}

pub struct ProviderConfig {
    settings: AwsSettings,
    public_ip_url: String,
}

impl ProviderConfig {
    pub fn from_value(v: &Value) -> (ProviderConfig, Diagnostics) {
        let mut diags = Diagnostics::default();
        let mut settings = AwsSettings {
            region: v.get("region").as_str().map(str::to_string),
            profile: v.get("profile").as_str().map(str::to_string),
            ec2_endpoint: v.get("endpoints").get("ec2").as_str().map(str::to_string),
            max_retries: 25,
        };
        if let Some(n) = v.get("max_retries").as_f64() {
            if !(1.0..=100.0).contains(&n) || n.fract() != 0.0 {
                diags.push(
                    Diagnostic::error(
                        "Invalid max_retries",
                        "max_retries must be a whole number from 1 to 100.",
                    )
                    .at(AttrPath::root("max_retries")),
                );
            } else {
                settings.max_retries = n as u32;
            }
        }
        if let Some(url) = &settings.ec2_endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            diags.push(
                Diagnostic::error(
                    "Invalid endpoint",
                    format!("endpoints.ec2 must be an http:// or https:// URL, got {url:?}."),
                )
                .at(AttrPath::root("endpoints").attr("ec2")),
            );
        }
        let public_ip_url = v
            .get("public_ip_url")
            .as_str()
            .unwrap_or(crate::public_ip::DEFAULT_URL)
            .to_string();
        if !(public_ip_url.starts_with("http://") || public_ip_url.starts_with("https://")) {
            diags.push(
                Diagnostic::error(
                    "Invalid public_ip_url",
                    format!("{public_ip_url:?} is not an http:// or https:// URL."),
                )
                .at(AttrPath::root("public_ip_url")),
            );
        }
        (
            ProviderConfig {
                settings,
                public_ip_url,
            },
            diags,
        )
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
