//! The fake's answer to each EC2 call, as EC2 would give it.

use super::{
    ACCOUNT, FakeEc2, Group, Image, Instance, Phase, SpotRequest, ec2_deprecation_time, err, glob,
    matches,
};
use crate::ec2::api::{Ec2Api, Tags};
use crate::ec2::error::Ec2Error;
use crate::ec2::model::{
    Filters, GroupInfo, ImageInfo, InstanceInfo, KeyPairInfo, LaunchSpec, SnapshotInfo,
    SpotRequestInfo, SubnetInfo, TagInfo, VolumeInfo, VpcInfo,
};

#[async_trait::async_trait]
impl Ec2Api for FakeEc2 {
    async fn describe_images(
        &self,
        owners: &[String],
        filters: &Filters,
    ) -> Result<Vec<ImageInfo>, Ec2Error> {
        const A: &str = "DescribeImages";
        const SNAPSHOT: &str = "block-device-mapping.snapshot-id";
        let mut scalar = filters.clone();
        scalar.remove(SNAPSHOT);
        self.call(A, &format!("{owners:?} {filters:?}"), |w| {
            let mut out = Vec::new();
            for img in w.images.values() {
                let owner_ok = owners.is_empty()
                    || owners
                        .iter()
                        .any(|o| o == &img.owner || (o == "self" && img.owner == ACCOUNT));
                if !owner_ok || img.phase.now == "deregistered" {
                    continue;
                }
                // A list field: matches when any of the image's snapshots does.
                if let Some(want) = filters.get(SNAPSHOT)
                    && !img.info.snapshot_ids.iter().any(|s| glob(want, s))
                {
                    continue;
                }
                let field = |name: &str| match name {
                    "name" => Some(img.info.name.clone()),
                    "state" => Some(img.phase.now.clone()),
                    "image-id" => Some(img.info.id.clone()),
                    _ => None,
                };
                if matches(A, &scalar, &img.info.tags, field)? {
                    out.push(img.info.clone());
                }
            }
            Ok(out)
        })
    }

    async fn describe_images_by_id(&self, ids: &[String]) -> Result<Vec<ImageInfo>, Ec2Error> {
        const A: &str = "DescribeImages";
        self.call(A, &ids.join(","), |w| {
            let mut out = Vec::new();
            for id in ids {
                w.hidden(A, "InvalidAMIID.NotFound", id)?;
                let img = w.images.get(id).ok_or_else(|| {
                    err(A, "InvalidAMIID.NotFound", format!("{id} does not exist"))
                })?;
                out.push(img.info.clone());
            }
            Ok(out)
        })
    }

