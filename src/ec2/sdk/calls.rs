//! Each [`Ec2Api`] method as one aws-sdk-ec2 request.

use super::convert::{self, spec};
use super::throttle::retried;
use super::{SdkEc2, missing};
use crate::ec2::api::{Ec2Api, Tags};
use crate::ec2::error::Ec2Error;
use crate::ec2::model::{
    CopyRequest, Filters, GroupInfo, ImageInfo, InstanceInfo, KeyPairInfo, LaunchSpec,
    SnapshotInfo, SpotRequestInfo, SubnetInfo, TagInfo, VolumeInfo, VpcInfo,
};
use crate::ec2::volumes::BlockDevice;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, AttributeValue, Filter, HttpTokensState, ImageAttributeName,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest,
    InstanceNetworkInterfaceSpecification, InstanceType, IpPermission, IpRange, LaunchPermission,
    LaunchPermissionModifications, OperationType, PermissionGroup, ResourceType, ShutdownBehavior,
    SnapshotAttributeName, Tag,
};

#[async_trait::async_trait]
impl Ec2Api for SdkEc2 {
    async fn describe_images(
        &self,
        owners: &[String],
        filters: &Filters,
    ) -> Result<Vec<ImageInfo>, Ec2Error> {
        let out = retried(
            "DescribeImages",
            self.client
                .describe_images()
                .set_filters(Some(convert::filters(filters)))
                .set_owners((!owners.is_empty()).then(|| owners.to_vec())),
            |r| r.send(),
        )
        .await?;
        Ok(out.images().iter().map(convert::image).collect())
    }

    async fn describe_images_by_id(&self, ids: &[String]) -> Result<Vec<ImageInfo>, Ec2Error> {
        let out = retried(
            "DescribeImages",
            self.client
                .describe_images()
                .set_image_ids(Some(ids.to_vec())),
            |r| r.send(),
        )
        .await?;
        Ok(out.images().iter().map(convert::image).collect())
    }

