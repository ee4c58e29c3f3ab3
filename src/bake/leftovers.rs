//! Surviving a killed process. Before a bake creates anything it writes a
//! journal entry (build id, region, endpoint, owner pid) in the Terraform
//! working directory; a bake that ends, however it ends, removes it. An
//! entry whose owner is dead is a bake that never cleaned up: the next time
//! the provider is configured there (plan, apply, destroy, import), every
//! resource tagged with that build id is removed. The journal lives under
//! `.terraform/golden-journal/` (or `GOLDEN_JOURNAL_DIR`).

use crate::ec2::Ec2;
use crate::ec2::tags::{BUILD_ID_TAG, valid_build_id};
use crate::ec2::wait::WaitError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    build_id: String,
    region: String,
    endpoint: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    /// Credentials the provider block gave (assumed roles, keys): only the
    /// configured provider has them, so the start-up sweep leaves the entry.
    #[serde(default)]
    credentials: Option<String>,
    pid: u32,
    /// Which process `pid` was: a reused pid is not the owner.
    #[serde(default)]
    started: String,
    /// Where it ran: an entry from another machine or PID namespace cannot be judged.
    #[serde(default)]
    host: String,
    /// An image that reached (or is reaching) Terraform's state: never swept.
    #[serde(default)]
    kept_image: Option<String>,
    /// The other regions the bake copies its image to: its copies there are
    /// swept with the rest, unless the image was kept (copies are kept with it).
    #[serde(default)]
    copy_regions: Vec<String>,
}

/// This process's identity as `/proc` tells it: host, PID namespace, start time.
fn whoami(pid: u32) -> Option<(String, String)> {
    Some((started_in(std::path::Path::new("/proc"), pid)?, host()))
}

/// When process `pid` started, from `<proc>/<pid>/stat`.
fn started_in(proc: &std::path::Path, pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(proc.join(format!("{pid}/stat"))).ok()?;
    // Field 22 (start time), counted after the ")" that ends the command name.
    let started = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .to_string();
    Some(started)
}

fn host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!("{}/{ns}", name.trim())
}

/// Where learned transition times and account facts live (`ec2::pace`,
/// `ec2::facts`): beside the journal, so each working directory learns its own.
pub fn memory_dir() -> PathBuf {
    dir()
}

fn dir() -> PathBuf {
    std::env::var_os("GOLDEN_JOURNAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".terraform/golden-journal"))
}

/// Marks a bake as in progress until dropped.
pub struct JournalEntry {
    path: Option<PathBuf>,
}

impl JournalEntry {
    /// No entry at all: a bake that leaves no trace on disk (tests).
    #[cfg(test)]
    pub fn none() -> JournalEntry {
        JournalEntry { path: None }
    }

    /// Writes the entry; a failure to write is logged, not fatal (the tags remain).
    pub async fn open(build_id: &str, ec2: &Ec2, copy_regions: &[String]) -> JournalEntry {
        let entry = Entry {
            build_id: build_id.to_string(),
            region: ec2.region.clone(),
            endpoint: ec2.endpoint.clone(),
            profile: ec2.profile.clone(),
            credentials: ec2.credentials.clone(),
            pid: std::process::id(),
            started: whoami(std::process::id()).map(|w| w.0).unwrap_or_default(),
            host: host(),
            kept_image: None,
            copy_regions: copy_regions.to_vec(),
        };
        let path = dir().join(format!("{build_id}.json"));
        let write = async {
            tokio::fs::create_dir_all(dir()).await?;
            let body = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
            tokio::fs::write(&path, body).await
        };
        match write.await {
            Ok(()) => JournalEntry { path: Some(path) },
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "cannot write the bake journal; a killed bake would be found by tags only");
                JournalEntry { path: None }
            }
        }
    }

    /// Records that `image` belongs to Terraform now, so no sweep removes it
    /// even if this entry outlives the bake (a cleanup that failed).
    pub async fn keep_image(&self, image: &str) {
        let Some(path) = &self.path else { return };
        let Ok(body) = tokio::fs::read(path).await else {
            return;
        };
        let Ok(mut entry) = serde_json::from_slice::<Entry>(&body) else {
            return;
        };
        entry.kept_image = Some(image.to_string());
        if let Ok(body) = serde_json::to_vec(&entry) {
            let _ = tokio::fs::write(path, body).await;
        }
    }

    pub async fn close(mut self) {
        if let Some(p) = self.path.take() {
            let _ = tokio::fs::remove_file(p).await;
        }
    }
}

