//! Leftovers found from EC2 alone. Every temporary resource of a bake
//! carries its build id and `golden:expires-at` (the bake's start plus its
//! create and delete timeouts: by then the bake, cleanup included, is over
//! or dead). Any provider run, from any machine, removes what has expired:
//! one DescribeTags (describes of a kind only when something of it
//! expired), then one call per removal, within a bound per run, so a runner
//! that was killed and thrown away leaks nothing for long. Only
//! resources with both tags are touched, and a kept image has no expiry.
//!
//! Spot requests need no sweep of their own: a spot build instance comes
//! from RunInstances, whose one-time request is fulfilled at once or refused
//! at once (never left open) and closes by itself when its instance
//! terminates. Terminating the expired spot instance ends its request.

use super::Ec2;
use super::error::Ec2Error;
use super::model::{self, Filters, SnapshotInfo, TagInfo};
use super::tags::{BUILD_ID_TAG, EXPIRES_AT_TAG, valid_build_id};
use crate::retry::Backoff;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// EC2 calls one run's sweep may make, describes included: a sweep must
/// never turn a `terraform plan` into a long job. What is left waits for
/// the next run.
pub const MAX_CALLS_PER_RUN: u32 = 40;

/// A sweep this recent in the same directory, of the same account and
/// region, stands for this process's: `terraform apply` starts the provider
/// once to plan and again to apply, seconds apart.
const SWEPT_LATELY: Duration = Duration::from_secs(300);

/// How long one run's sweep may wait for a group to be released by an
/// instance it just terminated.
const GROUP_WAIT: Duration = Duration::from_secs(60);

/// When a bake that starts at `start` and may take `ttl` (its create plus
/// delete timeouts) expires, as RFC 3339 in UTC, to the second.
pub fn expires_at(start: SystemTime, ttl: Duration) -> String {
    let at = start + ttl;
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64().ceil() as i64)
        .unwrap_or(0);
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// Seconds since the epoch of an RFC 3339 time; None when it is not one.
fn parse(at: &str) -> Option<i64> {
    DateTime::from_str(at, Format::DateTime)
        .ok()
        .map(|t| t.secs())
}

/// Whether a resource with `tags` is a bake's temporary resource whose time
/// is up at `now`: it carries a well-formed build id AND an expiry that has
/// passed. Anything else (one tag alone, an unreadable time, a kept image)
/// is never the sweep's.
pub fn expired(tags: &BTreeMap<String, String>, now: SystemTime) -> bool {
    let Some(build_id) = tags.get(BUILD_ID_TAG) else {
        return false;
    };
    let Some(at) = tags.get(EXPIRES_AT_TAG).and_then(|v| parse(v)) else {
        return false;
    };
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    valid_build_id(build_id) && at <= now
}

/// The bound on one run's calls.
struct Budget(u32);

impl Budget {
    /// Takes one call; false once the run's calls are spent.
    fn take(&mut self) -> bool {
        if self.0 == 0 {
            return false;
        }
        self.0 -= 1;
        true
    }
}

/// What one run's sweep did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// One line per resource removed.
    pub removed: Vec<String>,
    /// Calls that failed (logged); the next run tries again.
    pub errors: Vec<String>,
    /// The run's calls ran out before everything expired was removed.
    pub out_of_calls: bool,
}

/// The kinds of resource that hold an expiry already past.
#[derive(Debug, PartialEq)]
struct Due {
    instance: bool,
    volume: bool,
    key_pair: bool,
    image: bool,
    snapshot: bool,
    group: bool,
}

impl Due {
    fn all() -> Due {
        Due {
            instance: true,
            volume: true,
            key_pair: true,
            image: true,
            snapshot: true,
            group: true,
        }
    }

    /// From DescribeTags' answer: a kind is due when one of its resources'
    /// expiry has passed (the build id is checked on the resource itself).
    fn of(tags: &[TagInfo], now: SystemTime) -> Due {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let past = |kind: &str| {
            tags.iter()
                .any(|t| t.resource_type == kind && parse(&t.value).is_some_and(|at| at <= now))
        };
        Due {
            instance: past("instance"),
            volume: past("volume"),
            key_pair: past("key-pair"),
            image: past("image"),
            snapshot: past("snapshot"),
            group: past("security-group"),
        }
    }
}

