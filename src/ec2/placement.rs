//! Where the build instance runs and which security groups guard it: the
//! VPC, subnet and groups given by id or found by filters, as Packer's
//! `vpc_filter`, `subnet_filter` and `security_group_filter` find them. The
//! plan resolves them to fail early; the bake resolves them again.

use super::Ec2;
use super::error::Ec2Error;
use super::model::{Filters, Network, NetworkChoice, SubnetInfo, filters};

/// Why the configured network cannot be used; `attr` names the attribute
/// (a filter block's `filters`, or the id) the user has to change.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{attr}: {message}")]
    Choice { attr: &'static str, message: String },
    #[error(transparent)]
    Ec2(#[from] Ec2Error),
}

fn choice(attr: &'static str, message: impl Into<String>) -> NetworkError {
    NetworkError::Choice {
        attr,
        message: message.into(),
    }
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> String {
    items.iter().map(id).collect::<Vec<_>>().join(", ")
}

/// One subnet of a filter's matches: the one, the freest (`most_free`; the
/// lowest id among equals), or any (`random`).
pub fn pick_subnet(
    mut found: Vec<SubnetInfo>,
    most_free: bool,
    random: bool,
) -> Result<SubnetInfo, NetworkError> {
    found.sort_by(|a, b| a.id.cmp(&b.id));
    let n = found.len();
    match n {
        0 => Err(choice("subnet_filter", "matches no subnet")),
        1 => Ok(found.remove(0)),
        _ if most_free => {
            let best = found.iter().map(|s| s.available_ips).max().unwrap_or(0);
            let i = found
                .iter()
                .position(|s| s.available_ips == best)
                .unwrap_or(0);
            Ok(found.remove(i))
        }
        _ if random => Ok(found.remove(rand::random_range(0..n))),
        _ => Err(choice(
            "subnet_filter",
            format!(
                "matches {n} subnets ({}); narrow the filters, or set `most_free` or `random`",
                ids(&found, |s| &s.id)
            ),
        )),
    }
}

impl Ec2 {
    /// Resolves `c` against EC2: the VPC (id or the one filter match), the
    /// subnet (id, which must be in that VPC and zone, or the filter's pick
    /// within them), and the user's groups, which must be in the instance's
    /// VPC (the subnet's, or the default VPC without one).
    pub async fn choose_network(&self, c: &NetworkChoice) -> Result<Network, NetworkError> {
        let vpc = match (&c.vpc_id, &c.vpc_filter) {
            (Some(id), _) => {
                let found = self.api.describe_vpcs(&filters([("vpc-id", id)])).await?;
                if found.is_empty() {
                    return Err(choice("vpc_id", format!("{id} does not exist")));
                }
                Some(id.clone())
            }
            (None, Some(f)) => {
                let found = self.api.describe_vpcs(f).await?;
                match found.as_slice() {
                    [one] => Some(one.id.clone()),
                    [] => return Err(choice("vpc_filter", "matches no VPC")),
                    many => {
                        return Err(choice(
                            "vpc_filter",
                            format!(
                                "matches {} VPCs ({}); it must match exactly one",
                                many.len(),
                                ids(many, |v| &v.id)
                            ),
                        ));
                    }
                }
            }
            (None, None) => None,
        };
        let zone = c.availability_zone.as_deref();
        let subnet = match (&c.subnet_id, &c.subnet_filter) {
            (Some(id), _) => {
                let found = self
                    .api
                    .describe_subnets(&filters([("subnet-id", id)]))
                    .await?;
                let s = found
                    .into_iter()
                    .next()
                    .ok_or_else(|| choice("subnet_id", format!("{id} does not exist")))?;
                if let Some(v) = &vpc
                    && &s.vpc_id != v
                {
                    return Err(choice(
                        "subnet_id",
                        format!("{id} is in {}, not in {v}", s.vpc_id),
                    ));
                }
                if let Some(z) = zone
                    && s.availability_zone != z
                {
                    return Err(choice(
                        "availability_zone",
                        format!("subnet {id} is in {}, not in {z}", s.availability_zone),
                    ));
                }
                Some(s)
            }
            (None, Some(pick)) => {
                let mut f: Filters = pick.filters.clone();
                if let Some(v) = &vpc {
                    f.insert("vpc-id".into(), v.clone());
                }
                if let Some(z) = zone {
                    f.insert("availability-zone".into(), z.into());
                }
                let found = self.api.describe_subnets(&f).await?;
                Some(pick_subnet(found, pick.most_free, pick.random)?)
            }
            (None, None) => None,
        };
        let vpc = subnet.as_ref().map(|s| s.vpc_id.clone()).or(vpc);
        let groups = self.user_groups(c, vpc.as_deref()).await?;
        if let Some(s) = &subnet {
            tracing::info!(subnet = %s.id, vpc = %s.vpc_id, zone = %s.availability_zone, free = s.available_ips, "build subnet");
        }
        Ok(Network {
            subnet_id: subnet.map(|s| s.id),
            vpc_id: vpc,
            security_group_ids: groups,
        })
    }

    /// The user's groups, each checked to be in the instance's VPC (the
    /// default VPC when `vpc` is None).
    async fn user_groups(
        &self,
        c: &NetworkChoice,
        vpc: Option<&str>,
    ) -> Result<Vec<String>, NetworkError> {
        if !c.own_groups() {
            return Ok(vec![]);
        }
        let vpc = match vpc {
            Some(v) => v.to_string(),
            None => self.vpc_for(None).await?.0,
        };
        if let Some(f) = &c.security_group_filter {
            let mut f = f.clone();
            f.insert("vpc-id".into(), vpc.clone());
            let found = self.api.describe_security_groups(&f).await?;
            if found.is_empty() {
                return Err(choice(
                    "security_group_filter",
                    format!("matches no security group in {vpc}"),
                ));
            }
            return Ok(found.into_iter().map(|g| g.id).collect());
        }
        for id in &c.security_group_ids {
            let found = match self
                .api
                .describe_security_groups(&filters([("group-id", id)]))
                .await
            {
                Err(e) if e.is_not_found() => vec![],
                other => other?,
            };
            match found.first() {
                None => {
                    return Err(choice("security_group_ids", format!("{id} does not exist")));
                }
                Some(g) if g.vpc_id != vpc => {
                    return Err(choice(
                        "security_group_ids",
                        format!(
                            "{id} is in {}, but the build instance runs in {vpc}",
                            g.vpc_id
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(c.security_group_ids.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::fake::FakeEc2;
    use crate::ec2::model::SubnetPick;
    use std::collections::BTreeMap;

    fn subnet(id: &str, free: i32) -> SubnetInfo {
        SubnetInfo {
            id: id.into(),
            vpc_id: "vpc-a".into(),
            availability_zone: "us-east-1a".into(),
            available_ips: free,
        }
    }

    fn attr(r: Result<impl std::fmt::Debug, NetworkError>) -> (&'static str, String) {
        match r {
            Err(NetworkError::Choice { attr, message }) => (attr, message),
            other => panic!("expected a choice error, got {other:?}"),
        }
    }

    #[test]
    fn a_subnet_filter_takes_the_one_match_the_freest_or_any() {
        let three = || {
            vec![
                subnet("subnet-c", 10),
                subnet("subnet-a", 40),
                subnet("subnet-b", 40),
            ]
        };
        let (a, m) = attr(pick_subnet(three(), false, false));
        assert_eq!(a, "subnet_filter");
        assert!(
            m.contains("matches 3 subnets (subnet-a, subnet-b, subnet-c)"),
            "{m}"
        );
        assert_eq!(attr(pick_subnet(vec![], true, true)).1, "matches no subnet");
        let Ok(free) = pick_subnet(three(), true, false) else {
            panic!()
        };
        assert_eq!(free.id, "subnet-a", "most free, lowest id among equals");
        let Ok(one) = pick_subnet(vec![subnet("subnet-z", 1)], false, false) else {
            panic!()
        };
        assert_eq!(one.id, "subnet-z");
        let Ok(any) = pick_subnet(three(), false, true) else {
            panic!()
        };
        assert!(three().contains(&any));
    }

    fn world() -> (std::sync::Arc<FakeEc2>, Ec2) {
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        let tag = |v: &str| BTreeMap::from([("tier".to_string(), v.to_string())]);
        fake.add_vpc("vpc-a", "10.9.0.0/16", false);
        fake.add_subnet("subnet-a1", "vpc-a", "us-east-1a", 20, &tag("build"));
        fake.add_subnet("subnet-a2", "vpc-a", "us-east-1b", 90, &tag("build"));
        fake.add_subnet("subnet-x", "vpc-other", "us-east-1a", 500, &tag("build"));
        (fake, ec2)
    }

    fn pick(most_free: bool) -> Option<SubnetPick> {
        Some(SubnetPick {
            filters: filters([("tag:tier", "build")]),
            most_free,
            random: false,
        })
    }

    #[tokio::test]
    async fn the_subnet_filter_looks_inside_the_chosen_vpc_and_zone() {
        let (_fake, ec2) = world();
        let c = NetworkChoice {
            vpc_filter: Some(filters([("cidr", "10.9.0.0/16")])),
            subnet_filter: pick(true),
            ..Default::default()
        };
        let Ok(n) = ec2.choose_network(&c).await else {
            panic!()
        };
        assert_eq!(n.subnet_id.as_deref(), Some("subnet-a2"));
        assert_eq!(n.vpc_id.as_deref(), Some("vpc-a"));
        let zoned = NetworkChoice {
            availability_zone: Some("us-east-1a".into()),
            ..c.clone()
        };
        let Ok(n) = ec2.choose_network(&zoned).await else {
            panic!()
        };
        assert_eq!(n.subnet_id.as_deref(), Some("subnet-a1"));
        let (a, m) = attr(
            ec2.choose_network(&NetworkChoice {
                subnet_filter: pick(false),
                ..c.clone()
            })
            .await,
        );
        assert_eq!(a, "subnet_filter", "{m}");
        let none = NetworkChoice {
            vpc_filter: Some(filters([("cidr", "192.168.0.0/16")])),
            ..c
        };
        assert_eq!(
            attr(ec2.choose_network(&none).await),
            ("vpc_filter", "matches no VPC".into())
        );
        let many = NetworkChoice {
            vpc_filter: Some(filters([("is-default", "false")])),
            ..Default::default()
        };
        let (a, m) = attr(ec2.choose_network(&many).await);
        assert_eq!(a, "vpc_filter");
        assert!(m.contains("it must match exactly one"), "{m}");
    }

    #[tokio::test]
    async fn a_subnet_id_must_exist_in_the_vpc_and_zone() {
        let (_fake, ec2) = world();
        let c = |subnet: &str, vpc: Option<&str>, zone: Option<&str>| NetworkChoice {
            subnet_id: Some(subnet.into()),
            vpc_id: vpc.map(str::to_string),
            availability_zone: zone.map(str::to_string),
            ..Default::default()
        };
        let Ok(n) = ec2
            .choose_network(&c("subnet-a1", Some("vpc-a"), None))
            .await
        else {
            panic!()
        };
        assert_eq!(n.vpc_id.as_deref(), Some("vpc-a"));
        assert_eq!(
            attr(
                ec2.choose_network(&c("subnet-x", Some("vpc-a"), None))
                    .await
            )
            .0,
            "subnet_id"
        );
        assert_eq!(
            attr(ec2.choose_network(&c("subnet-no", None, None)).await).0,
            "subnet_id"
        );
        assert_eq!(
            attr(
                ec2.choose_network(&c("subnet-a1", Some("vpc-no"), None))
                    .await
            )
            .0,
            "vpc_id"
        );
        assert_eq!(
            attr(
                ec2.choose_network(&c("subnet-a1", None, Some("us-east-1b")))
                    .await
            )
            .0,
            "availability_zone"
        );
    }

    #[tokio::test]
    async fn the_users_groups_must_exist_in_the_instances_vpc() {
        let (fake, ec2) = world();
        let mine = fake.add_group("mine", "vpc-a", &BTreeMap::new());
        let elsewhere = fake.add_group("elsewhere", "vpc-other", &BTreeMap::new());
        let c = |groups: Vec<String>| NetworkChoice {
            subnet_id: Some("subnet-a1".into()),
            security_group_ids: groups,
            ..Default::default()
        };
        let Ok(n) = ec2.choose_network(&c(vec![mine.clone()])).await else {
            panic!()
        };
        assert_eq!(n.security_group_ids, vec![mine.clone()]);
        let (a, m) = attr(ec2.choose_network(&c(vec![elsewhere])).await);
        assert_eq!(a, "security_group_ids");
        assert!(m.contains("runs in vpc-a"), "{m}");
        assert_eq!(
            attr(ec2.choose_network(&c(vec!["sg-none".into()])).await).0,
            "security_group_ids"
        );
        let by_filter = NetworkChoice {
            subnet_id: Some("subnet-a1".into()),
            security_group_filter: Some(filters([("group-name", "*")])),
            ..Default::default()
        };
        let Ok(n) = ec2.choose_network(&by_filter).await else {
            panic!()
        };
        assert_eq!(
            n.security_group_ids,
            vec![mine],
            "only the groups in the subnet's VPC"
        );
        let nothing = NetworkChoice {
            security_group_filter: Some(filters([("group-name", "nope")])),
            ..by_filter
        };
        assert_eq!(
            attr(ec2.choose_network(&nothing).await).0,
            "security_group_filter"
        );
        let Ok(plain) = ec2.choose_network(&NetworkChoice::default()).await else {
            panic!()
        };
        assert_eq!(
            plain,
            Network::default(),
            "nothing configured: nothing looked up"
        );
    }
}
