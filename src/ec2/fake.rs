//! An in-memory EC2 for unit tests, in the spirit of the mocked client in
//! packer-plugin-amazon's step tests. It keeps just enough state for the
//! bake's steps, the leftover sweep and the waiters to run against:
//! instances that pass through pending/stopping/shutting-down (for as long
//! as [`Timing`] says), images with snapshots,
//! key pairs, security groups that refuse deletion while an instance holds
//! them, VPCs. It answers like EC2 (`*.NotFound`, `*.Duplicate`,
//! `DependencyViolation`, `InvalidSnapshot.InUse`), and has knobs for the
//! faults that decide whether anything leaks: fail the Nth call of an action,
//! lose the answer of the Nth call (it takes effect, the caller sees an
//! error), hide new objects from the first describes, and a log of calls.

use super::api::{Ec2Api, Tags};
use super::error::Ec2Error;
use super::model::{Filters, ImageInfo, InstanceInfo, LaunchSpec, VpcInfo};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// The owner id of what the fake's caller creates ("self").
pub const ACCOUNT: &str = "123456789012";
/// The image every fake world starts with, owned by "amazon".
pub const SOURCE_AMI: &str = "ami-source";
pub const DEFAULT_VPC: &str = "vpc-default";
pub const DEFAULT_VPC_CIDR: &str = "172.31.0.0/16";

/// How long transitions take. By default none: a change is seen by the
/// next call, so tests run in milliseconds unless they ask for a wait.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub boot: Duration,
    pub stop: Duration,
    pub terminate: Duration,
    pub image: Duration,
}

#[derive(Debug, Clone)]
enum FaultKind {
    Fail(String),
    LoseAnswer,
}

#[derive(Debug, Clone)]
struct Fault {
    action: &'static str,
    nth: u32,
    kind: FaultKind,
}

/// A state, and the one it becomes at a given time.
#[derive(Debug, Clone)]
struct Phase {
    now: String,
    next: Option<(String, Instant)>,
}

impl Phase {
    fn settled(s: &str) -> Phase {
        Phase {
            now: s.into(),
            next: None,
        }
    }
    fn moving(now: &str, to: &str, after: Duration) -> Phase {
        Phase {
            now: now.into(),
            next: Some((to.into(), Instant::now() + after)),
        }
    }
    fn settle(&mut self, at: Instant) {
        if let Some((to, when)) = &self.next
            && at >= *when
        {
            self.now = to.clone();
            self.next = None;
        }
    }
}

#[derive(Debug)]
struct Instance {
    phase: Phase,
    tags: Tags,
    groups: Vec<String>,
    client_token: String,
}

#[derive(Debug)]
struct Image {
    info: ImageInfo,
    phase: Phase,
    owner: String,
    launch_permissions: Vec<String>,
    deprecate_at: Option<String>,
}

#[derive(Debug)]
struct Group {
    name: String,
    vpc: String,
    tags: Tags,
}

#[derive(Debug, Default)]
struct World {
    seq: u64,
    timing: Timing,
    images: BTreeMap<String, Image>,
    instances: BTreeMap<String, Instance>,
    key_pairs: BTreeMap<String, Tags>,
    groups: BTreeMap<String, Group>,
    snapshots: BTreeMap<String, Tags>,
    vpcs: BTreeMap<String, (String, bool)>,
    subnets: BTreeMap<String, String>,
    faults: Vec<Fault>,
    calls: HashMap<&'static str, u32>,
    log: Vec<String>,
    hide_new: u32,
    hidden: HashMap<String, u32>,
}

fn err(action: &'static str, code: &str, message: impl Into<String>) -> Ec2Error {
    Ec2Error {
        action,
        code: Some(code.to_string()),
        message: format!("{code}: {}", message.into()),
    }
}

/// EC2's filter wildcards: `*` any run, `?` one character.
fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    go(&p, &s)
}

/// Whether `tags` and the named fields satisfy every filter; unknown filter
/// names are an error, so a test cannot pass by a filter the fake ignores.
fn matches(
    action: &'static str,
    filters: &Filters,
    tags: &Tags,
    field: impl Fn(&str) -> Option<String>,
) -> Result<bool, Ec2Error> {
    for (name, want) in filters {
        let have = match name.strip_prefix("tag:") {
            Some(key) => tags.get(key).cloned(),
            None => Some(field(name).ok_or_else(|| {
                err(
                    action,
                    "InvalidParameterValue",
                    format!("unknown filter {name}"),
                )
            })?)
            .filter(|v| !v.is_empty()),
        };
        if !have.is_some_and(|h| glob(want, &h)) {
            return Ok(false);
        }
    }
    Ok(true)
}