    async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: Option<&str>,
        tags: &Tags,
        snapshot_tags: &Tags,
        devices: &[BlockDevice],
    ) -> Result<String, Ec2Error> {
        let mut req = self
            .client
            .create_image()
            .instance_id(instance_id)
            .name(name)
            .set_description(description.map(str::to_string))
            .set_block_device_mappings(
                (!devices.is_empty())
                    .then(|| devices.iter().map(super::devices::mapping).collect()),
            )
            .tag_specifications(spec(ResourceType::Image, tags));
        if !snapshot_tags.is_empty() {
            req = req.tag_specifications(spec(ResourceType::Snapshot, snapshot_tags));
        }
        let out = retried("CreateImage", req, |r| r.send()).await?;
        out.image_id()
            .map(str::to_string)
            .ok_or_else(|| missing("CreateImage", "image id"))
    }

    async fn copy_image(&self, r: &CopyRequest) -> Result<String, Ec2Error> {
        let mut req = self
            .client
            .copy_image()
            .source_image_id(&r.source_image_id)
            .source_region(&r.source_region)
            .name(&r.name)
            .set_description(r.description.clone())
            .set_encrypted(r.encrypted.then_some(true))
            .set_kms_key_id(r.kms_key_id.clone())
            .set_snapshot_copy_completion_duration_minutes(r.completion_minutes)
            .tag_specifications(spec(ResourceType::Image, &r.tags));
        if !r.snapshot_tags.is_empty() {
            req = req.tag_specifications(spec(ResourceType::Snapshot, &r.snapshot_tags));
        }
        let out = retried("CopyImage", req, |r| r.send()).await?;
        out.image_id()
            .map(str::to_string)
            .ok_or_else(|| missing("CopyImage", "image id"))
    }

    async fn modify_image_description(&self, id: &str, description: &str) -> Result<(), Ec2Error> {
        retried(
            "ModifyImageAttribute",
            self.client
                .modify_image_attribute()
                .image_id(id)
                .description(AttributeValue::builder().value(description).build()),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn modify_launch_permissions(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Ec2Error> {
        // A principal is `all`, an account id, or an Organizations ARN.
        let perm = |u: &String| {
            let b = LaunchPermission::builder();
            if u == "all" {
                b.group(PermissionGroup::All).build()
            } else if u.contains(":organization/") {
                b.organization_arn(u).build()
            } else if u.contains(":ou/") {
                b.organizational_unit_arn(u).build()
            } else {
                b.user_id(u).build()
            }
        };
        let mods = LaunchPermissionModifications::builder()
            .set_add((!add.is_empty()).then(|| add.iter().map(perm).collect()))
            .set_remove((!remove.is_empty()).then(|| remove.iter().map(perm).collect()))
            .build();
        retried(
            "ModifyImageAttribute",
            self.client
                .modify_image_attribute()
                .image_id(id)
                .launch_permission(mods),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn describe_launch_permissions(&self, id: &str) -> Result<Vec<String>, Ec2Error> {
        let out = retried(
            "DescribeImageAttribute",
            self.client
                .describe_image_attribute()
                .image_id(id)
                .attribute(ImageAttributeName::LaunchPermission),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .launch_permissions()
            .iter()
            .filter_map(|p| {
                p.user_id()
                    .or(p.organization_arn())
                    .or(p.organizational_unit_arn())
                    .map(str::to_string)
                    .or_else(|| p.group().map(|g| g.as_str().to_string()))
            })
            .collect())
    }

    async fn modify_snapshot_permissions(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Ec2Error> {
        // The request's flat form (OperationType, UserId.N, UserGroup.N):
        // one call per operation.
        for (op, who) in [(OperationType::Add, add), (OperationType::Remove, remove)] {
            if who.is_empty() {
                continue;
            }
            let users: Vec<String> = who.iter().filter(|u| *u != "all").cloned().collect();
            let public = who.iter().any(|u| u == "all");
            retried(
                "ModifySnapshotAttribute",
                self.client
                    .modify_snapshot_attribute()
                    .snapshot_id(id)
                    .attribute(SnapshotAttributeName::CreateVolumePermission)
                    .operation_type(op)
                    .set_user_ids((!users.is_empty()).then_some(users))
                    .set_group_names(public.then(|| vec!["all".to_string()])),
                |r| r.send(),
            )
            .await?;
        }
        Ok(())
    }

    async fn describe_snapshot_permissions(&self, id: &str) -> Result<Vec<String>, Ec2Error> {
        let out = retried(
            "DescribeSnapshotAttribute",
            self.client
                .describe_snapshot_attribute()
                .snapshot_id(id)
                .attribute(SnapshotAttributeName::CreateVolumePermission),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .create_volume_permissions()
            .iter()
            .filter_map(|p| {
                p.user_id()
                    .map(str::to_string)
                    .or_else(|| p.group().map(|g| g.as_str().to_string()))
            })
            .collect())
    }

    async fn enable_image_deprecation(&self, id: &str, at: &str) -> Result<(), Ec2Error> {
        let when =
            aws_smithy_types::DateTime::from_str(at, aws_smithy_types::date_time::Format::DateTime)
                .map_err(|e| Ec2Error {
                    action: "EnableImageDeprecation",
                    code: None,
                    message: format!("{at:?}: {e}"),
                })?;
        retried(
            "EnableImageDeprecation",
            self.client
                .enable_image_deprecation()
                .image_id(id)
                .deprecate_at(when),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn disable_image_deprecation(&self, id: &str) -> Result<(), Ec2Error> {
        retried(
            "DisableImageDeprecation",
            self.client.disable_image_deprecation().image_id(id),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn enable_image_deregistration_protection(
        &self,
        id: &str,
        with_cooldown: bool,
    ) -> Result<(), Ec2Error> {
        retried(
            "EnableImageDeregistrationProtection",
            self.client
                .enable_image_deregistration_protection()
                .image_id(id)
                .with_cooldown(with_cooldown),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn disable_image_deregistration_protection(&self, id: &str) -> Result<(), Ec2Error> {
        retried(
            "DisableImageDeregistrationProtection",
            self.client
                .disable_image_deregistration_protection()
                .image_id(id),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn deregister_image(&self, id: &str) -> Result<(), Ec2Error> {
        retried(
            "DeregisterImage",
            self.client.deregister_image().image_id(id),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn delete_snapshot(&self, id: &str) -> Result<(), Ec2Error> {
        retried(
            "DeleteSnapshot",
            self.client.delete_snapshot().snapshot_id(id),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn describe_snapshots(&self, ids: &[String]) -> Result<Vec<SnapshotInfo>, Ec2Error> {
        let out = retried(
            "DescribeSnapshots",
            self.client
                .describe_snapshots()
                .set_snapshot_ids(Some(ids.to_vec())),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .snapshots()
            .iter()
            .filter_map(|s| {
                Some(SnapshotInfo {
                    id: s.snapshot_id()?.to_string(),
                    tags: convert::from_sdk(s.tags()),
                })
            })
            .collect())
    }

    async fn describe_own_snapshots(
        &self,
        filters: &Filters,
    ) -> Result<Vec<SnapshotInfo>, Ec2Error> {
        let out = retried(
            "DescribeSnapshots",
            self.client
                .describe_snapshots()
                .owner_ids("self")
                .set_filters(Some(convert::filters(filters))),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .snapshots()
            .iter()
            .filter_map(|s| {
                Some(SnapshotInfo {
                    id: s.snapshot_id()?.to_string(),
                    tags: convert::from_sdk(s.tags()),
                })
            })
            .collect())
    }

    async fn run_instance(&self, s: &LaunchSpec) -> Result<String, Ec2Error> {
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
        req = super::launch::apply(req, &s.options, &s.block_devices);
        if let Some(market) = &s.spot {
            req = super::launch::spot(req, market);
        }
        req = match (&s.subnet_id, s.associate_public_ip) {
            (subnet, Some(public)) => req.network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
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
        let out = retried("RunInstances", req, |r| r.send()).await?;
        out.instances()
            .first()
            .and_then(|i| i.instance_id())
            .map(str::to_string)
            .ok_or_else(|| missing("RunInstances", "instance"))
    }

    async fn describe_instance(&self, id: &str) -> Result<Option<InstanceInfo>, Ec2Error> {
        let out = retried(
            "DescribeInstances",
            self.client.describe_instances().instance_ids(id),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .map(convert::instance))
    }

    async fn describe_instances(&self, filters: &Filters) -> Result<Vec<InstanceInfo>, Ec2Error> {
        let out = retried(
            "DescribeInstances",
            self.client
                .describe_instances()
                .set_filters(Some(convert::filters(filters))),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(convert::instance)
            .collect())
    }

    async fn describe_spot_requests(
        &self,
        filters: &Filters,
    ) -> Result<Vec<SpotRequestInfo>, Ec2Error> {
        let out = retried(
            "DescribeSpotInstanceRequests",
            self.client
                .describe_spot_instance_requests()
                .set_filters(Some(convert::filters(filters))),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .spot_instance_requests()
            .iter()
            .map(|r| SpotRequestInfo {
                id: r.spot_instance_request_id().unwrap_or_default().to_string(),
                state: r
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                tags: convert::from_sdk(r.tags()),
            })
            .collect())
    }

    async fn describe_spot_prices(
        &self,
        types: &[String],
        zone: Option<&str>,
    ) -> Result<Vec<(String, String)>, Ec2Error> {
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
        let out = retried(
            "DescribeSpotPriceHistory",
            self.client
                .describe_spot_price_history()
                .set_instance_types(Some(
                    types
                        .iter()
                        .map(|t| InstanceType::from(t.as_str()))
                        .collect(),
                ))
                .product_descriptions("Linux/UNIX")
                .product_descriptions("Linux/UNIX (Amazon VPC)")
                .set_availability_zone(zone.map(str::to_string))
                .start_time(now),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .spot_price_history()
            .iter()
            .filter_map(|p| {
                Some((
                    p.instance_type()?.as_str().to_string(),
                    p.spot_price()?.to_string(),
                ))
            })
            .collect())
    }

    async fn cancel_spot_request(&self, id: &str) -> Result<(), Ec2Error> {
        retried(
            "CancelSpotInstanceRequests",
            self.client
                .cancel_spot_instance_requests()
                .spot_instance_request_ids(id),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn console_output(&self, id: &str, latest: bool) -> Result<Option<String>, Ec2Error> {
        use base64::Engine;
        let out = retried(
            "GetConsoleOutput",
            self.client
                .get_console_output()
                .instance_id(id)
                .set_latest(latest.then_some(true)),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .output()
            .and_then(|o| {
                base64::engine::general_purpose::STANDARD
                    .decode(o.trim())
                    .ok()
            })
            .map(|b| String::from_utf8_lossy(&b).to_string()))
    }

    async fn stop_instance(&self, id: &str) -> Result<(), Ec2Error> {
        retried(
            "StopInstances",
            self.client.stop_instances().instance_ids(id),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn modify_instance_ena_support(&self, id: &str, enabled: bool) -> Result<(), Ec2Error> {
        retried(
            "ModifyInstanceAttribute",
            self.client
                .modify_instance_attribute()
                .instance_id(id)
                .ena_support(AttributeBooleanValue::builder().value(enabled).build()),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn modify_instance_sriov_net_support(
        &self,
        id: &str,
        value: &str,
    ) -> Result<(), Ec2Error> {
        retried(
            "ModifyInstanceAttribute",
            self.client
                .modify_instance_attribute()
                .instance_id(id)
                .sriov_net_support(AttributeValue::builder().value(value).build()),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn terminate_instance(&self, id: &str) -> Result<(), Ec2Error> {
        retried(
            "TerminateInstances",
            self.client.terminate_instances().instance_ids(id),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn describe_volumes(&self, filters: &Filters) -> Result<Vec<VolumeInfo>, Ec2Error> {
        let out = retried(
            "DescribeVolumes",
            self.client
                .describe_volumes()
                .set_filters(Some(convert::filters(filters))),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .volumes()
            .iter()
            .filter_map(|v| {
                Some(VolumeInfo {
                    id: v.volume_id()?.to_string(),
                    state: v
                        .state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    tags: convert::from_sdk(v.tags()),
                })
            })
            .collect())
    }

    async fn delete_volume(&self, id: &str) -> Result<(), Ec2Error> {
        retried(
            "DeleteVolume",
            self.client.delete_volume().volume_id(id),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn import_key_pair(
        &self,
        name: &str,
        public_key_openssh: &str,
        tags: &Tags,
    ) -> Result<(), Ec2Error> {
        retried(
            "ImportKeyPair",
            self.client
                .import_key_pair()
                .key_name(name)
                .public_key_material(aws_smithy_types::Blob::new(public_key_openssh.as_bytes()))
                .tag_specifications(spec(ResourceType::KeyPair, tags)),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn describe_key_pairs(&self, name: &str) -> Result<Vec<String>, Ec2Error> {
        let out = retried(
            "DescribeKeyPairs",
            self.client.describe_key_pairs().key_names(name),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .key_pairs()
            .iter()
            .filter_map(|k| k.key_name())
            .map(str::to_string)
            .collect())
    }

    async fn describe_key_pairs_by(&self, filters: &Filters) -> Result<Vec<KeyPairInfo>, Ec2Error> {
        let out = retried(
            "DescribeKeyPairs",
            self.client
                .describe_key_pairs()
                .set_filters(Some(convert::filters(filters))),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .key_pairs()
            .iter()
            .filter_map(|k| {
                Some(KeyPairInfo {
                    name: k.key_name()?.to_string(),
                    tags: convert::from_sdk(k.tags()),
                })
            })
            .collect())
    }

    async fn delete_key_pair(&self, name: &str) -> Result<(), Ec2Error> {
        retried(
            "DeleteKeyPair",
            self.client.delete_key_pair().key_name(name),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn create_security_group(
        &self,
        name: &str,
        vpc_id: &str,
        tags: &Tags,
    ) -> Result<String, Ec2Error> {
        let out = retried(
            "CreateSecurityGroup",
            self.client
                .create_security_group()
                .group_name(name)
                .description("Temporary SSH access for a golden_ami build")
                .vpc_id(vpc_id)
                .tag_specifications(spec(ResourceType::SecurityGroup, tags)),
            |r| r.send(),
        )
        .await?;
        out.group_id()
            .map(str::to_string)
            .ok_or_else(|| missing("CreateSecurityGroup", "group id"))
    }

    async fn describe_security_groups(
        &self,
        filters: &Filters,
    ) -> Result<Vec<GroupInfo>, Ec2Error> {
        let out = retried(
            "DescribeSecurityGroups",
            self.client
                .describe_security_groups()
                .set_filters(Some(convert::filters(filters))),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .security_groups()
            .iter()
            .filter_map(|g| {
                Some(GroupInfo {
                    id: g.group_id()?.to_string(),
                    vpc_id: g.vpc_id().unwrap_or_default().to_string(),
                    tags: convert::from_sdk(g.tags()),
                })
            })
            .collect())
    }

    async fn authorize_ingress(
        &self,
        group_id: &str,
        port: u16,
        cidrs: &[String],
    ) -> Result<(), Ec2Error> {
        let ranges = cidrs
            .iter()
            .map(|c| IpRange::builder().cidr_ip(c).build())
            .collect();
        retried(
            "AuthorizeSecurityGroupIngress",
            self.client
                .authorize_security_group_ingress()
                .group_id(group_id)
                .ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(i32::from(port))
                        .to_port(i32::from(port))
                        .set_ip_ranges(Some(ranges))
                        .build(),
                ),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn delete_security_group(&self, id: &str) -> Result<(), Ec2Error> {
        retried(
            "DeleteSecurityGroup",
            self.client.delete_security_group().group_id(id),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn subnet_vpc(&self, subnet_id: &str) -> Result<Option<String>, Ec2Error> {
        let out = retried(
            "DescribeSubnets",
            self.client.describe_subnets().subnet_ids(subnet_id),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .subnets()
            .first()
            .and_then(|s| s.vpc_id())
            .map(str::to_string))
    }

    async fn describe_vpc(&self, vpc_id: Option<&str>) -> Result<Option<VpcInfo>, Ec2Error> {
        let req = self.client.describe_vpcs();
        let req = match vpc_id {
            Some(v) => req.vpc_ids(v),
            None => req.filters(Filter::builder().name("is-default").values("true").build()),
        };
        let out = retried("DescribeVpcs", req, |r| r.send()).await?;
        Ok(out.vpcs().first().map(|v| VpcInfo {
            id: v.vpc_id().unwrap_or_default().to_string(),
            cidr: v.cidr_block().unwrap_or_default().to_string(),
        }))
    }

    async fn describe_vpcs(&self, filters: &Filters) -> Result<Vec<VpcInfo>, Ec2Error> {
        let out = retried(
            "DescribeVpcs",
            self.client
                .describe_vpcs()
                .set_filters(Some(convert::filters(filters))),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .vpcs()
            .iter()
            .map(|v| VpcInfo {
                id: v.vpc_id().unwrap_or_default().to_string(),
                cidr: v.cidr_block().unwrap_or_default().to_string(),
            })
            .collect())
    }

    async fn describe_subnets(&self, filters: &Filters) -> Result<Vec<SubnetInfo>, Ec2Error> {
        let out = retried(
            "DescribeSubnets",
            self.client
                .describe_subnets()
                .set_filters(Some(convert::filters(filters))),
            |r| r.send(),
        )
        .await?;
        Ok(out
            .subnets()
            .iter()
            .map(|s| SubnetInfo {
                id: s.subnet_id().unwrap_or_default().to_string(),
                vpc_id: s.vpc_id().unwrap_or_default().to_string(),
                availability_zone: s.availability_zone().unwrap_or_default().to_string(),
                available_ips: s.available_ip_address_count().unwrap_or_default(),
            })
            .collect())
    }

    async fn modify_image_imds_support(&self, id: &str, value: &str) -> Result<(), Ec2Error> {
        retried(
            "ModifyImageAttribute",
            self.client
                .modify_image_attribute()
                .image_id(id)
                .imds_support(AttributeValue::builder().value(value).build()),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn create_tags(&self, ids: &[String], tags: &Tags) -> Result<(), Ec2Error> {
        retried(
            "CreateTags",
            self.client
                .create_tags()
                .set_resources(Some(ids.to_vec()))
                .set_tags(Some(convert::to_sdk(tags))),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn delete_tags(&self, ids: &[String], keys: &[String]) -> Result<(), Ec2Error> {
        let tags = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
        retried(
            "DeleteTags",
            self.client
                .delete_tags()
                .set_resources(Some(ids.to_vec()))
                .set_tags(Some(tags)),
            |r| r.send(),
        )
        .await?;
        Ok(())
    }

    async fn describe_tags_with_key(&self, key: &str) -> Result<Vec<TagInfo>, Ec2Error> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        // Each page is one call; a bound keeps a huge account from making
        // one run's sweep unbounded (what is beyond is the next run's).
        for _ in 0..10 {
            let page = retried(
                "DescribeTags",
                self.client
                    .describe_tags()
                    .filters(Filter::builder().name("key").values(key).build())
                    .max_results(1000)
                    .set_next_token(token.take()),
                |r| r.send(),
            )
            .await?;
            out.extend(page.tags().iter().filter_map(|t| {
                Some(TagInfo {
                    resource_type: t.resource_type()?.as_str().to_string(),
                    resource_id: t.resource_id()?.to_string(),
                    value: t.value().unwrap_or_default().to_string(),
                })
            }));
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }
}
