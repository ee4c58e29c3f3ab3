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

mod calls;

use super::api::Tags;
use super::error::Ec2Error;
use super::model::{Filters, ImageInfo, InstanceInfo, LaunchSpec};
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
    instance_type: String,
    /// The spot request that launched it.
    spot_request: Option<String>,
    /// ENA and SR-IOV support as ModifyInstanceAttribute set them.
    ena_support: Option<bool>,
    sriov_net_support: Option<String>,
}

#[derive(Debug)]
struct SpotRequest {
    state: String,
    tags: Tags,
}

#[derive(Debug)]
struct Image {
    info: ImageInfo,
    phase: Phase,
    owner: String,
    launch_permissions: Vec<String>,
}

#[derive(Debug)]
struct Group {
    name: String,
    vpc: String,
    tags: Tags,
}

/// A subnet: its VPC, zone, free addresses and tags.
#[derive(Debug, Clone, Default)]
struct Subnet {
    vpc: String,
    az: String,
    free: i32,
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
    /// createVolumePermission principals per snapshot.
    snapshot_permissions: BTreeMap<String, Vec<String>>,
    /// Volumes by id: state and tags.
    volumes: BTreeMap<String, (String, Tags)>,
    vpcs: BTreeMap<String, (String, bool)>,
    subnets: BTreeMap<String, Subnet>,
    faults: Vec<Fault>,
    calls: HashMap<&'static str, u32>,
    log: Vec<String>,
    hide_new: u32,
    hidden: HashMap<String, u32>,
    /// What GetConsoleOutput answers, buffered and live.
    console: Console,
    spot_requests: BTreeMap<String, SpotRequest>,
    /// Instance types with no spot capacity (`*`: all).
    no_spot_capacity: Vec<String>,
    /// Every RunInstances request, refused ones included.
    launches: Vec<LaunchSpec>,
    /// Current spot price by instance type.
    spot_prices: BTreeMap<String, String>,
}

/// The console output the fake shows: EC2 posts the buffered output late,
/// the live one (`Latest=true`) only exists on Nitro instance types.
#[derive(Debug, Clone, Default)]
pub struct Console {
    pub buffered: Option<String>,
    pub live: Option<String>,
}

fn err(action: &'static str, code: &str, message: impl Into<String>) -> Ec2Error {
    Ec2Error {
        action,
        code: Some(code.to_string()),
        message: format!("{code}: {}", message.into()),
    }
}

/// DeprecateAt as EC2 shows it back in DescribeImages: rounded to the
/// nearest minute, with milliseconds (`2030-01-01T00:01:00.000Z` for
/// `2030-01-01T00:00:31Z`); None for a time EC2 would refuse to parse.
fn ec2_deprecation_time(at: &str) -> Option<String> {
    use aws_smithy_types::DateTime;
    use aws_smithy_types::date_time::Format;
    let t = DateTime::from_str(at, Format::DateTime).ok()?;
    let minutes = (t.secs() + 30).div_euclid(60);
    let shown = DateTime::from_secs(minutes * 60)
        .fmt(Format::DateTime)
        .ok()?;
    Some(format!("{}.000Z", shown.strip_suffix('Z')?))
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
        if name == "tag-key" {
            if !tags.keys().any(|k| glob(want, k)) {
                return Ok(false);
            }
            continue;
        }
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
            tags: i.tags.clone(),
            lifecycle: i.spot_request.as_ref().map(|_| "spot".to_string()),
            spot_request_id: i.spot_request.clone(),
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
        w.subnets.insert(
            "subnet-other".into(),
            Subnet {
                vpc: "vpc-other".into(),
                az: "us-east-1a".into(),
                free: 250,
                tags: Tags::new(),
            },
        );
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

    /// Spot launches of these instance types (`*`: any) fail with
    /// `InsufficientInstanceCapacity` from now on.
    pub fn no_spot_capacity(&self, types: &[&str]) {
        self.world().no_spot_capacity = types.iter().map(|t| t.to_string()).collect();
    }

    /// The current spot price of an instance type.
    pub fn set_spot_price(&self, instance_type: &str, price: &str) {
        self.world()
            .spot_prices
            .insert(instance_type.into(), price.into());
    }

    /// What GetConsoleOutput shows from now on.
    pub fn set_console(&self, c: Console) {
        self.world().console = c;
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
                    root_device_name: Some("/dev/xvda".into()),
                    ..Default::default()
                },
                phase: Phase::settled("available"),
                owner: owner.into(),
                launch_permissions: vec![],
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

    /// Adds this account's image registered from an existing snapshot (as
    /// RegisterImage does), so two images share it.
    pub fn add_own_image_using(&self, name: &str, snapshot: &str) -> String {
        let id = self.add_own_image(name, &Tags::new());
        let mut w = self.world();
        if let Some(img) = w.images.get_mut(&id) {
            img.info.snapshot_ids = vec![snapshot.to_string()];
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

    /// Adds a volume in `state` (`available`, `in-use`), as a launch that
    /// outlived its instance leaves one.
    pub fn add_volume(&self, state: &str, tags: &Tags) -> String {
        let mut w = self.world();
        let id = w.id("vol");
        w.volumes.insert(id.clone(), (state.into(), tags.clone()));
        id
    }

    pub fn volumes(&self) -> Vec<String> {
        self.world().volumes.keys().cloned().collect()
    }

    pub fn remove_vpc(&self, id: &str) {
        self.world().vpcs.remove(id);
    }

    pub fn add_vpc(&self, id: &str, cidr: &str, default: bool) {
        self.world().vpcs.insert(id.into(), (cidr.into(), default));
    }

    /// Adds a subnet of `vpc` in zone `az` with `free` addresses.
    pub fn add_subnet(&self, id: &str, vpc: &str, az: &str, free: i32, tags: &Tags) {
        let subnet = Subnet {
            vpc: vpc.into(),
            az: az.into(),
            free,
            tags: tags.clone(),
        };
        self.world().subnets.insert(id.into(), subnet);
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

    /// Every RunInstances request so far, refused ones included.
    pub fn launches(&self) -> Vec<LaunchSpec> {
        self.world().launches.clone()
    }

    /// Spot requests and their states.
    pub fn spot_requests(&self) -> Vec<(String, String)> {
        self.world()
            .spot_requests
            .iter()
            .map(|(id, r)| (id.clone(), r.state.clone()))
            .collect()
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

    /// An image's tags (None when it is not there).
    pub fn image_tags(&self, id: &str) -> Option<Tags> {
        self.world().images.get(id).map(|i| i.info.tags.clone())
    }

    /// Who may launch an image.
    pub fn launch_permissions_of(&self, id: &str) -> Vec<String> {
        self.world()
            .images
            .get(id)
            .map(|i| i.launch_permissions.clone())
            .unwrap_or_default()
    }
}