    async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: Option<&str>,
        tags: &Tags,
        snapshot_tags: &Tags,
        _devices: &[crate::ec2::volumes::BlockDevice],
    ) -> Result<String, Ec2Error> {
        const A: &str = "CreateImage";
        self.call(A, name, |w| {
            let usable = w
                .instances
                .get(instance_id)
                .is_some_and(|i| !matches!(i.phase.now.as_str(), "terminated" | "shutting-down"));
            if !usable {
                return Err(err(A, "InvalidInstanceID.NotFound", instance_id));
            }
            let taken = w.images.values().any(|i| {
                i.owner == ACCOUNT && i.info.name == name && i.phase.now != "deregistered"
            });
            if taken {
                return Err(err(
                    A,
                    "InvalidAMIName.Duplicate",
                    format!("{name} is in use"),
                ));
            }
            let (ena_support, sriov_net_support) = w
                .instances
                .get(instance_id)
                .map(|i| (i.ena_support, i.sriov_net_support.clone()))
                .unwrap_or_default();
            let id = w.id("ami");
            let snap = w.id("snap");
            w.snapshots.insert(snap.clone(), snapshot_tags.clone());
            let after = w.timing.image;
            w.images.insert(
                id.clone(),
                Image {
                    info: ImageInfo {
                        id: id.clone(),
                        name: name.into(),
                        description: description.map(str::to_string),
                        state: "pending".into(),
                        creation_date: "2026-01-02T00:00:00.000Z".into(),
                        snapshot_ids: vec![snap],
                        tags: tags.clone(),
                        root_device_name: Some("/dev/xvda".into()),
                        ena_support,
                        sriov_net_support,
                        ..Default::default()
                    },
                    phase: Phase::moving("pending", "available", after),
                    owner: ACCOUNT.into(),
                    launch_permissions: vec![],
                },
            );
            w.hide(&id);
            Ok(id)
        })
    }

    async fn copy_image(&self, r: &crate::ec2::model::CopyRequest) -> Result<String, Ec2Error> {
        const A: &str = "CopyImage";
        let arg = format!(
            "{} from {} encrypted={} kms={}",
            r.name,
            r.source_region,
            r.encrypted,
            r.kms_key_id.as_deref().unwrap_or("-")
        );
        self.call(A, &arg, |w| {
            let taken = w.images.values().any(|i| {
                i.owner == ACCOUNT && i.info.name == r.name && i.phase.now != "deregistered"
            });
            if taken {
                return Err(err(A, "InvalidAMIName.Duplicate", &r.name));
            }
            let id = w.id("ami");
            let snap = w.id("snap");
            w.snapshots.insert(snap.clone(), r.snapshot_tags.clone());
            let after = w.timing.image;
            w.images.insert(
                id.clone(),
                Image {
                    info: ImageInfo {
                        id: id.clone(),
                        name: r.name.clone(),
                        description: r.description.clone(),
                        state: "pending".into(),
                        creation_date: "2026-01-02T00:00:00.000Z".into(),
                        snapshot_ids: vec![snap],
                        tags: r.tags.clone(),
                        root_device_name: Some("/dev/xvda".into()),
                        ..Default::default()
                    },
                    phase: Phase::moving("pending", "available", after),
                    owner: ACCOUNT.into(),
                    launch_permissions: vec![],
                },
            );
            w.hide(&id);
            Ok(id)
        })
    }

    async fn modify_image_description(&self, id: &str, description: &str) -> Result<(), Ec2Error> {
        self.call("ModifyImageAttribute", id, |w| {
            w.image("ModifyImageAttribute", id)?.info.description = Some(description.into());
            Ok(())
        })
    }

    async fn modify_launch_permissions(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Ec2Error> {
        self.call("ModifyImageAttribute", id, |w| {
            let img = w.image("ModifyImageAttribute", id)?;
            img.launch_permissions.retain(|u| !remove.contains(u));
            img.launch_permissions.extend(add.iter().cloned());
            Ok(())
        })
    }

    async fn modify_snapshot_permissions(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Ec2Error> {
        const A: &str = "ModifySnapshotAttribute";
        self.call(A, id, |w| {
            if !w.snapshots.contains_key(id) {
                return Err(err(A, "InvalidSnapshot.NotFound", id));
            }
            let perms = w.snapshot_permissions.entry(id.to_string()).or_default();
            perms.retain(|u| !remove.contains(u));
            perms.extend(add.iter().cloned());
            Ok(())
        })
    }

    async fn describe_snapshot_permissions(&self, id: &str) -> Result<Vec<String>, Ec2Error> {
        const A: &str = "DescribeSnapshotAttribute";
        self.call(A, id, |w| {
            if !w.snapshots.contains_key(id) {
                return Err(err(A, "InvalidSnapshot.NotFound", id));
            }
            Ok(w.snapshot_permissions.get(id).cloned().unwrap_or_default())
        })
    }

    async fn describe_launch_permissions(&self, id: &str) -> Result<Vec<String>, Ec2Error> {
        self.call("DescribeImageAttribute", id, |w| {
            Ok(w.image("DescribeImageAttribute", id)?
                .launch_permissions
                .clone())
        })
    }

    async fn enable_image_deprecation(&self, id: &str, at: &str) -> Result<(), Ec2Error> {
        const A: &str = "EnableImageDeprecation";
        self.call(A, id, |w| {
            let shown = ec2_deprecation_time(at)
                .ok_or_else(|| err(A, "InvalidParameterValue", format!("{at:?}")))?;
            w.image(A, id)?.info.deprecation_time = Some(shown);
            Ok(())
        })
    }

    async fn disable_image_deprecation(&self, id: &str) -> Result<(), Ec2Error> {
        self.call("DisableImageDeprecation", id, |w| {
            w.image("DisableImageDeprecation", id)?
                .info
                .deprecation_time = None;
            Ok(())
        })
    }

    async fn enable_image_deregistration_protection(
        &self,
        id: &str,
        with_cooldown: bool,
    ) -> Result<(), Ec2Error> {
        const A: &str = "EnableImageDeregistrationProtection";
        self.call(A, id, |w| {
            let shown = if with_cooldown {
                "enabled-with-cooldown"
            } else {
                "enabled-without-cooldown"
            };
            w.image(A, id)?.info.deregistration_protection = Some(shown.into());
            Ok(())
        })
    }

    async fn disable_image_deregistration_protection(&self, id: &str) -> Result<(), Ec2Error> {
        const A: &str = "DisableImageDeregistrationProtection";
        self.call(A, id, |w| {
            let img = w.image(A, id)?;
            // The fake's cooldown never ends: a test sees what a day's wait means.
            let shown = match img.info.deregistration_protection.as_deref() {
                Some("enabled-with-cooldown") => "disabled-until 2099-01-01T00:00:00.000Z",
                _ => "disabled",
            };
            img.info.deregistration_protection = Some(shown.into());
            Ok(())
        })
    }

    async fn deregister_image(&self, id: &str) -> Result<(), Ec2Error> {
        self.call("DeregisterImage", id, |w| {
            let img = w.image("DeregisterImage", id)?;
            if let Some(p) = img.info.deregistration_protection.as_deref()
                && p != "disabled"
            {
                return Err(err("DeregisterImage", "OperationNotPermitted", p));
            }
            img.phase = Phase::settled("deregistered");
            img.info.state = "deregistered".into();
            Ok(())
        })
    }

    async fn delete_snapshot(&self, id: &str) -> Result<(), Ec2Error> {
        const A: &str = "DeleteSnapshot";
        self.call(A, id, |w| {
            if !w.snapshots.contains_key(id) {
                return Err(err(A, "InvalidSnapshot.NotFound", id));
            }
            let in_use = w.images.values().any(|i| {
                i.phase.now != "deregistered" && i.info.snapshot_ids.iter().any(|s| s == id)
            });
            if in_use {
                return Err(err(
                    A,
                    "InvalidSnapshot.InUse",
                    format!("{id} is used by an image"),
                ));
            }
            w.snapshots.remove(id);
            Ok(())
        })
    }

    async fn describe_snapshots(&self, ids: &[String]) -> Result<Vec<SnapshotInfo>, Ec2Error> {
        const A: &str = "DescribeSnapshots";
        self.call(A, &ids.join(","), |w| {
            ids.iter()
                .map(|id| {
                    let tags = w
                        .snapshots
                        .get(id)
                        .ok_or_else(|| err(A, "InvalidSnapshot.NotFound", id))?;
                    Ok(SnapshotInfo {
                        id: id.clone(),
                        tags: tags.clone(),
                    })
                })
                .collect()
        })
    }

    async fn describe_own_snapshots(
        &self,
        filters: &Filters,
    ) -> Result<Vec<SnapshotInfo>, Ec2Error> {
        const A: &str = "DescribeSnapshots";
        self.call(A, &format!("self {filters:?}"), |w| {
            let mut out = Vec::new();
            for (id, tags) in &w.snapshots {
                let field = |name: &str| (name == "snapshot-id").then(|| id.clone());
                if matches(A, filters, tags, field)? {
                    out.push(SnapshotInfo {
                        id: id.clone(),
                        tags: tags.clone(),
                    });
                }
            }
            Ok(out)
        })
    }

    async fn run_instance(&self, s: &LaunchSpec) -> Result<String, Ec2Error> {
        const A: &str = "RunInstances";
        self.call(A, &s.client_token, |w| {
            w.launches.push(s.clone());
            // The client token: a retried launch gets the instance the first one made.
            if let Some((id, _)) = w
                .instances
                .iter()
                .find(|(_, i)| !s.client_token.is_empty() && i.client_token == s.client_token)
            {
                return Ok(id.clone());
            }
            let usable = w.images.get(&s.image_id).map(|i| i.phase.now.as_str());
            if usable != Some("available") {
                return Err(err(A, "InvalidAMIID.NotFound", &s.image_id));
            }
            if !w.key_pairs.contains_key(&s.key_name) {
                return Err(err(A, "InvalidKeyPair.NotFound", &s.key_name));
            }
            if let Some(g) = s
                .security_group_ids
                .iter()
                .find(|g| !w.groups.contains_key(*g))
            {
                return Err(err(A, "InvalidGroup.NotFound", g));
            }
            if s.spot.is_some()
                && w.no_spot_capacity
                    .iter()
                    .any(|t| t == "*" || *t == s.instance_type)
            {
                return Err(err(
                    A,
                    "InsufficientInstanceCapacity",
                    "There is no Spot capacity available that matches your request.",
                ));
            }
            let id = w.id("i");
            let spot_request = s.spot.as_ref().map(|m| {
                let rid = w.id("sir");
                w.spot_requests.insert(
                    rid.clone(),
                    SpotRequest {
                        state: "active".into(),
                        tags: m.request_tags.clone(),
                    },
                );
                rid
            });
            let boot = w.timing.boot;
            w.instances.insert(
                id.clone(),
                Instance {
                    phase: Phase::moving("pending", "running", boot),
                    tags: s.instance_tags.clone(),
                    groups: s.security_group_ids.clone(),
                    client_token: s.client_token.clone(),
                    instance_type: s.instance_type.clone(),
                    spot_request,
                    ena_support: None,
                    sriov_net_support: None,
                },
            );
            w.hide(&id);
            Ok(id)
        })
    }

    async fn modify_instance_ena_support(&self, id: &str, enabled: bool) -> Result<(), Ec2Error> {
        const A: &str = "ModifyInstanceAttribute";
        self.call(A, id, |w| {
            stopped(A, w, id)?.ena_support = Some(enabled);
            Ok(())
        })
    }

    async fn modify_instance_sriov_net_support(
        &self,
        id: &str,
        value: &str,
    ) -> Result<(), Ec2Error> {
        const A: &str = "ModifyInstanceAttribute";
        self.call(A, id, |w| {
            stopped(A, w, id)?.sriov_net_support = Some(value.to_string());
            Ok(())
        })
    }

    async fn describe_instance(&self, id: &str) -> Result<Option<InstanceInfo>, Ec2Error> {
        const A: &str = "DescribeInstances";
        self.call(A, id, |w| {
            w.hidden(A, "InvalidInstanceID.NotFound", id)?;
            let i = w
                .instances
                .get(id)
                .ok_or_else(|| err(A, "InvalidInstanceID.NotFound", id))?;
            Ok(Some(w.instance_info(id, i)))
        })
    }

    async fn describe_instances(&self, filters: &Filters) -> Result<Vec<InstanceInfo>, Ec2Error> {
        const A: &str = "DescribeInstances";
        self.call(A, &format!("{filters:?}"), |w| {
            let mut out = Vec::new();
            for (id, i) in &w.instances {
                let field = |name: &str| match name {
                    "instance-state-name" => Some(i.phase.now.clone()),
                    _ => None,
                };
                if matches(A, filters, &i.tags, field)? {
                    out.push(w.instance_info(id, i));
                }
            }
            Ok(out)
        })
    }

    async fn console_output(&self, id: &str, latest: bool) -> Result<Option<String>, Ec2Error> {
        const A: &str = "GetConsoleOutput";
        let arg = if latest {
            format!("{id} latest")
        } else {
            id.to_string()
        };
        self.call(A, &arg, |w| {
            let Some(i) = w.instances.get(id) else {
                return Err(err(A, "InvalidInstanceID.NotFound", id));
            };
            if !latest {
                return Ok(w.console.buffered.clone());
            }
            // Xen instance types (t2 and older generations) have no live output.
            if i.instance_type.starts_with("t2.") {
                return Err(err(
                    A,
                    "UnsupportedOperation",
                    "This instance type does not support retrieving the latest console output.",
                ));
            }
            Ok(w.console.live.clone())
        })
    }

    async fn stop_instance(&self, id: &str) -> Result<(), Ec2Error> {
        const A: &str = "StopInstances";
        self.call(A, id, |w| {
            let after = w.timing.stop;
            let i = w
                .instances
                .get_mut(id)
                .ok_or_else(|| err(A, "InvalidInstanceID.NotFound", id))?;
            match i.phase.now.as_str() {
                "running" | "pending" => i.phase = Phase::moving("stopping", "stopped", after),
                "stopping" | "stopped" => {}
                other => {
                    return Err(err(A, "IncorrectInstanceState", format!("{id} is {other}")));
                }
            }
            Ok(())
        })
    }

    async fn terminate_instance(&self, id: &str) -> Result<(), Ec2Error> {
        const A: &str = "TerminateInstances";
        self.call(A, id, |w| {
            let after = w.timing.terminate;
            let i = w
                .instances
                .get_mut(id)
                .ok_or_else(|| err(A, "InvalidInstanceID.NotFound", id))?;
            if !matches!(i.phase.now.as_str(), "terminated" | "shutting-down") {
                i.phase = Phase::moving("shutting-down", "terminated", after);
            }
            // A one-time spot request closes when its instance goes.
            if let Some(r) = i
                .spot_request
                .clone()
                .and_then(|r| w.spot_requests.get_mut(&r))
                && matches!(r.state.as_str(), "open" | "active")
            {
                r.state = "closed".into();
            }
            Ok(())
        })
    }

    async fn describe_spot_requests(
        &self,
        filters: &Filters,
    ) -> Result<Vec<SpotRequestInfo>, Ec2Error> {
        const A: &str = "DescribeSpotInstanceRequests";
        self.call(A, &format!("{filters:?}"), |w| {
            let mut out = Vec::new();
            for (id, r) in &w.spot_requests {
                let field = |f: &str| (f == "state").then(|| r.state.clone());
                if matches(A, filters, &r.tags, field)? {
                    out.push(SpotRequestInfo {
                        id: id.clone(),
                        state: r.state.clone(),
                        tags: r.tags.clone(),
                    });
                }
            }
            Ok(out)
        })
    }

    async fn describe_spot_prices(
        &self,
        types: &[String],
        _zone: Option<&str>,
    ) -> Result<Vec<(String, String)>, Ec2Error> {
        const A: &str = "DescribeSpotPriceHistory";
        self.call(A, &types.join(","), |w| {
            Ok(types
                .iter()
                .filter_map(|t| Some((t.clone(), w.spot_prices.get(t)?.clone())))
                .collect())
        })
    }

    async fn cancel_spot_request(&self, id: &str) -> Result<(), Ec2Error> {
        const A: &str = "CancelSpotInstanceRequests";
        self.call(A, id, |w| {
            let r = w
                .spot_requests
                .get_mut(id)
                .ok_or_else(|| err(A, "InvalidSpotInstanceRequestID.NotFound", id))?;
            if matches!(r.state.as_str(), "open" | "active") {
                r.state = "cancelled".into();
            }
            Ok(())
        })
    }

    async fn describe_volumes(&self, filters: &Filters) -> Result<Vec<VolumeInfo>, Ec2Error> {
        const A: &str = "DescribeVolumes";
        self.call(A, &format!("{filters:?}"), |w| {
            let mut out = Vec::new();
            for (id, (state, tags)) in &w.volumes {
                let field = |f: &str| (f == "status").then(|| state.clone());
                if matches(A, filters, tags, field)? {
                    out.push(VolumeInfo {
                        id: id.clone(),
                        state: state.clone(),
                        tags: tags.clone(),
                    });
                }
            }
            Ok(out)
        })
    }

    async fn delete_volume(&self, id: &str) -> Result<(), Ec2Error> {
        const A: &str = "DeleteVolume";
        self.call(A, id, |w| match w.volumes.get(id) {
            None => Err(err(A, "InvalidVolume.NotFound", id)),
            Some((state, _)) if state != "available" => {
                Err(err(A, "VolumeInUse", format!("{id} is attached")))
            }
            Some(_) => {
                w.volumes.remove(id);
                Ok(())
            }
        })
    }

    async fn import_key_pair(
        &self,
        name: &str,
        public_key_openssh: &str,
        tags: &Tags,
    ) -> Result<(), Ec2Error> {
        const A: &str = "ImportKeyPair";
        self.call(A, name, |w| {
            if !public_key_openssh.starts_with("ssh-") {
                return Err(err(A, "InvalidKey.Format", "not an OpenSSH public key"));
            }
            if w.key_pairs.contains_key(name) {
                return Err(err(A, "InvalidKeyPair.Duplicate", name));
            }
            w.key_pairs.insert(name.into(), tags.clone());
            Ok(())
        })
    }

    async fn describe_key_pairs(&self, name: &str) -> Result<Vec<String>, Ec2Error> {
        const A: &str = "DescribeKeyPairs";
        self.call(A, name, |w| {
            if w.key_pairs.contains_key(name) {
                Ok(vec![name.to_string()])
            } else {
                Err(err(A, "InvalidKeyPair.NotFound", name))
            }
        })
    }

    async fn describe_key_pairs_by(&self, filters: &Filters) -> Result<Vec<KeyPairInfo>, Ec2Error> {
        const A: &str = "DescribeKeyPairs";
        self.call(A, &format!("{filters:?}"), |w| {
            let mut out = Vec::new();
            for (name, tags) in &w.key_pairs {
                let field = |f: &str| (f == "key-name").then(|| name.clone());
                if matches(A, filters, tags, field)? {
                    out.push(KeyPairInfo {
                        name: name.clone(),
                        tags: tags.clone(),
                    });
                }
            }
            Ok(out)
        })
    }

    async fn delete_key_pair(&self, name: &str) -> Result<(), Ec2Error> {
        // EC2 answers success for a key pair that does not exist.
        self.call("DeleteKeyPair", name, |w| {
            w.key_pairs.remove(name);
            Ok(())
        })
    }

    async fn create_security_group(
        &self,
        name: &str,
        vpc_id: &str,
        tags: &Tags,
    ) -> Result<String, Ec2Error> {
        const A: &str = "CreateSecurityGroup";
        self.call(A, name, |w| {
            if !w.vpcs.contains_key(vpc_id) {
                return Err(err(A, "InvalidVpcID.NotFound", vpc_id));
            }
            if w.groups.values().any(|g| g.name == name && g.vpc == vpc_id) {
                return Err(err(A, "InvalidGroup.Duplicate", name));
            }
            let id = w.id("sg");
            w.groups.insert(
                id.clone(),
                Group {
                    name: name.into(),
                    vpc: vpc_id.into(),
                    tags: tags.clone(),
                },
            );
            Ok(id)
        })
    }

    async fn describe_security_groups(
        &self,
        filters: &Filters,
    ) -> Result<Vec<GroupInfo>, Ec2Error> {
        const A: &str = "DescribeSecurityGroups";
        self.call(A, &format!("{filters:?}"), |w| {
            let mut out = Vec::new();
            for (id, g) in &w.groups {
                let field = |name: &str| match name {
                    "group-name" => Some(g.name.clone()),
                    "group-id" => Some(id.clone()),
                    "vpc-id" => Some(g.vpc.clone()),
                    _ => None,
                };
                if matches(A, filters, &g.tags, field)? {
                    out.push(GroupInfo {
                        id: id.clone(),
                        vpc_id: g.vpc.clone(),
                        tags: g.tags.clone(),
                    });
                }
            }
            Ok(out)
        })
    }

    async fn authorize_ingress(
        &self,
        group_id: &str,
        _port: u16,
        _cidrs: &[String],
    ) -> Result<(), Ec2Error> {
        const A: &str = "AuthorizeSecurityGroupIngress";
        self.call(A, group_id, |w| {
            if w.groups.contains_key(group_id) {
                Ok(())
            } else {
                Err(err(A, "InvalidGroup.NotFound", group_id))
            }
        })
    }

    async fn delete_security_group(&self, id: &str) -> Result<(), Ec2Error> {
        const A: &str = "DeleteSecurityGroup";
        self.call(A, id, |w| {
            if !w.groups.contains_key(id) {
                return Err(err(A, "InvalidGroup.NotFound", id));
            }
            let held = w
                .instances
                .values()
                .any(|i| i.phase.now != "terminated" && i.groups.iter().any(|g| g == id));
            if held {
                return Err(err(
                    A,
                    "DependencyViolation",
                    format!("{id} has a dependent object"),
                ));
            }
            w.groups.remove(id);
            Ok(())
        })
    }

    async fn subnet_vpc(&self, subnet_id: &str) -> Result<Option<String>, Ec2Error> {
        const A: &str = "DescribeSubnets";
        self.call(A, subnet_id, |w| {
            w.subnets
                .get(subnet_id)
                .map(|s| Some(s.vpc.clone()))
                .ok_or_else(|| err(A, "InvalidSubnetID.NotFound", subnet_id))
        })
    }

    async fn describe_vpc(&self, vpc_id: Option<&str>) -> Result<Option<VpcInfo>, Ec2Error> {
        const A: &str = "DescribeVpcs";
        self.call(A, vpc_id.unwrap_or("default"), |w| {
            let found = match vpc_id {
                Some(v) => Some(
                    w.vpcs
                        .get_key_value(v)
                        .ok_or_else(|| err(A, "InvalidVpcID.NotFound", v))?,
                ),
                None => w.vpcs.iter().find(|(_, (_, default))| *default),
            };
            Ok(found.map(|(id, (cidr, _))| VpcInfo {
                id: id.clone(),
                cidr: cidr.clone(),
            }))
        })
    }

    async fn describe_vpcs(&self, filters: &Filters) -> Result<Vec<VpcInfo>, Ec2Error> {
        const A: &str = "DescribeVpcs";
        self.call(A, &format!("{filters:?}"), |w| {
            let mut out = Vec::new();
            for (id, (cidr, default)) in &w.vpcs {
                let field = |name: &str| match name {
                    "vpc-id" => Some(id.clone()),
                    "cidr" | "cidr-block" => Some(cidr.clone()),
                    "is-default" => Some(default.to_string()),
                    _ => None,
                };
                if matches(A, filters, &Tags::new(), field)? {
                    out.push(VpcInfo {
                        id: id.clone(),
                        cidr: cidr.clone(),
                    });
                }
            }
            Ok(out)
        })
    }

    async fn describe_subnets(&self, filters: &Filters) -> Result<Vec<SubnetInfo>, Ec2Error> {
        const A: &str = "DescribeSubnets";
        self.call(A, &format!("{filters:?}"), |w| {
            let mut out = Vec::new();
            for (id, s) in &w.subnets {
                let field = |name: &str| match name {
                    "subnet-id" => Some(id.clone()),
                    "vpc-id" => Some(s.vpc.clone()),
                    "availability-zone" => Some(s.az.clone()),
                    _ => None,
                };
                if matches(A, filters, &s.tags, field)? {
                    out.push(SubnetInfo {
                        id: id.clone(),
                        vpc_id: s.vpc.clone(),
                        availability_zone: s.az.clone(),
                        available_ips: s.free,
                    });
                }
            }
            Ok(out)
        })
    }

    async fn modify_image_imds_support(&self, id: &str, value: &str) -> Result<(), Ec2Error> {
        const A: &str = "ModifyImageAttribute";
        self.call(A, id, |w| {
            let img = w
                .images
                .get_mut(id)
                .ok_or_else(|| err(A, "InvalidAMIID.NotFound", id))?;
            img.info.imds_support = Some(value.to_string());
            Ok(())
        })
    }

    async fn create_tags(&self, ids: &[String], tags: &Tags) -> Result<(), Ec2Error> {
        self.call("CreateTags", &ids.join(","), |w| {
            for id in ids {
                w.tags_of("CreateTags", id)?.extend(tags.clone());
            }
            Ok(())
        })
    }

    async fn delete_tags(&self, ids: &[String], keys: &[String]) -> Result<(), Ec2Error> {
        self.call("DeleteTags", &ids.join(","), |w| {
            for id in ids {
                let t = w.tags_of("DeleteTags", id)?;
                keys.iter().for_each(|k| {
                    t.remove(k);
                });
            }
            Ok(())
        })
    }

    async fn describe_tags_with_key(&self, key: &str) -> Result<Vec<TagInfo>, Ec2Error> {
        self.call("DescribeTags", key, |w| {
            // A deregistered image's tags are gone with it; a terminated
            // instance is still listed for a while, as on EC2.
            let images = w
                .images
                .iter()
                .filter(|(_, i)| i.info.state != "deregistered")
                .map(|(id, i)| ("image", id, &i.info.tags));
            let all = w
                .instances
                .iter()
                .map(|(id, i)| ("instance", id, &i.tags))
                .chain(w.volumes.iter().map(|(id, (_, t))| ("volume", id, t)))
                .chain(w.key_pairs.iter().map(|(id, t)| ("key-pair", id, t)))
                .chain(images)
                .chain(w.snapshots.iter().map(|(id, t)| ("snapshot", id, t)))
                .chain(
                    w.groups
                        .iter()
                        .map(|(id, g)| ("security-group", id, &g.tags)),
                );
            Ok(all
                .filter_map(|(kind, id, tags)| {
                    Some(TagInfo {
                        resource_type: kind.to_string(),
                        resource_id: id.clone(),
                        value: tags.get(key)?.clone(),
                    })
                })
                .collect())
        })
    }
}

/// An instance that ModifyInstanceAttribute may change: it must be stopped.
fn stopped<'w>(
    action: &'static str,
    w: &'w mut super::World,
    id: &str,
) -> Result<&'w mut Instance, Ec2Error> {
    let i = w
        .instances
        .get_mut(id)
        .ok_or_else(|| err(action, "InvalidInstanceID.NotFound", id))?;
    if i.phase.now != "stopped" {
        return Err(err(
            action,
            "IncorrectInstanceState",
            format!("{id} is {}, not stopped", i.phase.now),
        ));
    }
    Ok(i)
}
