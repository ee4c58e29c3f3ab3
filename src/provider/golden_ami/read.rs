//! Read (refresh from EC2), import, and state upgrades.

use super::private::Private;
use super::schema::{SCHEMA_VERSION, schema};
use crate::ec2::images::ImageInfo;
use crate::ec2::regions::COPY_REGIONS_TAG;
use crate::ec2::tags::{BUILD_ID_TAG, INPUT_DIGEST_TAG, SOURCE_AMI_TAG};
use crate::protocol::diag::{Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use crate::provider::tag_policy::TagPolicy;
use crate::provider::{Configured, StateOutcome};
use std::collections::BTreeMap;

/// The tags a user sees in `tags`: ours (`golden:*`) are bookkeeping.
fn user_tags(
    all: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    all.iter()
        .filter(|(k, _)| !k.starts_with("golden:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Writes what EC2 says of the image into `state`; `policy` leaves ignored
/// and unchanged default tags out of `tags`.
fn refresh(state: &mut Value, img: &ImageInfo, region: &str, policy: &TagPolicy) {
    state.set("id", Value::string(&img.id));
    state.set("name", Value::string(&img.name));
    state.set("region", Value::string(region));
    state.set("creation_date", Value::string(&img.creation_date));
    state.set("snapshot_ids", Value::string_list(img.snapshot_ids.clone()));
    let all = user_tags(&img.tags);
    let tags = policy.shown(&all, &state.get("tags").as_string_map());
    state.set(
        "tags_all",
        Value::string_map(
            all.into_iter()
                .filter(|(k, _)| !policy.ignores(k))
                .collect::<BTreeMap<_, _>>(),
        ),
    );
    // Keep "no tags" as null when the configuration had none.
    if !(tags.is_empty() && state.get("tags").is_null()) {
        state.set("tags", Value::string_map(tags));
    }
    if !state.get("description").is_null()
        || img.description.as_deref().is_some_and(|d| !d.is_empty())
    {
        state.set("description", Value::opt_string(img.description.clone()));
    }
    refresh_deprecation(state, img.deprecation_time.as_deref());
    refresh_protection(state, img.deregistration_protection.as_deref());
    // Only what the configuration set is compared: an image may show a
    // value it did not get from this resource.
    if !state.get("imds_support").is_null() {
        state.set("imds_support", Value::opt_string(img.imds_support.clone()));
    }
    if !state.get("ena_support").is_null() {
        state.set("ena_support", Value::Bool(img.ena_support == Some(true)));
    }
    if !state.get("sriov_support").is_null() {
        let simple = img.sriov_net_support.as_deref() == Some("simple");
        state.set("sriov_support", Value::Bool(simple));
    }
}

/// Writes EC2's deregistration protection into its block. EC2 forgets the
/// cooldown flag once protection is off, so a disabled block keeps the
/// configured one; no block stays null while EC2 shows none.
fn refresh_protection(state: &mut Value, shown: Option<&str>) {
    let Some(shown) = shown else { return };
    let (enabled, cooldown) = match shown {
        "enabled-with-cooldown" => (true, true),
        "enabled-without-cooldown" => (true, false),
        _ => (false, false),
    };
    let known = state.get("deregistration_protection").clone();
    if known.is_null() && !enabled {
        return;
    }
    // An unset `with_cooldown` means its default, false: it stays unset
    // while EC2 agrees.
    let configured = known.get("with_cooldown").clone();
    let with_cooldown = if !enabled || (!cooldown && configured.is_null()) {
        configured
    } else {
        Value::Bool(cooldown)
    };
    let block = BTreeMap::from([
        ("enabled".to_string(), Value::Bool(enabled)),
        ("with_cooldown".to_string(), with_cooldown),
    ]);
    state.set("deregistration_protection", Value::Map(block));
}

/// Writes when EC2 deprecates the image into `deprecate_at`. EC2 rounds the
/// seconds to the minute and renders the time its own way
/// (`2030-01-01T00:00:00.000Z` for `2030-01-01T00:00:00Z`), so the configured
/// text stays while it names the same minute; none stays null.
fn refresh_deprecation(state: &mut Value, seen: Option<&str>) {
    let known = state.get("deprecate_at").as_str().map(str::to_string);
    let same = match (known.as_deref(), seen) {
        (None, None) => true,
        (Some(k), Some(s)) => {
            k == s || deprecation_minute(k).is_some_and(|m| Some(m) == deprecation_minute(s))
        }
        _ => false,
    };
    if !same {
        state.set("deprecate_at", Value::opt_string(seen));
    }
}

/// The minute EC2 deprecates at for an RFC 3339 time: rounded to the nearest,
/// as EnableImageDeprecation does.
fn deprecation_minute(t: &str) -> Option<i64> {
    use aws_smithy_types::DateTime;
    use aws_smithy_types::date_time::Format;
    let t = DateTime::from_str(t, Format::DateTime).ok()?;
    Some((t.secs() + 30).div_euclid(60))
}

/// What to record as the snapshots' tags, given what each carries: the
/// configured map when every snapshot carries exactly it. Otherwise a map
/// that differs from it wherever any snapshot does, so the update (which
/// deletes keys the configuration lacks and writes the values that differ,
/// on every snapshot) puts them all back at once: a key missing on any
/// snapshot is left out, an extra key on any is in, and a value that
/// differs on any is that value.
fn seen_snapshot_tags(
    configured: &BTreeMap<String, String>,
    snapshots: &[BTreeMap<String, String>],
) -> BTreeMap<String, String> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for tags in snapshots {
        for (k, v) in tags {
            let keep = seen
                .get(k)
                .is_some_and(|have| configured.get(k) != Some(have));
            if !keep {
                seen.insert(k.clone(), v.clone());
            }
        }
    }
    seen.retain(|k, _| !configured.contains_key(k) || snapshots.iter().all(|t| t.contains_key(k)));
    seen
}

/// Writes a list EC2 holds as a set into `attr`: the configured order when
/// the set is the same, and an empty one stays null when none was set.
fn refresh_list(state: &mut Value, attr: &str, found: Vec<String>) {
    let known = state.get(attr);
    if known.is_null() && found.is_empty() {
        return;
    }
    let (mut configured, mut seen) = (known.as_string_list(), found.clone());
    configured.sort();
    seen.sort();
    if configured != seen || known.is_null() {
        state.set(attr, Value::string_list(found));
    }
}

/// Sorts EC2's launch permissions back into the attributes that grant them:
/// Organizations ARNs by their shape, `all` into `ami_users` when written
/// there (it is accepted there too) and into `ami_groups` otherwise.
fn refresh_sharing(state: &mut Value, found: Vec<String>) {
    let all_in_users = state
        .get("ami_users")
        .as_string_list()
        .iter()
        .any(|u| u == "all");
    let (mut users, mut groups, mut orgs, mut ous) = (vec![], vec![], vec![], vec![]);
    for p in found {
        if p.contains(":organization/") {
            orgs.push(p);
        } else if p.contains(":ou/") {
            ous.push(p);
        } else if p == "all" && !all_in_users {
            groups.push(p);
        } else {
            users.push(p);
        }
    }
    refresh_list(state, "ami_users", users);
    refresh_list(state, "ami_groups", groups);
    refresh_list(state, "ami_org_arns", orgs);
    refresh_list(state, "ami_ou_arns", ous);
}

/// Splits snapshot permissions into `snapshot_users` and `snapshot_groups`.
fn refresh_snapshot_sharing(state: &mut Value, found: Vec<String>) {
    let (groups, users): (Vec<String>, Vec<String>) = found.into_iter().partition(|p| p == "all");
    refresh_list(state, "snapshot_users", users);
    refresh_list(state, "snapshot_groups", groups);
}

/// Looks up each copy in its region. For one deregistered by hand its
/// region leaves `ami_regions`: the plan then replaces the image, as a copy
/// is not re-made alone. `region_ami_ids` keeps it: it records where the
/// resource made images, which the destroy visits (for the copy's
/// snapshots, which EC2 keeps).
async fn refresh_copies(c: &Configured, state: &mut Value) -> Result<(), Diagnostic> {
    let ids = state.get("region_ami_ids").as_string_map();
    let mut there = BTreeMap::new();
    for (region, id) in &ids {
        if region == &c.ec2.region {
            there.insert(region.clone(), id.clone());
            continue;
        }
        match c.ec2_in(region).describe_image(id).await {
            Ok(Some(_)) => {
                there.insert(region.clone(), id.clone());
            }
            Ok(None) => tracing::info!(%region, image = %id, "a copy of the AMI is gone"),
            Err(e) => {
                return Err(Diagnostic::error(
                    format!("Cannot read the copy {id} in {region}"),
                    e.to_string(),
                ));
            }
        }
    }
    if there.len() != ids.len() {
        let regions: Vec<String> = state
            .get("ami_regions")
            .as_string_list()
            .into_iter()
            .filter(|r| r == &c.ec2.region || there.contains_key(r))
            .collect();
        state.set("ami_regions", Value::string_list(regions));
    }
    Ok(())
}

pub async fn read(c: &Configured, state: Value, private: Vec<u8>) -> StateOutcome {
    // What earlier bakes learned, from wherever the state lives, seeds this
    // machine's memory before anything here waits.
    let kept = Private::read(&private);
    c.ec2.pacer.absorb(kept.learned).await;
    c.ec2.facts.absorb(kept.facts).await;
    let Some(id) = state.get("id").as_str().map(str::to_string) else {
        return StateOutcome {
            state,
            private,
            diags: Diagnostics::default(),
        };
    };
    // A source AMI named by id is read with the image: the plan that
    // follows looks it up (and the apply bakes from it) without asking again.
    let found = match state.get("source_ami").as_str() {
        Some(source) => c.ec2.describe_image_and_source(&id, source).await,
        None => c.ec2.describe_image(&id).await,
    };
    match found {
        Ok(Some(img)) => {
            // The image is there (again): nothing to replace.
            let private = Private {
                image_gone: false,
                ..Private::read(&private)
            }
            .bytes();
            let mut state = state;
            refresh(&mut state, &img, &c.ec2.region, &c.tags);
            if let Err(d) = refresh_copies(c, &mut state).await {
                return StateOutcome::err(state, d);
            }
            // The snapshots' tags cost one DescribeSnapshots call per refresh,
            // so it is made only when the state has `snapshot_tags` (set in
            // the configuration, even to `{}`): a plain refresh stays at
            // DescribeImages + DescribeImageAttribute. Tags put by hand on the
            // snapshots of an image configured without `snapshot_tags` are
            // not seen, as nothing in the configuration speaks of them.
            if !state.get("snapshot_tags").is_null() {
                match c.ec2.snapshot_tags(&img.snapshot_ids).await {
                    Ok(found) => {
                        let configured = state.get("snapshot_tags").as_string_map();
                        let each: Vec<_> = found
                            .values()
                            .map(|t| c.tags.shown(&user_tags(t), &configured))
                            .collect();
                        state.set(
                            "snapshot_tags",
                            Value::string_map(seen_snapshot_tags(&configured, &each)),
                        );
                    }
                    Err(e) => {
                        return StateOutcome::err(
                            state,
                            Diagnostic::error(
                                format!("Cannot read the snapshots of AMI {id}"),
                                e.to_string(),
                            ),
                        );
                    }
                }
            }
            // Sharing is read whether configured or not: an image made
            // public by hand must show up in the plan.
            // Snapshot sharing costs a call per snapshot: read only when
            // configured, as `snapshot_tags` is.
            if !state.get("snapshot_users").is_null() || !state.get("snapshot_groups").is_null() {
                let mut found: Vec<String> = vec![];
                for s in &img.snapshot_ids {
                    match c.ec2.snapshot_permissions(s).await {
                        Ok(ps) => found.extend(
                            ps.into_iter()
                                .filter(|p| !found.contains(p))
                                .collect::<Vec<_>>(),
                        ),
                        Err(e) => {
                            return StateOutcome::err(
                                state,
                                Diagnostic::error(
                                    format!("Cannot read the snapshots of AMI {id}"),
                                    e.to_string(),
                                ),
                            );
                        }
                    }
                }
                refresh_snapshot_sharing(&mut state, found);
            }
            match c.ec2.launch_permissions(&id).await {
                Ok(users) => refresh_sharing(&mut state, users),
                Err(e) => {
                    return StateOutcome::err(
                        state,
                        Diagnostic::error(format!("Cannot read AMI {id}"), e.to_string()),
                    );
                }
            }
            StateOutcome {
                state,
                private,
                diags: Diagnostics::default(),
            }
        }
        Ok(None) => {
            // Deregistered out of band: EC2 keeps the snapshots. The state
            // stays, so the next apply's replacement (or a destroy) deletes
            // them; with none, there is nothing to keep.
            if state.get("snapshot_ids").as_list().is_empty() {
                tracing::info!(image = %id, "AMI is gone; removing it from state");
                return StateOutcome {
                    state: Value::Null,
                    private,
                    diags: Diagnostics::default(),
                };
            }
            tracing::info!(image = %id, "AMI is gone; the next apply replaces it and deletes its snapshots");
            let gone = Private {
                image_gone: true,
                ..Private::read(&private)
            };
            StateOutcome {
                state,
                private: gone.bytes(),
                diags: Diagnostics::default(),
            }
        }
        Err(e) => StateOutcome::err(
            state,
            Diagnostic::error(format!("Cannot read AMI {id}"), e.to_string()),
        ),
    }
}

/// The copies of an imported image: the regions its `golden:copy-regions`
/// tag names, each copy found there by the build id (the regions contract).
async fn import_copies(
    c: &Configured,
    img: &ImageInfo,
    state: &mut Value,
) -> Result<(), Diagnostic> {
    let (Some(regions), Some(build_id)) =
        (img.tags.get(COPY_REGIONS_TAG), img.tags.get(BUILD_ID_TAG))
    else {
        return Ok(());
    };
    if !crate::ec2::tags::valid_build_id(build_id) {
        return Ok(());
    }
    let mut ids = BTreeMap::from([(c.ec2.region.clone(), img.id.clone())]);
    let mut copied = vec![];
    for region in regions
        .split(',')
        .filter(|r| !r.is_empty() && *r != c.ec2.region)
    {
        let found = c
            .ec2_in(region)
            .images_tagged(BUILD_ID_TAG, build_id)
            .await
            .map_err(|e| {
                Diagnostic::error(format!("Cannot import the copy in {region}"), e.to_string())
            })?;
        if let Some(copy) = found.into_iter().next() {
            ids.insert(region.to_string(), copy.id);
            copied.push(region.to_string());
        }
    }
    // Without copies the attribute stays unset, as in a configuration without it.
    if !copied.is_empty() {
        state.set("ami_regions", Value::string_list(copied));
    }
    state.set("region_ami_ids", Value::string_map(ids));
    Ok(())
}

pub async fn import(c: &Configured, id: &str) -> StateOutcome {
    let img = match c.ec2.describe_image(id).await {
        Ok(Some(img)) => img,
        Ok(None) => {
            return StateOutcome::err(
                Value::Null,
                Diagnostic::error(
                    "Cannot import",
                    format!("AMI {id} does not exist in {}.", c.ec2.region),
                ),
            );
        }
        Err(e) => {
            return StateOutcome::err(
                Value::Null,
                Diagnostic::error("Cannot import", e.to_string()),
            );
        }
    };
    let mut state = schema().block.conform(&Value::Map(Default::default()));
    refresh(&mut state, &img, &c.ec2.region, &c.tags);
    state.set(
        "source_ami_id",
        Value::opt_string(img.tags.get(SOURCE_AMI_TAG).cloned()),
    );
    state.set(
        "build_id",
        Value::opt_string(img.tags.get(BUILD_ID_TAG).cloned()),
    );
    state.set(
        "input_digest",
        Value::opt_string(img.tags.get(INPUT_DIGEST_TAG).cloned()),
    );
    if let Err(d) = import_copies(c, &img, &mut state).await {
        return StateOutcome::err(Value::Null, d);
    }
    StateOutcome {
        state,
        private: Private {
            imported: true,
            ..Private::default()
        }
        .bytes(),
        diags: Diagnostics::default(),
    }
}

/// Maps stored state of any known schema version to the current one.
pub fn upgrade_state(version: i64, raw_json: &[u8]) -> (Value, Diagnostics) {
    match crate::provider::schema::stored_state(version, SCHEMA_VERSION, raw_json) {
        Ok(v) => {
            let mut state = schema().block.conform(&v);
            // Before version 2 the digest counted absent values: restate it
            // the current way, so the upgrade alone plans no rebake.
            if version < 2 && !state.get("input_digest").is_null() {
                let d = super::digest::input_digest(&state);
                state.set("input_digest", d);
            }
            (state, Diagnostics::default())
        }
        Err(d) => (Value::Null, d.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn snapshot_tags_differ_wherever_any_snapshot_does() {
        let want = map(&[("a", "1"), ("b", "2")]);
        let same = seen_snapshot_tags(&want, &[want.clone(), want.clone()]);
        assert_eq!(same, want, "every snapshot as configured: no drift");
        // One snapshot lost `b`, the other has `b` changed and an extra `c`.
        let seen = seen_snapshot_tags(
            &want,
            &[
                map(&[("a", "1")]),
                map(&[("a", "1"), ("b", "9"), ("c", "3")]),
            ],
        );
        assert_eq!(seen, map(&[("a", "1"), ("c", "3")]));
        // The differing value wins whichever snapshot comes first.
        let seen = seen_snapshot_tags(
            &want,
            &[
                map(&[("a", "1"), ("b", "2")]),
                map(&[("a", "7"), ("b", "2")]),
            ],
        );
        assert_eq!(seen, map(&[("a", "7"), ("b", "2")]));
        assert_eq!(seen_snapshot_tags(&want, &[]), map(&[]));
    }

    #[test]
    fn protection_reads_back_as_configured_and_shows_drift() {
        let read = |configured: Option<(bool, Option<bool>)>, shown: &str| {
            let mut state = Value::Map(BTreeMap::new());
            if let Some((enabled, cooldown)) = configured {
                let mut block = BTreeMap::from([("enabled".to_string(), Value::Bool(enabled))]);
                block.insert(
                    "with_cooldown".to_string(),
                    cooldown.map(Value::Bool).unwrap_or(Value::Null),
                );
                state.set("deregistration_protection", Value::Map(block));
            }
            refresh_protection(&mut state, Some(shown));
            let p = state.get("deregistration_protection");
            if p.is_null() {
                return None;
            }
            let flag = |k: &str| match p.get(k) {
                Value::Bool(b) => Some(*b),
                _ => None,
            };
            Some((flag("enabled"), flag("with_cooldown")))
        };
        // As configured: nothing changes, an unset cooldown stays unset.
        assert_eq!(
            read(Some((true, None)), "enabled-without-cooldown"),
            Some((Some(true), None))
        );
        assert_eq!(
            read(Some((true, Some(true))), "enabled-with-cooldown"),
            Some((Some(true), Some(true)))
        );
        assert_eq!(read(None, "disabled"), None);
        // EC2 forgets the cooldown flag once protection is off.
        assert_eq!(
            read(
                Some((false, Some(true))),
                "disabled-until 2030-01-01T00:00:00.000Z"
            ),
            Some((Some(false), Some(true)))
        );
        // Drift: enabled out of band, or switched off by hand.
        assert_eq!(
            read(None, "enabled-with-cooldown"),
            Some((Some(true), Some(true)))
        );
        assert_eq!(
            read(Some((true, None)), "disabled"),
            Some((Some(false), None))
        );
    }

    #[test]
    fn deprecation_times_compare_as_times() {
        let at = |known: Option<&str>, seen: Option<&str>| {
            let mut state = Value::Map(Default::default());
            if let Some(k) = known {
                state.set("deprecate_at", Value::string(k));
            }
            refresh_deprecation(&mut state, seen);
            state.get("deprecate_at").as_str().map(str::to_string)
        };
        let configured = Some("2030-01-01T00:00:00Z");
        assert_eq!(
            at(configured, Some("2030-01-01T00:00:00.000Z")).as_deref(),
            configured
        );
        // EC2 rounds the seconds to the nearest minute.
        assert_eq!(
            at(
                Some("2030-01-01T00:00:31Z"),
                Some("2030-01-01T00:01:00.000Z")
            )
            .as_deref(),
            Some("2030-01-01T00:00:31Z")
        );
        assert_eq!(
            at(
                Some("2030-01-01T00:00:00.250Z"),
                Some("2030-01-01T00:00:00Z")
            )
            .as_deref(),
            Some("2030-01-01T00:00:00.250Z"),
            "fractions of a second name the same minute"
        );
        assert_eq!(
            at(configured, Some("2030-01-01T00:02:00.000Z")).as_deref(),
            Some("2030-01-01T00:02:00.000Z")
        );
        assert_eq!(at(configured, None), None, "cancelled by hand");
        assert_eq!(
            at(None, Some("2030-01-01T00:00:00.000Z")).as_deref(),
            Some("2030-01-01T00:00:00.000Z"),
            "set by hand"
        );
        assert_eq!(at(None, None), None);
    }

    #[test]
    fn sharing_drift_shows_whether_configured_or_not() {
        let mut unshared = Value::Map(Default::default());
        refresh_sharing(&mut unshared, vec![]);
        assert!(
            unshared.get("ami_users").is_null(),
            "nothing shared, nothing configured"
        );
        let mut made_public = Value::Map(Default::default());
        refresh_sharing(&mut made_public, vec!["all".into()]);
        assert_eq!(made_public.get("ami_groups").as_string_list(), vec!["all"]);
        assert!(made_public.get("ami_users").is_null());
        let mut written_as_user = Value::Map(Default::default());
        written_as_user.set("ami_users", Value::string_list(["all"]));
        refresh_sharing(&mut written_as_user, vec!["all".into()]);
        assert_eq!(
            written_as_user.get("ami_users").as_string_list(),
            vec!["all"]
        );
        assert!(written_as_user.get("ami_groups").is_null());
        let org = "arn:aws:organizations::123456789012:organization/o-abcdefghij";
        let ou = "arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefghij";
        let mut by_org = Value::Map(Default::default());
        refresh_sharing(
            &mut by_org,
            vec![ou.into(), "111122223333".into(), org.into()],
        );
        assert_eq!(by_org.get("ami_org_arns").as_string_list(), vec![org]);
        assert_eq!(by_org.get("ami_ou_arns").as_string_list(), vec![ou]);
        assert_eq!(
            by_org.get("ami_users").as_string_list(),
            vec!["111122223333"]
        );
        let mut reordered = Value::Map(Default::default());
        reordered.set("ami_users", Value::string_list(["b", "a"]));
        refresh_sharing(&mut reordered, vec!["a".into(), "b".into()]);
        assert_eq!(
            reordered.get("ami_users").as_string_list(),
            vec!["b", "a"],
            "configured order kept"
        );
        refresh_sharing(&mut reordered, vec!["a".into()]);
        assert_eq!(reordered.get("ami_users").as_string_list(), vec!["a"]);
    }

    #[test]
    fn version_0_state_gains_the_new_attributes_as_null() {
        let v0 = br#"{"id":"ami-1","name":"n","instance_type":"t3.micro","provision":[{"shell":{"inline":["true"]},"file":null}],"tags":{"a":"b"}}"#;
        let (v, d) = upgrade_state(0, v0);
        assert!(!d.has_errors());
        assert_eq!(v.get("id").as_str(), Some("ami-1"));
        assert!(v.get("input_digest").is_null());
        assert!(v.get("triggers").is_null());
        assert!(
            v.get("provision").as_list()[0]
                .get("content_digest")
                .is_null()
        );
        assert_eq!(
            v.get("provision").as_list()[0]
                .get("shell")
                .get("inline")
                .as_string_list(),
            vec!["true"]
        );
        let (_, d) = upgrade_state(SCHEMA_VERSION + 1, v0);
        assert!(d.has_errors());
    }
}
