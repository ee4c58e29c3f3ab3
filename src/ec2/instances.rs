//! The build instance: launch, look, stop, terminate.

use super::tags::spec;
use super::{Ec2, Ec2Error, api_err, gone_is_ok};
use aws_sdk_ec2::types::{
    HttpTokensState, InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceType,
    ResourceType, ShutdownBehavior,
};
use std::collections::BTreeMap;

/// What the bake needs to launch the build instance.
#[derive(Debug, Clone, Default)]
pub struct LaunchSpec {
    pub image_id: String,
    pub instance_type: String,
    pub key_name: String,
    pub security_group_ids: Vec<String>,
    pub subnet_id: Option<String>,
    pub iam_instance_profile: Option<String>,
    pub user_data: Option<String>,
    pub associate_public_ip: Option<bool>,
    pub instance_tags: BTreeMap<String, String>,
    pub volume_tags: BTreeMap<String, String>,
    /// Idempotency token: a retried launch never starts a second instance.
    pub client_token: String,
    /// IMDS: `required` tokens (IMDSv2) unless told otherwise.
    pub http_tokens: String,
    pub http_endpoint: String,
    pub http_put_response_hop_limit: Option<i32>,
}

/// An instance as the bake sees it.
#[derive(Debug, Clone, Default)]
pub struct InstanceInfo {
    pub id: String,
    pub state: String,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub public_dns: Option<String>,
    pub private_dns: Option<String>,
}

impl Ec2 {
    pub async fn run_instance(&self, s: &LaunchSpec) -> Result<String, Ec2Error> {
        use base64::Engine;
        let mut req = self
            .client
            .run_instances()
            .image_id(&s.image_id)
            .instance_type(InstanceType::from(s.instance_type.as_str()))
            .key_name(&s.key_name)
            .min_count(1)
            .max_count(1)
            .client_token(&s.client_token)
            // An abandoned build instance that shuts itself down is gone, not stopped.
            .instance_initiated_shutdown_behavior(ShutdownBehavior::Terminate)
            .metadata_options(
                InstanceMetadataOptionsRequest::builder()
                    .http_tokens(HttpTokensState::from(s.http_tokens.as_str()))
                    .http_endpoint(InstanceMetadataEndpointState::from(
                        s.http_endpoint.as_str(),
                    ))
                    .set_http_put_response_hop_limit(s.http_put_response_hop_limit)
                    .build(),
            )
            .tag_specifications(spec(ResourceType::Instance, &s.instance_tags))
            .tag_specifications(spec(ResourceType::Volume, &s.volume_tags));
        if let Some(ud) = &s.user_data {
            req = req.user_data(base64::engine::general_purpose::STANDARD.encode(ud));
        }
        if let Some(p) = &s.iam_instance_profile {
            req = req.iam_instance_profile(
                aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                    .name(p)
                    .build(),
            );
        }
        req = match (&s.subnet_id, s.associate_public_ip) {
            (subnet, Some(public)) => req.network_interfaces(
                aws_sdk_ec2::types::InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .associate_public_ip_address(public)
                    .set_subnet_id(subnet.clone())
                    .set_groups(Some(s.security_group_ids.clone()))
                    .build(),
            ),
            (subnet, None) => req
                .set_subnet_id(subnet.clone())
                .set_security_group_ids(Some(s.security_group_ids.clone())),
        };
        let out = req.send().await.map_err(api_err("RunInstances"))?;
        out.instances()
            .first()
            .and_then(|i| i.instance_id())
            .map(str::to_string)
            .ok_or_else(|| Ec2Error {
                action: "RunInstances",
                code: None,
                message: "EC2 returned no instance".into(),
            })
    }

    /// The instance, or None when EC2 does not (yet, or any more) know it.
    pub async fn describe_instance(&self, id: &str) -> Result<Option<InstanceInfo>, Ec2Error> {
        let r = self
            .client
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(api_err("DescribeInstances"));
        let out = match r {
            Ok(o) => o,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .map(|i| InstanceInfo {
                id: i.instance_id().unwrap_or_default().to_string(),
                state: i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default(),
                public_ip: i.public_ip_address().map(str::to_string),
                private_ip: i.private_ip_address().map(str::to_string),
                public_dns: i
                    .public_dns_name()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                private_dns: i
                    .private_dns_name()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            }))
    }

    /// The instance's console output, decoded; None before it has any.
    pub async fn console_output(&self, id: &str) -> Result<Option<String>, Ec2Error> {
        use base64::Engine;
        let out = self
            .client
            .get_console_output()
            .instance_id(id)
            .send()
            .await
            .map_err(api_err("GetConsoleOutput"))?;
        Ok(out
            .output()
            .and_then(|o| {
                base64::engine::general_purpose::STANDARD
                    .decode(o.trim())
                    .ok()
            })
            .map(|b| String::from_utf8_lossy(&b).to_string()))
    }

    pub async fn stop_instance(&self, id: &str) -> Result<(), Ec2Error> {
        self.client
            .stop_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(api_err("StopInstances"))?;
        Ok(())
    }

    /// Terminates; already gone is success.
    pub async fn terminate_instance(&self, id: &str) -> Result<(), Ec2Error> {
        gone_is_ok(
            self.client
                .terminate_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(api_err("TerminateInstances")),
        )
    }
}