/// True when the entry's bake is provably dead: written on this host and
/// PID namespace, and its process is gone (or the pid now names another).
async fn owner_dead(entry: &Entry) -> bool {
    owner_dead_in(std::path::Path::new("/proc"), entry).await
}

async fn owner_dead_in(proc: &std::path::Path, entry: &Entry) -> bool {
    if entry.host != host() {
        return false;
    }
    // Without our own entry readable, `/proc` is absent or hidden here, and
    // a missing owner would prove nothing.
    if tokio::fs::metadata(proc.join("self/stat")).await.is_err() {
        return false;
    }
    match tokio::fs::read(proc.join(format!("{}/cmdline", entry.pid))).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        // Cannot be inspected: taken as alive.
        Err(_) => false,
        Ok(cmd) if !String::from_utf8_lossy(&cmd).contains("terraform-provider-golden") => true,
        // Our provider: the owner unless it started at another time. Without a
        // recorded or readable start time a reused pid cannot be told apart.
        Ok(_) if entry.started.is_empty() => false,
        Ok(_) => started_in(proc, entry.pid).is_some_and(|started| started != entry.started),
    }
}

/// Reads one journal entry; a damaged one (unreadable, or with a build id
/// that is not one) is left where it is, untouched.
async fn read_entry(path: &std::path::Path) -> Option<Entry> {
    let body = tokio::fs::read(path).await.ok()?;
    let entry = serde_json::from_slice::<Entry>(&body).ok()?;
    if !valid_build_id(&entry.build_id) {
        tracing::warn!(path = %path.display(), build_id = ?entry.build_id, "journal entry with a damaged build id; left alone");
        return None;
    }
    Some(entry)
}

/// The interrupted bakes' settings, without the provider block: run when the
/// plugin starts, because Terraform never configures a provider whose
/// resources are all absent from state (a `terraform destroy` after a crash
/// mid-create would otherwise never sweep). Reads a local directory and makes
/// no network call unless a dead entry exists.
pub async fn sweep_orphans() -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(dir()).await else {
        return removed;
    };
    let mut targets: Vec<crate::ec2::AwsSettings> = Vec::new();
    while let Ok(Some(e)) = entries.next_entry().await {
        let Some(entry) = read_entry(&e.path()).await else {
            continue;
        };
        if !owner_dead(&entry).await {
            continue;
        }
        // Before Terraform configures the provider there is no endpoint to
        // compare with: only AWS itself or this machine get signed requests,
        // whatever the file says. Other endpoints wait for the sweep that
        // runs with the configured provider.
        if entry.credentials.is_some() {
            tracing::info!(build_id = %entry.build_id, "leftovers made with the provider block's credentials wait for the configured provider");
            continue;
        }
        if !entry.endpoint.as_deref().is_none_or(startup_endpoint_ok) {
            tracing::warn!(endpoint = ?entry.endpoint, "leftovers at a custom endpoint wait for the configured provider");
            continue;
        }
        let s = crate::ec2::AwsSettings {
            region: Some(entry.region),
            profile: entry.profile,
            ec2_endpoint: entry.endpoint,
            max_retries: 5,
            ..Default::default()
        };
        if !targets.iter().any(|t| {
            t.region == s.region && t.ec2_endpoint == s.ec2_endpoint && t.profile == s.profile
        }) {
            targets.push(s);
        }
    }
    for s in targets {
        let ec2 = match Ec2::connect(&s).await {
            Ok(ec2) => ec2,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach EC2 for the start-up sweep");
                continue;
            }
        };
        removed.extend(sweep(&ec2).await);
    }
    if !removed.is_empty() {
        tracing::warn!(?removed, "removed what an interrupted bake left behind");
    }
    removed
}

/// An endpoint the start-up sweep may sign requests for: AWS's own hosts,
/// or this machine (a local emulator).
fn startup_endpoint_ok(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or("");
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host_port.contains('@') {
        return false;
    }
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        || host.ends_with(".amazonaws.com")
        || host.ends_with(".amazonaws.com.cn")
}