fn has_expiry() -> Filters {
    model::filters([("tag-key", EXPIRES_AT_TAG)])
}

impl Ec2 {
    /// Removes temporary resources whose `golden:expires-at` is before
    /// `now`, making at most `max_calls` EC2 calls: instances are told to
    /// terminate, key pairs, unfinished images (and their snapshots) and
    /// stray snapshots are deleted, then groups once nothing holds them.
    ///
    /// One DescribeTags of `golden:expires-at` comes first: in the usual
    /// case (nothing expired) it is the run's only call, and otherwise only
    /// the kinds of resource with a past expiry are described. Should it
    /// fail (a policy without `ec2:DescribeTags`), every kind is described.
    pub async fn sweep_expired(&self, now: SystemTime, max_calls: u32) -> SweepReport {
        let mut r = SweepReport::default();
        let mut budget = Budget(max_calls);
        let due = match self
            .swept(
                &mut budget,
                &mut r,
                "DescribeTags",
                self.api.describe_tags_with_key(EXPIRES_AT_TAG),
            )
            .await
        {
            Some(tags) => Due::of(&tags, now),
            None => Due::all(),
        };
        let terminated = due.instance && self.sweep_instances(now, &mut budget, &mut r).await;
        if due.volume {
            self.sweep_volumes(now, &mut budget, &mut r).await;
        }
        if due.key_pair {
            self.sweep_key_pairs(now, &mut budget, &mut r).await;
        }
        let of_images = if due.image {
            self.sweep_images(now, &mut budget, &mut r).await
        } else {
            Vec::new()
        };
        if due.snapshot || !of_images.is_empty() {
            self.sweep_snapshots(now, of_images, &mut budget, &mut r)
                .await;
        }
        if due.group {
            self.sweep_groups(now, terminated, &mut budget, &mut r)
                .await;
        }
        if r.out_of_calls {
            tracing::info!(
                max_calls,
                "expired leftovers remain beyond this run's call budget; the next run continues"
            );
        }
        r
    }

    /// The key under which this directory remembers its last full sweep
    /// (never carried in state: another machine's sweep is no reason to skip).
    fn sweep_key(&self) -> String {
        format!("sweep|{}", self.scope())
    }

    /// The sweep of a provider run: skipped when this directory swept the
    /// same account and region moments ago; remembered when it finished
    /// everything it found.
    pub async fn sweep_expired_once(&self, now: SystemTime, max_calls: u32) -> Option<SweepReport> {
        let key = self.sweep_key();
        if self.facts.within(&key, SWEPT_LATELY).await.is_some() {
            tracing::debug!("expiry sweep: done moments ago in this directory");
            return None;
        }
        let r = self.sweep_expired(now, max_calls).await;
        if r.errors.is_empty() && !r.out_of_calls {
            self.facts.put(&key, Some(Vec::new())).await;
        }
        Some(r)
    }