impl World {
    fn id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}-{:04}", self.seq)
    }

    fn settle(&mut self) {
        let at = Instant::now();
        self.instances.values_mut().for_each(|i| i.phase.settle(at));
        for img in self.images.values_mut() {
            img.phase.settle(at);
            img.info.state = img.phase.now.clone();
        }
    }

    fn hide(&mut self, id: &str) {
        if self.hide_new > 0 {
            self.hidden.insert(id.to_string(), self.hide_new);
        }
    }

    /// Not found while a new object is still hidden from describes.
    fn hidden(&mut self, action: &'static str, code: &str, id: &str) -> Result<(), Ec2Error> {
        match self.hidden.get_mut(id) {
            Some(n) if *n > 0 => {
                *n -= 1;
                Err(err(action, code, format!("{id} does not exist (yet)")))
            }
            _ => Ok(()),
        }
    }

    fn instance_info(&self, id: &str, i: &Instance) -> InstanceInfo {
        let running = i.phase.now != "terminated";
        InstanceInfo {
            id: id.to_string(),
            state: i.phase.now.clone(),
            private_ip: running.then(|| "10.0.0.10".to_string()),
            ..Default::default()
        }
    }

    fn image(&mut self, action: &'static str, id: &str) -> Result<&mut Image, Ec2Error> {
        self.images
            .get_mut(id)
            .filter(|i| i.phase.now != "deregistered")
            .ok_or_else(|| {
                err(
                    action,
                    "InvalidAMIID.NotFound",
                    format!("{id} does not exist"),
                )
            })
    }

    fn tags_of(&mut self, action: &'static str, id: &str) -> Result<&mut Tags, Ec2Error> {
        let found = if let Some(i) = self.instances.get_mut(id) {
            Some(&mut i.tags)
        } else if let Some(i) = self.images.get_mut(id) {
            Some(&mut i.info.tags)
        } else if let Some(g) = self.groups.get_mut(id) {
            Some(&mut g.tags)
        } else {
            self.snapshots.get_mut(id)
        };
        found.ok_or_else(|| err(action, "InvalidID.NotFound", format!("{id} does not exist")))
    }
}

/// The in-memory EC2.
#[derive(Debug)]
pub struct FakeEc2 {
    world: Mutex<World>,
}