/// Removes what interrupted bakes left; returns a line per thing removed.
pub async fn sweep(ec2: &Ec2) -> Vec<String> {
    sweep_dir(&dir(), ec2).await
}

async fn sweep_dir(dir: &std::path::Path, ec2: &Ec2) -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return removed;
    };
    while let Ok(Some(e)) = entries.next_entry().await {
        let path = e.path();
        let Some(entry) = read_entry(&path).await else {
            continue;
        };
        if entry.region != ec2.region
            || entry.endpoint != ec2.endpoint
            || entry.profile != ec2.profile
            || entry.credentials != ec2.credentials
            || !owner_dead(&entry).await
        {
            continue;
        }
        tracing::warn!(build_id = %entry.build_id, "removing what an interrupted bake left behind");
        match remove_tagged(
            ec2,
            &entry.build_id,
            entry.kept_image.as_deref(),
            &mut removed,
        )
        .await
        {
            Ok(()) if entry.kept_image.is_none() => {
                let mut swept = Ok(());
                for region in &entry.copy_regions {
                    let there = ec2.in_region(region);
                    if let Err(e) = remove_tagged(&there, &entry.build_id, None, &mut removed).await
                    {
                        tracing::error!(build_id = %entry.build_id, %region, error = %e, "leftover copies not removed; will retry next time");
                        swept = Err(e);
                    }
                }
                if swept.is_ok() {
                    let _ = tokio::fs::remove_file(&path).await;
                }
            }
            Ok(()) => {
                let _ = tokio::fs::remove_file(&path).await;
            }
            Err(e) => {
                tracing::error!(build_id = %entry.build_id, error = %e, "leftover sweep incomplete; will retry next time")
            }
        }
    }
    removed
}

