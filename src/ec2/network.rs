//! Temporary key pairs and security groups, and the VPC facts they need.

use super::tags::spec;
use super::{Ec2, Ec2Error, api_err, gone_is_ok};
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ResourceType};
use std::collections::BTreeMap;

impl Ec2 {
    pub async fn import_key_pair(
        &self,
        name: &str,
        public_key_openssh: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), Ec2Error> {
        self.client
            .import_key_pair()
            .key_name(name)
            .public_key_material(aws_smithy_types::Blob::new(public_key_openssh.as_bytes()))
            .tag_specifications(spec(ResourceType::KeyPair, tags))
            .send()
            .await
            .map_err(api_err("ImportKeyPair"))?;
        Ok(())
    }

    /// Deletes a key pair; already gone is success (EC2 itself says so).
    pub async fn delete_key_pair(&self, name: &str) -> Result<(), Ec2Error> {
        gone_is_ok(
            self.client
                .delete_key_pair()
                .key_name(name)
                .send()
                .await
                .map_err(api_err("DeleteKeyPair")),
        )
    }

    fn vpc_key(&self, subnet_id: Option<&str>) -> String {
        format!(
            "{}|{}|{}|vpc of {}",
            self.region,
            self.endpoint.as_deref().unwrap_or(""),
            self.profile.as_deref().unwrap_or(""),
            subnet_id.unwrap_or("default")
        )
    }

    /// The VPC a subnet lives in, or the default VPC; with its CIDR. Asked of
    /// EC2 once a day; `forget_vpc` when EC2 says it is gone.
    pub async fn vpc_for(&self, subnet_id: Option<&str>) -> Result<(String, String), Ec2Error> {
        let key = self.vpc_key(subnet_id);
        if let Some([vpc, cidr]) = self.facts.get(&key).await.as_deref() {
            return Ok((vpc.clone(), cidr.clone()));
        }
        let (vpc, cidr) = self.ask_vpc_for(subnet_id).await?;
        self.facts
            .put(&key, Some(vec![vpc.clone(), cidr.clone()]))
            .await;
        Ok((vpc, cidr))
    }

    pub async fn forget_vpc(&self, subnet_id: Option<&str>) {
        self.facts.put(&self.vpc_key(subnet_id), None).await;
    }

    async fn ask_vpc_for(&self, subnet_id: Option<&str>) -> Result<(String, String), Ec2Error> {
        let vpc_id = match subnet_id {
            Some(s) => {
                let out = self
                    .client
                    .describe_subnets()
                    .subnet_ids(s)
                    .send()
                    .await
                    .map_err(api_err("DescribeSubnets"))?;
                out.subnets()
                    .first()
                    .and_then(|s| s.vpc_id())
                    .map(str::to_string)
            }
            None => None,
        };
        let mut req = self.client.describe_vpcs();
        req = match &vpc_id {
            Some(v) => req.vpc_ids(v),
            None => req.filters(Filter::builder().name("is-default").values("true").build()),
        };
        let out = req.send().await.map_err(api_err("DescribeVpcs"))?;
        let vpc = out.vpcs().first().ok_or_else(|| Ec2Error {
            action: "DescribeVpcs",
            code: None,
            message: match subnet_id {
                Some(s) => format!("no VPC found for subnet {s}"),
                None => "this region has no default VPC; set subnet_id".into(),
            },
        })?;
        Ok((
            vpc.vpc_id().unwrap_or_default().to_string(),
            vpc.cidr_block().unwrap_or_default().to_string(),
        ))
    }

    /// Creates an empty group; [`Ec2::allow_ssh`] opens the port once its id is recorded.
    pub async fn create_security_group(
        &self,
        name: &str,
        vpc_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, Ec2Error> {
        let out = self
            .client
            .create_security_group()
            .group_name(name)
            .description("Temporary SSH access for a golden_ami build")
            .vpc_id(vpc_id)
            .tag_specifications(spec(ResourceType::SecurityGroup, tags))
            .send()
            .await
            .map_err(api_err("CreateSecurityGroup"))?;
        out.group_id().map(str::to_string).ok_or_else(|| Ec2Error {
            action: "CreateSecurityGroup",
            code: None,
            message: "EC2 returned no group id".into(),
        })
    }

    /// The id of the group named `name` in `vpc_id`, if any.
    pub async fn security_group_id(
        &self,
        name: &str,
        vpc_id: &str,
    ) -> Result<Option<String>, Ec2Error> {
        let out = self
            .client
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(name).build())
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .send()
            .await
            .map_err(api_err("DescribeSecurityGroups"))?;
        Ok(out
            .security_groups()
            .first()
            .and_then(|g| g.group_id())
            .map(str::to_string))
    }

    /// Lets SSH in from `cidrs` only.
    pub async fn allow_ssh(
        &self,
        group_id: &str,
        port: u16,
        cidrs: &[String],
    ) -> Result<(), Ec2Error> {
        let ranges = cidrs
            .iter()
            .map(|c| IpRange::builder().cidr_ip(c).build())
            .collect();
        self.client
            .authorize_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(port as i32)
                    .to_port(port as i32)
                    .set_ip_ranges(Some(ranges))
                    .build(),
            )
            .send()
            .await
            .map_err(api_err("AuthorizeSecurityGroupIngress"))?;
        Ok(())
    }

    /// Deletes a group; already gone is success.
    pub async fn delete_security_group(&self, id: &str) -> Result<(), Ec2Error> {
        gone_is_ok(
            self.client
                .delete_security_group()
                .group_id(id)
                .send()
                .await
                .map_err(api_err("DeleteSecurityGroup")),
        )
    }
}