impl FakeEc2 {
    /// A region with a default VPC, a subnet in another VPC, and one
    /// available source image.
    pub fn new() -> Arc<FakeEc2> {
        let mut w = World::default();
        w.vpcs
            .insert(DEFAULT_VPC.into(), (DEFAULT_VPC_CIDR.into(), true));
        w.vpcs
            .insert("vpc-other".into(), ("10.1.0.0/16".into(), false));
        w.subnets.insert("subnet-other".into(), "vpc-other".into());
        let fake = FakeEc2 {
            world: Mutex::new(w),
        };
        fake.add_image(
            SOURCE_AMI,
            "al2023-ami-2025-x86_64",
            "amazon",
            "2025-01-01T00:00:00.000Z",
        );
        Arc::new(fake)
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Logs and counts the call, applies an injected fault, else runs `f`.
    fn call<T>(
        &self,
        action: &'static str,
        arg: &str,
        f: impl FnOnce(&mut World) -> Result<T, Ec2Error>,
    ) -> Result<T, Ec2Error> {
        let mut w = self.world();
        w.settle();
        let n = {
            let c = w.calls.entry(action).or_default();
            *c += 1;
            *c
        };
        w.log.push(format!("{action} {arg}"));
        let fault = w
            .faults
            .iter()
            .position(|f| f.action == action && f.nth == n)
            .map(|i| w.faults.remove(i));
        match fault.map(|f| f.kind) {
            Some(FaultKind::Fail(code)) => Err(err(action, &code, "injected by the test")),
            Some(FaultKind::LoseAnswer) => {
                let _ = f(&mut w);
                Err(Ec2Error {
                    action,
                    code: None,
                    message: "dispatch failure: the answer was lost".into(),
                })
            }
            None => f(&mut w),
        }
    }

    // Knobs.

    /// The `nth` call (from 1) of `action` fails with `code`, changing nothing.
    pub fn fail(&self, action: &'static str, nth: u32, code: &str) {
        self.world().faults.push(Fault {
            action,
            nth,
            kind: FaultKind::Fail(code.into()),
        });
    }

    /// The `nth` call (from 1) of `action` takes effect, but its caller
    /// sees an error without a code, as when every retry's answer was lost.
    pub fn lose_answer(&self, action: &'static str, nth: u32) {
        self.world().faults.push(Fault {
            action,
            nth,
            kind: FaultKind::LoseAnswer,
        });
    }

    /// Instances and images created from now on are not found by the first
    /// `n` describes of their id (EC2's eventual consistency).
    pub fn hide_new(&self, n: u32) {
        self.world().hide_new = n;
    }

    pub fn set_timing(&self, t: Timing) {
        self.world().timing = t;
    }

    /// Adds an available image with one snapshot.
    pub fn add_image(&self, id: &str, name: &str, owner: &str, created: &str) {
        let mut w = self.world();
        let snap = w.id("snap");
        w.snapshots.insert(snap.clone(), Tags::new());
        w.images.insert(
            id.into(),
            Image {
                info: ImageInfo {
                    id: id.into(),
                    name: name.into(),
                    state: "available".into(),
                    creation_date: created.into(),
                    snapshot_ids: vec![snap],
                    ..Default::default()
                },
                phase: Phase::settled("available"),
                owner: owner.into(),
                launch_permissions: vec![],
                deprecate_at: None,
            },
        );
    }

    /// Adds this account's image as if an earlier, unseen call made it.
    pub fn add_own_image(&self, name: &str, tags: &Tags) -> String {
        let id = self.world().id("ami");
        self.add_image(&id, name, ACCOUNT, "2026-01-01T00:00:00.000Z");
        if let Some(img) = self.world().images.get_mut(&id) {
            img.info.tags = tags.clone();
        }
        id
    }

    /// Adds a security group as if an earlier, unseen call made it.
    pub fn add_group(&self, name: &str, vpc: &str, tags: &Tags) -> String {
        let mut w = self.world();
        let id = w.id("sg");
        w.groups.insert(
            id.clone(),
            Group {
                name: name.into(),
                vpc: vpc.into(),
                tags: tags.clone(),
            },
        );
        id
    }

    pub fn remove_vpc(&self, id: &str) {
        self.world().vpcs.remove(id);
    }

    pub fn add_vpc(&self, id: &str, cidr: &str, default: bool) {
        self.world().vpcs.insert(id.into(), (cidr.into(), default));
    }

    // What happened.

    /// How many times `action` was called.
    pub fn calls(&self, action: &str) -> u32 {
        self.world().calls.get(action).copied().unwrap_or(0)
    }

    /// Every call so far, as "Action argument".
    pub fn log(&self) -> Vec<String> {
        self.world().log.clone()
    }

    /// Where in the log `entry` first appears.
    pub fn first(&self, entry: &str) -> Option<usize> {
        self.world().log.iter().position(|l| l == entry)
    }

    /// Every instance ever launched, terminated ones included.
    pub fn instances(&self) -> Vec<String> {
        self.world().instances.keys().cloned().collect()
    }

    /// Instances not terminated (those still terminating included).
    pub fn live_instances(&self) -> Vec<String> {
        let mut w = self.world();
        w.settle();
        w.instances
            .iter()
            .filter(|(_, i)| i.phase.now != "terminated")
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn instance_state(&self, id: &str) -> Option<String> {
        let mut w = self.world();
        w.settle();
        w.instances.get(id).map(|i| i.phase.now.clone())
    }

    pub fn groups(&self) -> Vec<String> {
        self.world().groups.keys().cloned().collect()
    }

    pub fn key_pairs(&self) -> Vec<String> {
        self.world().key_pairs.keys().cloned().collect()
    }

    /// Images owned by this account and still registered.
    pub fn own_images(&self) -> Vec<String> {
        self.world()
            .images
            .iter()
            .filter(|(_, i)| i.owner == ACCOUNT && i.phase.now != "deregistered")
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn snapshots(&self) -> Vec<String> {
        self.world().snapshots.keys().cloned().collect()
    }
}

#[async_trait::async_trait]
impl Ec2Api for FakeEc2 {
    async fn describe_images(
        &self,
        owners: &[String],
        filters: &Filters,
    ) -> Result<Vec<ImageInfo>, Ec2Error> {
        const A: &str = "DescribeImages";
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
                let field = |name: &str| match name {
                    "name" => Some(img.info.name.clone()),
                    "state" => Some(img.phase.now.clone()),
                    "image-id" => Some(img.info.id.clone()),
                    _ => None,
                };
                if matches(A, filters, &img.info.tags, field)? {
                    out.push(img.info.clone());
                }
            }
            Ok(out)
        })
    }

