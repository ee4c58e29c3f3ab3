//! Temporary key pairs and security groups, and the VPC facts they need.

use super::Ec2;
use super::error::{Ec2Error, gone_is_ok};
use super::model;
use std::collections::BTreeMap;

impl Ec2 {
    pub async fn import_key_pair(
        &self,
        name: &str,
        public_key_openssh: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), Ec2Error> {
        self.api
            .import_key_pair(name, public_key_openssh, tags)
            .await
    }

    /// Deletes a key pair; already gone is success (EC2 itself says so).
    pub async fn delete_key_pair(&self, name: &str) -> Result<(), Ec2Error> {
        gone_is_ok(self.api.delete_key_pair(name).await)
    }

    pub async fn key_pair_exists(&self, name: &str) -> Result<bool, Ec2Error> {
        match self.api.describe_key_pairs(name).await {
            Ok(found) => Ok(!found.is_empty()),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
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
            Some(s) => self.api.subnet_vpc(s).await?,
            None => None,
        };
        let vpc = self
            .api
            .describe_vpc(vpc_id.as_deref())
            .await?
            .ok_or_else(|| Ec2Error {
                action: "DescribeVpcs",
                code: None,
                message: match subnet_id {
                    Some(s) => format!("no VPC found for subnet {s}"),
                    None => "this region has no default VPC; set subnet_id".into(),
                },
            })?;
        Ok((vpc.id, vpc.cidr))
    }

    /// Creates an empty group; [`Ec2::allow_ssh`] opens the port once its id is recorded.
    pub async fn create_security_group(
        &self,
        name: &str,
        vpc_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, Ec2Error> {
        self.api.create_security_group(name, vpc_id, tags).await
    }

    /// The id of the group named `name` in `vpc_id`, if any.
    pub async fn security_group_id(
        &self,
        name: &str,
        vpc_id: &str,
    ) -> Result<Option<String>, Ec2Error> {
        let found = self
            .api
            .describe_security_groups(&model::filters([("group-name", name), ("vpc-id", vpc_id)]))
            .await?;
        Ok(found.into_iter().next().map(|g| g.id))
    }

    /// Security groups carrying the tag.
    pub async fn groups_tagged(&self, key: &str, value: &str) -> Result<Vec<String>, Ec2Error> {
        let found = self
            .api
            .describe_security_groups(&model::tag_filter(key, value))
            .await?;
        Ok(found
            .into_iter()
            .filter(|g| model::tagged_exactly(&g.tags, key, value))
            .map(|g| g.id)
            .collect())
    }

    /// Lets SSH in from `cidrs` only.
    pub async fn allow_ssh(
        &self,
        group_id: &str,
        port: u16,
        cidrs: &[String],
    ) -> Result<(), Ec2Error> {
        self.api.authorize_ingress(group_id, port, cidrs).await
    }

    /// Deletes a group; already gone is success.
    pub async fn delete_security_group(&self, id: &str) -> Result<(), Ec2Error> {
        gone_is_ok(self.api.delete_security_group(id).await)
    }
}