    /// One call of the sweep, within the budget; None when it is spent or
    /// the call failed (logged and reported).
    async fn swept<T>(
        &self,
        budget: &mut Budget,
        r: &mut SweepReport,
        what: &str,
        call: impl Future<Output = Result<T, Ec2Error>>,
    ) -> Option<T> {
        if !budget.take() {
            r.out_of_calls = true;
            return None;
        }
        match call.await {
            Ok(v) => Some(v),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                tracing::warn!(%what, error = %e, "expiry sweep: call failed; the next run tries again");
                r.errors.push(format!("{what}: {e}"));
                None
            }
        }
    }

    fn removed(r: &mut SweepReport, what: String, tags: &BTreeMap<String, String>) {
        tracing::info!(
            build_id = %tags.get(BUILD_ID_TAG).map(String::as_str).unwrap_or(""),
            expires_at = %tags.get(EXPIRES_AT_TAG).map(String::as_str).unwrap_or(""),
            "removed expired {what}"
        );
        r.removed.push(what);
    }

    /// Tells expired instances to terminate; true when any is (or was
    /// already) on its way out, so a group may be held a while.
    async fn sweep_instances(&self, now: SystemTime, b: &mut Budget, r: &mut SweepReport) -> bool {
        let Some(found) = self
            .swept(
                b,
                r,
                "DescribeInstances",
                self.api.describe_instances(&has_expiry()),
            )
            .await
        else {
            return false;
        };
        let mut ending = false;
        for i in found.into_iter().filter(|i| expired(&i.tags, now)) {
            match i.state.as_str() {
                "terminated" => continue,
                "shutting-down" => ending = true,
                _ => {
                    let what = format!("instance {}", i.id);
                    if self
                        .swept(b, r, &what, self.api.terminate_instance(&i.id))
                        .await
                        .is_some()
                    {
                        ending = true;
                        Self::removed(r, what, &i.tags);
                    }
                }
            }
        }
        ending
    }

    /// Expired volumes no instance holds any more (one that is not deleted
    /// with its instance); an attached one is the next run's.
    async fn sweep_volumes(&self, now: SystemTime, b: &mut Budget, r: &mut SweepReport) {
        let Some(found) = self
            .swept(
                b,
                r,
                "DescribeVolumes",
                self.api.describe_volumes(&has_expiry()),
            )
            .await
        else {
            return;
        };
        for v in found
            .into_iter()
            .filter(|v| v.state == "available" && expired(&v.tags, now))
        {
            let what = format!("volume {}", v.id);
            if self
                .swept(b, r, &what, self.api.delete_volume(&v.id))
                .await
                .is_some()
            {
                Self::removed(r, what, &v.tags);
            }
        }
    }

    async fn sweep_key_pairs(&self, now: SystemTime, b: &mut Budget, r: &mut SweepReport) {
        let Some(found) = self
            .swept(
                b,
                r,
                "DescribeKeyPairs",
                self.api.describe_key_pairs_by(&has_expiry()),
            )
            .await
        else {
            return;
        };
        for k in found.into_iter().filter(|k| expired(&k.tags, now)) {
            let what = format!("key pair {}", k.name);
            if self
                .swept(b, r, &what, self.api.delete_key_pair(&k.name))
                .await
                .is_some()
            {
                Self::removed(r, what, &k.tags);
            }
        }
    }

    /// Deregisters expired (unfinished) images; their snapshots are the
    /// snapshot pass's (returned with the image's tags).
    async fn sweep_images(
        &self,
        now: SystemTime,
        b: &mut Budget,
        r: &mut SweepReport,
    ) -> Vec<SnapshotInfo> {
        let owners = ["self".to_string()];
        let Some(found) = self
            .swept(
                b,
                r,
                "DescribeImages",
                self.api.describe_images(&owners, &has_expiry()),
            )
            .await
        else {
            return Vec::new();
        };
        let mut snapshots = Vec::new();
        for img in found.into_iter().filter(|i| expired(&i.tags, now)) {
            let what = format!("image {}", img.id);
            if self
                .swept(b, r, &what, self.api.deregister_image(&img.id))
                .await
                .is_none()
            {
                continue;
            }
            Self::removed(r, what, &img.tags);
            snapshots.extend(img.snapshot_ids.iter().map(|s| SnapshotInfo {
                id: s.clone(),
                tags: img.tags.clone(),
            }));
        }
        snapshots
    }

    /// Expired snapshots, and those of the images just deregistered. One
    /// still in use is left alone (EC2 refuses; after a deregistration it
    /// is held a moment): the next run takes it.
    async fn sweep_snapshots(
        &self,
        now: SystemTime,
        mut of_images: Vec<SnapshotInfo>,
        b: &mut Budget,
        r: &mut SweepReport,
    ) {
        if let Some(found) = self
            .swept(
                b,
                r,
                "DescribeSnapshots",
                self.api.describe_own_snapshots(&has_expiry()),
            )
            .await
        {
            for s in found.into_iter().filter(|s| expired(&s.tags, now)) {
                if !of_images.iter().any(|o| o.id == s.id) {
                    of_images.push(s);
                }
            }
        }
        for s in of_images {
            if !b.take() {
                r.out_of_calls = true;
                return;
            }
            match self.api.delete_snapshot(&s.id).await {
                Ok(()) => Self::removed(r, format!("snapshot {}", s.id), &s.tags),
                Err(e) if e.is_not_found() || e.has_code("InvalidSnapshot.InUse") => {}
                Err(e) => {
                    tracing::warn!(snapshot = %s.id, error = %e, "expiry sweep: call failed; the next run tries again");
                    r.errors.push(format!("snapshot {}: {e}", s.id));
                }
            }
        }
    }

    /// Deletes expired groups; while an instance on its way out holds one,
    /// retries (within the budget and [`GROUP_WAIT`]) when `terminating`.
    async fn sweep_groups(
        &self,
        now: SystemTime,
        terminating: bool,
        b: &mut Budget,
        r: &mut SweepReport,
    ) {
        let Some(found) = self
            .swept(
                b,
                r,
                "DescribeSecurityGroups",
                self.api.describe_security_groups(&has_expiry()),
            )
            .await
        else {
            return;
        };
        let deadline = tokio::time::Instant::now() + GROUP_WAIT;
        let mut backoff = Backoff::starting(Duration::from_millis(500), Duration::from_secs(5));
        for g in found.into_iter().filter(|g| expired(&g.tags, now)) {
            loop {
                if !b.take() {
                    r.out_of_calls = true;
                    return;
                }
                match self.api.delete_security_group(&g.id).await {
                    Ok(()) => {
                        Self::removed(r, format!("security group {}", g.id), &g.tags);
                        break;
                    }
                    Err(e) if e.is_not_found() => break,
                    Err(e) if e.has_code("DependencyViolation") => {
                        let delay = backoff.next_delay();
                        if !terminating || tokio::time::Instant::now() + delay > deadline {
                            tracing::info!(group = %g.id, "expired security group still in use; the next run tries again");
                            break;
                        }
                        tokio::time::sleep(delay).await;
                    }
                    Err(e) => {
                        tracing::warn!(group = %g.id, error = %e, "expiry sweep: call failed; the next run tries again");
                        r.errors.push(format!("security group {}: {e}", g.id));
                        break;
                    }
                }
            }
        }
    }

    /// A bake keeps its image: one DeleteTags call takes the expiry off
    /// its snapshots and the image (snapshots named first). Either way a
    /// partial outcome is safe: an image still carrying its expiry is not
    /// kept (the bake removes it, or a sweep does, its snapshots with it);
    /// a kept image's snapshot that still expires cannot be deleted while
    /// the image uses it (EC2 refuses, and the sweep leaves it).
    pub async fn keep_image(
        &self,
        image_id: &str,
        snapshot_ids: &[String],
    ) -> Result<(), Ec2Error> {
        let mut ids = snapshot_ids.to_vec();
        ids.push(image_id.to_string());
        self.delete_tags(&ids, &[EXPIRES_AT_TAG.to_string()]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::fake::{DEFAULT_VPC, FakeEc2, SOURCE_AMI, Timing};
    use crate::ec2::model::LaunchSpec;
    use crate::ec2::tags::temporary_tags;
    use std::sync::Arc;

    const PAST: &str = "2020-01-01T00:00:00Z";
    const FUTURE: &str = "2999-01-01T00:00:00Z";
    const DEAD: &str = "00000000dead";
    const LIVE: &str = "0000000011fe";

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_bake_expires_after_its_create_and_delete_timeouts() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_400);
        let at = expires_at(start, Duration::from_secs(60 * 60 + 20 * 60));
        // 1000.4 s + 80 min, rounded up to the second.
        assert_eq!(at, "1970-01-01T01:36:41Z");
        assert_eq!(parse(&at), Some(1001 + 4800));
        let t = temporary_tags(DEAD, &at);
        assert!(!expired(&t, start));
        assert!(expired(&t, start + Duration::from_secs(4801)));
    }

    #[test]
    fn only_both_tags_with_a_past_expiry_are_the_sweeps() {
        let n = now();
        assert!(expired(&temporary_tags(DEAD, PAST), n));
        for (why, t) in [
            ("not yet", temporary_tags(DEAD, FUTURE)),
            (
                "build id only (a kept image)",
                tags(&[(BUILD_ID_TAG, DEAD)]),
            ),
            ("expiry only", tags(&[(EXPIRES_AT_TAG, PAST)])),
            ("no tags (the user's own)", tags(&[])),
            ("not a build id", temporary_tags("*", PAST)),
            ("not a time", temporary_tags(DEAD, "yesterday")),
        ] {
            assert!(!expired(&t, n), "{why}");
        }
    }

    /// A bake's temporary resources in the fake, tagged with `t`: a key
    /// pair, a group, an instance in it, a pending image of that instance
    /// (its snapshot tagged too).
    async fn bake_leftovers(fake: &Arc<FakeEc2>, name: &str, t: &BTreeMap<String, String>) {
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        let group = fake.add_group(name, DEFAULT_VPC, t);
        let made = async {
            ec2.import_key_pair(name, "ssh-ed25519 AAAA", t).await?;
            let spec = LaunchSpec {
                image_id: SOURCE_AMI.into(),
                key_name: name.into(),
                security_group_ids: vec![group],
                instance_tags: t.clone(),
                client_token: name.into(),
                ..Default::default()
            };
            let instance = ec2.run_instance(&spec).await?;
            ec2.create_image(&instance, name, None, t, t, &[]).await
        };
        if let Err(e) = made.await {
            panic!("{e}: {:?}", fake.log())
        }
    }

    #[tokio::test]
    async fn the_sweep_removes_expired_leftovers_and_nothing_else() {
        let fake = FakeEc2::new();
        fake.set_timing(Timing {
            terminate: Duration::from_millis(300),
            image: Duration::from_secs(3600),
            ..Default::default()
        });
        bake_leftovers(&fake, "dead", &temporary_tags(DEAD, PAST)).await;
        bake_leftovers(&fake, "live", &temporary_tags(LIVE, FUTURE)).await;
        bake_leftovers(&fake, "expiry-only", &tags(&[(EXPIRES_AT_TAG, PAST)])).await;
        bake_leftovers(&fake, "users", &tags(&[("team", "web")])).await;
        let kept = fake.add_own_image("kept", &tags(&[(BUILD_ID_TAG, DEAD)]));
        let loose = fake.add_volume("available", &temporary_tags(DEAD, PAST));
        let attached = fake.add_volume("in-use", &temporary_tags(DEAD, PAST));
        let live_volume = fake.add_volume("available", &temporary_tags(LIVE, FUTURE));
        let users_volume = fake.add_volume("available", &tags(&[(EXPIRES_AT_TAG, PAST)]));
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        let before = (fake.snapshots().len(), fake.own_images().len());
        let r = ec2
            .sweep_expired(SystemTime::now(), MAX_CALLS_PER_RUN)
            .await;
        assert!(r.errors.is_empty() && !r.out_of_calls, "{r:?}");
        let kinds: Vec<&str> = r
            .removed
            .iter()
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(
            kinds,
            ["instance", "volume", "key", "image", "snapshot", "security"],
            "{r:?}"
        );
        assert_eq!(fake.key_pairs(), ["expiry-only", "live", "users"]);
        assert_eq!(fake.groups().len(), 3, "{:?}", fake.log());
        assert_eq!(fake.own_images().len(), before.1 - 1);
        assert!(fake.own_images().contains(&kept));
        assert_eq!(fake.snapshots().len(), before.0 - 1);
        assert_eq!(fake.live_instances().len(), 3);
        assert!(!fake.volumes().contains(&loose));
        assert_eq!(fake.volumes(), [attached, live_volume, users_volume]);
        // The group was held until its instance was gone: retried, not given up.
        assert!(fake.calls("DeleteSecurityGroup") >= 2, "{:?}", fake.log());
        // Nothing without both tags was ever the object of a removal.
        for l in fake.log() {
            if l.starts_with("Delete") || l.starts_with("Terminate") || l.starts_with("Deregister")
            {
                assert!(
                    !["live", "expiry-only", "users"]
                        .iter()
                        .any(|n| l.ends_with(n)),
                    "{l}"
                );
            }
        }
    }

    #[tokio::test]
    async fn terminating_an_expired_spot_instance_closes_its_request() {
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        let t = temporary_tags(DEAD, PAST);
        let made = async {
            ec2.import_key_pair("spot", "ssh-ed25519 AAAA", &t).await?;
            let spec = LaunchSpec {
                image_id: SOURCE_AMI.into(),
                key_name: "spot".into(),
                instance_tags: t.clone(),
                client_token: "spot".into(),
                spot: Some(crate::ec2::model::SpotMarket {
                    max_price: None,
                    request_tags: t.clone(),
                }),
                ..Default::default()
            };
            ec2.run_instance(&spec).await
        };
        if let Err(e) = made.await {
            panic!("{e}")
        }
        let live = || {
            fake.spot_requests()
                .into_iter()
                .filter(|(_, s)| s == "active" || s == "open")
                .count()
        };
        assert_eq!(live(), 1);
        let r = ec2
            .sweep_expired(SystemTime::now(), MAX_CALLS_PER_RUN)
            .await;
        assert!(r.errors.is_empty(), "{r:?}");
        assert!(fake.live_instances().is_empty(), "{:?}", fake.log());
        assert_eq!(live(), 0, "{:?}", fake.spot_requests());
        assert_eq!(fake.calls("DescribeSpotInstanceRequests"), 0);
    }

    #[tokio::test]
    async fn one_run_makes_at_most_its_calls_and_the_next_run_goes_on() {
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        let t = temporary_tags(DEAD, PAST);
        for i in 0..12 {
            if let Err(e) = ec2
                .import_key_pair(&format!("k{i:02}"), "ssh-ed25519 AAAA", &t)
                .await
            {
                panic!("{e}")
            }
        }
        let calls = || fake.log().len();
        let start = calls();
        let r = ec2.sweep_expired(SystemTime::now(), 8).await;
        assert_eq!(calls() - start, 8, "{:?}", fake.log());
        assert!(r.out_of_calls, "{r:?}");
        // DescribeTags, DescribeKeyPairs (the only kind due), then six deletions.
        assert_eq!(r.removed.len(), 6, "{r:?}");
        assert_eq!(fake.key_pairs().len(), 6);
        let r = ec2
            .sweep_expired(SystemTime::now(), MAX_CALLS_PER_RUN)
            .await;
        assert_eq!(r.removed.len(), 6, "{r:?}");
        assert!(!r.out_of_calls && fake.key_pairs().is_empty(), "{r:?}");
        for kind in ["DescribeInstances", "DescribeVolumes", "DescribeSnapshots"] {
            assert_eq!(fake.calls(kind), 0, "{kind}: {:?}", fake.log());
        }
    }

    /// With nothing expired (the usual case) a run costs one call; a
    /// resource whose expiry is still ahead is not a reason to describe.
    /// The apply's process does not sweep again what its plan's process,
    /// in the same directory, swept moments before; an unfinished sweep is
    /// not remembered, so the next process goes on with it.
    #[tokio::test]
    async fn a_sweep_moments_ago_in_this_directory_stands() {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeEc2::new();
        let at = |fake: &Arc<FakeEc2>| {
            Ec2::with_api(fake.clone(), "us-east-1".into()).remembering(dir.path().to_path_buf())
        };
        assert!(
            at(&fake)
                .sweep_expired_once(SystemTime::now(), 40)
                .await
                .is_some()
        );
        assert!(
            at(&fake)
                .sweep_expired_once(SystemTime::now(), 40)
                .await
                .is_none()
        );
        assert_eq!(fake.calls("DescribeTags"), 1);

        let busy = FakeEc2::new();
        let other = tempfile::tempdir().unwrap();
        let ec2 = || {
            Ec2::with_api(busy.clone(), "us-east-1".into()).remembering(other.path().to_path_buf())
        };
        let t = temporary_tags(DEAD, PAST);
        for i in 0..3 {
            if let Err(e) = ec2()
                .import_key_pair(&format!("k{i}"), "ssh-ed25519 AAAA", &t)
                .await
            {
                panic!("{e}")
            }
        }
        let r = ec2().sweep_expired_once(SystemTime::now(), 3).await;
        assert!(r.is_some_and(|r| r.out_of_calls));
        let r = ec2().sweep_expired_once(SystemTime::now(), 40).await;
        assert!(
            r.is_some_and(|r| r.removed.len() == 2),
            "the second process goes on"
        );
    }

    #[tokio::test]
    async fn nothing_expired_costs_one_call() {
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        let future = expires_at(SystemTime::now(), Duration::from_secs(3600));
        if let Err(e) = ec2
            .import_key_pair("live", "ssh-ed25519 AAAA", &temporary_tags(DEAD, &future))
            .await
        {
            panic!("{e}")
        }
        let start = fake.log().len();
        let r = ec2
            .sweep_expired(SystemTime::now(), MAX_CALLS_PER_RUN)
            .await;
        assert!(r.removed.is_empty() && r.errors.is_empty(), "{r:?}");
        assert_eq!(
            fake.log()[start..],
            ["DescribeTags golden:expires-at".to_string()]
        );
        assert_eq!(fake.key_pairs().len(), 1);
    }

    /// A policy without ec2:DescribeTags still gets its leftovers swept,
    /// kind by kind, as before.
    #[tokio::test]
    async fn without_describe_tags_every_kind_is_described() {
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        if let Err(e) = ec2
            .import_key_pair("dead", "ssh-ed25519 AAAA", &temporary_tags(DEAD, PAST))
            .await
        {
            panic!("{e}")
        }
        fake.fail("DescribeTags", 1, "UnauthorizedOperation");
        let r = ec2
            .sweep_expired(SystemTime::now(), MAX_CALLS_PER_RUN)
            .await;
        assert_eq!(r.removed.len(), 1, "{r:?}");
        assert!(fake.key_pairs().is_empty());
        assert_eq!(fake.calls("DescribeInstances"), 1, "{:?}", fake.log());
    }

    /// Whatever part of keeping an image got done, a sweep never takes a
    /// kept image and always takes an unkept one with its snapshots.
    #[tokio::test]
    async fn a_half_kept_image_is_never_lost_nor_left_behind() {
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        let key = [EXPIRES_AT_TAG.to_string()];
        let image_of = |build_id: &'static str| {
            let ec2 = ec2.clone();
            async move {
                match ec2.images_tagged(BUILD_ID_TAG, build_id).await.as_deref() {
                    Ok([img]) => img.clone(),
                    other => panic!("{other:?}"),
                }
            }
        };
        // Snapshots untagged, the image not: not kept, so swept whole.
        bake_leftovers(&fake, "a", &temporary_tags(DEAD, PAST)).await;
        let a = image_of(DEAD).await;
        assert!(ec2.delete_tags(&a.snapshot_ids, &key).await.is_ok());
        // The image untagged (kept), its snapshots not.
        bake_leftovers(&fake, "b", &temporary_tags(LIVE, PAST)).await;
        let b = image_of(LIVE).await;
        assert!(
            ec2.delete_tags(std::slice::from_ref(&b.id), &key)
                .await
                .is_ok()
        );
        let r = ec2
            .sweep_expired(SystemTime::now(), MAX_CALLS_PER_RUN)
            .await;
        assert!(r.removed.contains(&format!("image {}", a.id)), "{r:?}");
        assert!(!fake.own_images().contains(&a.id));
        assert!(fake.snapshots().iter().all(|s| !a.snapshot_ids.contains(s)));
        assert!(fake.own_images().contains(&b.id), "{r:?}");
        assert!(b.snapshot_ids.iter().all(|s| fake.snapshots().contains(s)));
        // Kept in full, in one call: nothing of it expires.
        bake_leftovers(&fake, "c", &temporary_tags("0000000000cc", PAST)).await;
        let c = image_of("0000000000cc").await;
        let before = fake.calls("DeleteTags");
        assert!(ec2.keep_image(&c.id, &c.snapshot_ids).await.is_ok());
        assert_eq!(fake.calls("DeleteTags"), before + 1);
        let r = ec2
            .sweep_expired(SystemTime::now(), MAX_CALLS_PER_RUN)
            .await;
        assert!(
            !r.removed
                .iter()
                .any(|l| l.contains(&c.id) || c.snapshot_ids.iter().any(|s| l.contains(s))),
            "{r:?}"
        );
        assert!(fake.own_images().contains(&c.id));
    }
}