    async fn describe_image(&self, id: &str) -> Result<Vec<ImageInfo>, Ec2Error> {
        const A: &str = "DescribeImages";
        self.call(A, id, |w| {
            w.hidden(A, "InvalidAMIID.NotFound", id)?;
            let img = w
                .images
                .get(id)
                .ok_or_else(|| err(A, "InvalidAMIID.NotFound", format!("{id} does not exist")))?;
            Ok(vec![img.info.clone()])
        })
    }

    async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: Option<&str>,
        tags: &Tags,
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
            let id = w.id("ami");
            let snap = w.id("snap");
            w.snapshots.insert(snap.clone(), Tags::new());
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
                        ..Default::default()
                    },
                    phase: Phase::moving("pending", "available", after),
                    owner: ACCOUNT.into(),
                    launch_permissions: vec![],
                    deprecate_at: None,
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

    async fn describe_launch_permissions(&self, id: &str) -> Result<Vec<String>, Ec2Error> {
        self.call("DescribeImageAttribute", id, |w| {
            Ok(w.image("DescribeImageAttribute", id)?
                .launch_permissions
                .clone())
        })
    }

    async fn enable_image_deprecation(&self, id: &str, at: &str) -> Result<(), Ec2Error> {
        self.call("EnableImageDeprecation", id, |w| {
            w.image("EnableImageDeprecation", id)?.deprecate_at = Some(at.into());
            Ok(())
        })
    }

    async fn disable_image_deprecation(&self, id: &str) -> Result<(), Ec2Error> {
        self.call("DisableImageDeprecation", id, |w| {
            w.image("DisableImageDeprecation", id)?.deprecate_at = None;
            Ok(())
        })
    }

    async fn deregister_image(&self, id: &str) -> Result<(), Ec2Error> {
        self.call("DeregisterImage", id, |w| {
            let img = w.image("DeregisterImage", id)?;
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

    async fn run_instance(&self, s: &LaunchSpec) -> Result<String, Ec2Error> {
        const A: &str = "RunInstances";
        self.call(A, &s.client_token, |w| {
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
            let id = w.id("i");
            let boot = w.timing.boot;
            w.instances.insert(
                id.clone(),
                Instance {
                    phase: Phase::moving("pending", "running", boot),
                    tags: s.instance_tags.clone(),
                    groups: s.security_group_ids.clone(),
                    client_token: s.client_token.clone(),
                },
            );
            w.hide(&id);
            Ok(id)
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

    async fn console_output(&self, id: &str) -> Result<Option<String>, Ec2Error> {
        const A: &str = "GetConsoleOutput";
        self.call(A, id, |w| {
            if !w.instances.contains_key(id) {
                return Err(err(A, "InvalidInstanceID.NotFound", id));
            }
            // No boot output: host keys come from `ssh.host_key` in tests.
            Ok(None)
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
            Ok(())
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

    async fn describe_security_groups(&self, filters: &Filters) -> Result<Vec<String>, Ec2Error> {
        const A: &str = "DescribeSecurityGroups";
        self.call(A, &format!("{filters:?}"), |w| {
            let mut out = Vec::new();
            for (id, g) in &w.groups {
                let field = |name: &str| match name {
                    "group-name" => Some(g.name.clone()),
                    "vpc-id" => Some(g.vpc.clone()),
                    _ => None,
                };
                if matches(A, filters, &g.tags, field)? {
                    out.push(id.clone());
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
                .cloned()
                .map(Some)
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
}