/// Deletes every resource tagged with `build_id`, instances first. Refuses
/// anything that is not a build id: it goes into tag filters.
pub async fn remove_tagged(
    ec2: &Ec2,
    build_id: &str,
    kept_image: Option<&str>,
    removed: &mut Vec<String>,
) -> Result<(), WaitError> {
    if !valid_build_id(build_id) {
        return Err(WaitError::Failed(format!(
            "{build_id:?} is not a build id; nothing removed"
        )));
    }
    let instances = ec2.instances_tagged(BUILD_ID_TAG, build_id).await?;
    ec2.terminate_all(&instances, Duration::from_secs(600))
        .await?;
    removed.extend(instances.iter().map(|id| format!("instance {id}")));
    for id in ec2.groups_tagged(BUILD_ID_TAG, build_id).await? {
        ec2.wait_security_group_deleted(&id, None, Duration::from_secs(300))
            .await?;
        removed.push(format!("security group {id}"));
    }
    let key = format!("golden-{build_id}");
    if ec2.key_pair_exists(&key).await? {
        ec2.delete_key_pair(&key).await?;
        removed.push(format!("key pair {key}"));
    }
    let never = CancellationToken::new();
    for img in ec2.images_tagged(BUILD_ID_TAG, build_id).await? {
        if Some(img.id.as_str()) == kept_image {
            continue;
        }
        ec2.delete_image_and_snapshots(&img.id, &img.snapshot_ids, &never)
            .await?;
        removed.push(format!("image {} and its snapshots", img.id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_startup_sweep_signs_only_for_aws_or_this_machine() {
        for ok in [
            "http://127.0.0.1:5000",
            "http://localhost:4566/",
            "http://[::1]:5000",
            "https://ec2.eu-west-1.amazonaws.com",
            "https://ec2.cn-north-1.amazonaws.com.cn",
        ] {
            assert!(super::startup_endpoint_ok(ok), "{ok}");
        }
        for bad in [
            "https://evil.example",
            "https://ec2.amazonaws.com.evil.example",
            "http://127.0.0.1@evil.example",
            "http://10.0.0.1:5000",
            "ftp://127.0.0.1",
            "",
        ] {
            assert!(!super::startup_endpoint_ok(bad), "{bad}");
        }
    }

    use super::*;
    use crate::ec2::fake::{DEFAULT_VPC, FakeEc2, SOURCE_AMI};
    use crate::ec2::model::LaunchSpec;
    use std::collections::BTreeMap;

    /// What a bake killed after creating its image leaves, in the fake.
    async fn leftovers_of(fake: &FakeEc2, ec2: &Ec2, build_id: &str) -> (String, String) {
        let tags = BTreeMap::from([(BUILD_ID_TAG.to_string(), build_id.to_string())]);
        let key = format!("golden-{build_id}");
        let group = fake.add_group(&key, DEFAULT_VPC, &tags);
        let launched = async {
            ec2.import_key_pair(&key, "ssh-ed25519 AAAA", &tags).await?;
            let spec = LaunchSpec {
                image_id: SOURCE_AMI.into(),
                key_name: key.clone(),
                security_group_ids: vec![group],
                instance_tags: tags.clone(),
                client_token: key.clone(),
                ..Default::default()
            };
            ec2.run_instance(&spec).await
        };
        let Ok(instance) = launched.await else {
            panic!("{:?}", fake.log())
        };
        let name = format!("unfinished-{build_id}");
        let Ok(image) = ec2
            .create_image(&instance, &name, None, &tags, &tags, &[])
            .await
        else {
            panic!("{:?}", fake.log())
        };
        (instance, image)
    }

    #[tokio::test]
    async fn remove_tagged_removes_all_but_the_kept_image() {
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        let (_, unfinished) = leftovers_of(&fake, &ec2, B1).await;
        let kept = fake.add_own_image(
            "finished",
            &BTreeMap::from([(BUILD_ID_TAG.to_string(), B1.to_string())]),
        );
        let mut removed = Vec::new();
        let r = remove_tagged(&ec2, B1, Some(&kept), &mut removed).await;
        assert!(r.is_ok(), "{r:?}");
        assert!(fake.live_instances().is_empty());
        assert!(fake.groups().is_empty() && fake.key_pairs().is_empty());
        assert_eq!(fake.own_images(), vec![kept]);
        assert_eq!(removed.len(), 4, "{removed:?}");
        assert!(removed.contains(&format!("image {unfinished} and its snapshots")));
    }

    /// A killed bake's copies in another region go with its other leftovers,
    /// unless its image was kept (its copies are kept with it).
    #[tokio::test]
    async fn sweep_removes_a_dead_bakes_copies_in_their_regions() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (home, west) = (FakeEc2::new(), FakeEc2::new());
        let mut ec2 = Ec2::with_api(home.clone(), "us-east-1".into());
        let w = west.clone();
        ec2.regions = crate::ec2::regions::Regions::new(std::sync::Arc::new(move |_: &str| {
            let api: std::sync::Arc<dyn crate::ec2::api::Ec2Api> = w.clone();
            api
        }));
        let ours = BTreeMap::from([(BUILD_ID_TAG.to_string(), DEAD.to_string())]);
        west.add_own_image("copy", &ours);
        let kept_copy = west.add_own_image(
            "kept",
            &BTreeMap::from([(BUILD_ID_TAG.to_string(), B1.to_string())]),
        );
        let mut dead = entry(DEAD);
        dead.copy_regions = vec!["us-west-2".into()];
        let mut kept = entry(B1);
        kept.copy_regions = vec!["us-west-2".into()];
        kept.kept_image = Some("ami-home".into());
        write_entries(dir.path(), [dead, kept]);
        let removed = sweep_dir(dir.path(), &ec2).await;
        assert_eq!(removed.len(), 1, "{removed:?}");
        assert_eq!(west.own_images(), vec![kept_copy]);
        assert!(!dir.path().join(format!("{DEAD}.json")).exists());
    }

    #[tokio::test]
    async fn sweep_removes_a_dead_bakes_leftovers_and_leaves_one_it_cannot_judge() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        leftovers_of(&fake, &ec2, DEAD).await;
        leftovers_of(&fake, &ec2, ELSEWHERE).await;
        // A bake on another machine may be alive, so it is not this sweep's to judge.
        let mut elsewhere = entry(ELSEWHERE);
        elsewhere.host = "another-host/ns".into();
        write_entries(dir.path(), [entry(DEAD), elsewhere]);
        let removed = sweep_dir(dir.path(), &ec2).await;
        assert_eq!(removed.len(), 4, "{removed:?}");
        assert!(!dir.path().join(format!("{DEAD}.json")).exists());
        assert!(dir.path().join(format!("{ELSEWHERE}.json")).exists());
        assert!(matches!(
            ec2.instances_tagged(BUILD_ID_TAG, ELSEWHERE)
                .await
                .as_deref(),
            Ok([_])
        ));
        assert!(matches!(
            ec2.instances_tagged(BUILD_ID_TAG, DEAD).await.as_deref(),
            Ok([])
        ));
    }

    /// Leftovers made with an assumed role are the business of a provider
    /// assuming that role: one with other credentials would look in another
    /// account, find nothing and drop the entry.
    #[tokio::test]
    async fn only_a_provider_with_the_same_block_credentials_sweeps_their_leftovers() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let fake = FakeEc2::new();
        let mut ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        leftovers_of(&fake, &ec2, DEAD).await;
        let mut e = entry(DEAD);
        e.credentials = Some("role arn:aws:iam::111111111111:role/baker".into());
        write_entries(dir.path(), [e]);
        assert!(sweep_dir(dir.path(), &ec2).await.is_empty());
        assert!(dir.path().join(format!("{DEAD}.json")).exists());
        ec2.credentials = Some("role arn:aws:iam::111111111111:role/baker".into());
        assert_eq!(sweep_dir(dir.path(), &ec2).await.len(), 4);
        assert!(!dir.path().join(format!("{DEAD}.json")).exists());
    }

    const B1: &str = "0000000000b1";
    const DEAD: &str = "00000000dead";
    const ELSEWHERE: &str = "0000000e15e0";

    /// The entry of a bake whose process is gone: no process has a pid above
    /// the kernel's limit (2^22).
    fn entry(build_id: &str) -> Entry {
        Entry {
            build_id: build_id.into(),
            region: "us-east-1".into(),
            endpoint: None,
            profile: None,
            credentials: None,
            pid: 1 << 23,
            started: String::new(),
            host: host(),
            kept_image: None,
            copy_regions: vec![],
        }
    }

    fn write_entries<const N: usize>(dir: &std::path::Path, entries: [Entry; N]) {
        for (i, e) in entries.into_iter().enumerate() {
            let body = serde_json::to_vec(&e).unwrap_or_default();
            let name = if valid_build_id(&e.build_id) {
                e.build_id.clone()
            } else {
                format!("damaged-{i}")
            };
            std::fs::write(dir.join(format!("{name}.json")), body)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// A damaged or hostile entry's build id never reaches a tag filter, where
    /// `*` would match every build.
    #[tokio::test]
    async fn an_entry_whose_build_id_is_not_one_sweeps_nothing() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        leftovers_of(&fake, &ec2, DEAD).await;
        leftovers_of(&fake, &ec2, B1).await;
        let damaged = [
            "*",
            "00000000dea?",
            "00000000DEAD",
            "00000000dead ",
            "dead",
            "",
        ];
        write_entries(dir.path(), damaged.map(entry));
        let removed = sweep_dir(dir.path(), &ec2).await;
        assert!(removed.is_empty(), "{removed:?}");
        assert_eq!(fake.live_instances().len(), 2);
        assert_eq!(fake.own_images().len(), 2);
        assert_eq!(fake.key_pairs().len(), 2);
        assert_eq!(fake.calls("DescribeInstances"), 0, "{:?}", fake.log());
        assert_eq!(fake.calls("DescribeImages"), 0, "{:?}", fake.log());
        assert_eq!(
            std::fs::read_dir(dir.path()).map(|d| d.count()).ok(),
            Some(6)
        );
        assert!(valid_build_id(DEAD) && valid_build_id("0123456789ab"));
    }

    /// `remove_tagged` itself refuses what is not a build id, whoever calls it.
    #[tokio::test]
    async fn remove_tagged_refuses_what_is_not_a_build_id() {
        let fake = FakeEc2::new();
        let ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        leftovers_of(&fake, &ec2, B1).await;
        let before = fake.log().len();
        let mut removed = Vec::new();
        let r = remove_tagged(&ec2, "*", None, &mut removed).await;
        assert!(
            matches!(&r, Err(WaitError::Failed(m)) if m.contains("build id")),
            "{r:?}"
        );
        assert_eq!(fake.log().len(), before, "{:?}", fake.log());
        assert!(removed.is_empty());
    }

    /// Only the configured provider's endpoint and profile are swept: an
    /// entry recorded for another is left alone, with what it names.
    #[tokio::test]
    async fn an_entry_for_another_endpoint_or_profile_is_left_alone() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let fake = FakeEc2::new();
        let mut ec2 = Ec2::with_api(fake.clone(), "us-east-1".into());
        ec2.endpoint = Some("http://127.0.0.1:5000".into());
        ec2.profile = Some("build".into());
        leftovers_of(&fake, &ec2, DEAD).await;
        leftovers_of(&fake, &ec2, ELSEWHERE).await;
        leftovers_of(&fake, &ec2, B1).await;
        let mut other_endpoint = entry(DEAD);
        other_endpoint.endpoint = Some("http://127.0.0.1:6000".into());
        other_endpoint.profile = ec2.profile.clone();
        let mut other_profile = entry(ELSEWHERE);
        other_profile.endpoint = ec2.endpoint.clone();
        other_profile.profile = Some("prod".into());
        let mut ours = entry(B1);
        ours.endpoint = ec2.endpoint.clone();
        ours.profile = ec2.profile.clone();
        write_entries(dir.path(), [other_endpoint, other_profile, ours]);
        let removed = sweep_dir(dir.path(), &ec2).await;
        assert_eq!(removed.len(), 4, "{removed:?}");
        for id in [DEAD, ELSEWHERE] {
            assert!(dir.path().join(format!("{id}.json")).exists());
            assert!(matches!(
                ec2.instances_tagged(BUILD_ID_TAG, id).await.as_deref(),
                Ok([_])
            ));
        }
        assert!(!dir.path().join(format!("{B1}.json")).exists());
    }

    /// A fake `/proc` with this process readable (or not) and the owner's
    /// entry as given.
    fn proc_root(readable_self: bool) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        if readable_self {
            let me = root.path().join("self");
            std::fs::create_dir_all(&me).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(
                me.join("stat"),
                "1 (x) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 7 0",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
        root
    }

    /// Where the owner cannot be inspected, it is taken as alive: its entry
    /// (and what it names) stays.
    #[tokio::test]
    async fn an_owner_that_cannot_be_inspected_is_alive() {
        let mut e = entry(DEAD);
        e.pid = 42;
        // Our own /proc entry unreadable (no /proc, or a sandbox): nothing can be judged.
        let root = proc_root(false);
        assert!(!owner_dead_in(root.path(), &e).await, "no /proc");
        // The owner's cmdline exists but cannot be read.
        let root = proc_root(true);
        let pid = root.path().join("42");
        std::fs::create_dir_all(pid.join("cmdline")).unwrap_or_else(|e| panic!("{e}"));
        assert!(!owner_dead_in(root.path(), &e).await, "unreadable cmdline");
        // Our provider, but no start time was recorded: a reused pid cannot be told apart.
        let root = proc_root(true);
        let pid = root.path().join("42");
        std::fs::create_dir_all(&pid).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(pid.join("cmdline"), "/x/terraform-provider-golden\0")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            pid.join("stat"),
            "42 (t) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 99 0",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !owner_dead_in(root.path(), &e).await,
            "no start time recorded"
        );
        // ... but its stat unreadable with one recorded: still alive.
        e.started = "98".into();
        std::fs::remove_file(pid.join("stat")).unwrap_or_else(|e| panic!("{e}"));
        assert!(!owner_dead_in(root.path(), &e).await, "unreadable stat");
        // What can be judged still is: another start time is another process,
        std::fs::write(
            pid.join("stat"),
            "42 (t) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 99 0",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(owner_dead_in(root.path(), &e).await, "pid reused");
        // the same one is the owner,
        e.started = "99".into();
        assert!(!owner_dead_in(root.path(), &e).await, "the owner");
        // and a pid that names no process is a dead owner.
        e.pid = 43;
        assert!(owner_dead_in(root.path(), &e).await, "gone");
    }
}
