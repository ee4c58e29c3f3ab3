//! The data source's rules, one test per rule and branch: exactly one
//! selector, what the lookup picks (most_recent, deprecated and revoked
//! images, images not ours), the messages, and reads over the fake EC2.

use super::lookup::{Choice, Rules, Search, Skipped, choose, deprecated};
use super::validate;
use crate::ec2::api::Tags;
use crate::ec2::fake::FakeEc2;
use crate::ec2::images::ImageInfo;
use crate::protocol::value::Value;
use serde_json::{Value as Json, json};
use std::sync::Arc;

fn value(j: Json) -> Value {
    Value::decode_json(j.to_string().as_bytes()).unwrap()
}

/// The (path, summary) of each error for this configuration.
fn problems(j: Json) -> Vec<(String, String)> {
    validate(&value(j))
        .0
        .iter()
        .map(|d| {
            (
                d.path.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                d.summary.clone(),
            )
        })
        .collect()
}

fn refused(j: Json, path: &str, summary: &str) {
    let p = problems(j.clone());
    assert!(
        p.iter().any(|(at, s)| at == path && s == summary),
        "{j}: wanted {path} {summary:?}, got {p:?}"
    );
}

const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const BUILD: &str = "0123456789ab";

#[test]
fn each_selector_alone_passes() {
    for cfg in [
        json!({"channel": "web/prod"}),
        json!({"channel": "web/prod", "channel_version": 3}),
        json!({"input_digest": DIGEST}),
        json!({"input_digest": DIGEST, "tags": {"team": "web"}, "most_recent": false}),
        json!({"name": "web-1"}),
        json!({"name_prefix": "web-", "tags": {"team": "web"}, "most_recent": true}),
    ] {
        assert_eq!(problems(cfg.clone()), vec![], "{cfg}");
    }
}

#[test]
fn exactly_one_selector_is_required() {
    refused(json!({}), "input_digest", "No image selector");
    refused(
        json!({"tags": {"team": "web"}}),
        "input_digest",
        "No image selector",
    );
    refused(
        json!({"channel": "web/prod", "input_digest": DIGEST}),
        "input_digest",
        "Several image selectors",
    );
    refused(
        json!({"input_digest": DIGEST, "name_prefix": "web-"}),
        "name_prefix",
        "Several image selectors",
    );
    let p = problems(json!({"channel": "c", "input_digest": DIGEST, "name": "web-1"}));
    assert_eq!(
        p.iter()
            .filter(|(_, s)| s == "Several image selectors")
            .count(),
        2,
        "each extra selector at its own path: {p:?}"
    );
}

#[test]
fn an_unknown_selector_counts_as_set() {
    let mut v = value(json!({"input_digest": DIGEST}));
    v.set("name", Value::Unknown);
    let d = validate(&v);
    assert!(
        d.0.iter().any(|d| d.summary == "Several image selectors"),
        "{d:?}"
    );
    let mut v = value(json!({}));
    v.set("input_digest", Value::Unknown);
    assert!(!validate(&v).has_errors(), "checked again once known");
}

#[test]
fn refinements_only_where_they_mean_something() {
    refused(
        json!({"name": "web-1", "name_prefix": "web-"}),
        "name_prefix",
        "Conflicting image names",
    );
    refused(
        json!({"input_digest": DIGEST, "channel_version": 2}),
        "channel_version",
        "Version without a channel",
    );
    refused(
        json!({"channel": "web/prod", "tags": {"a": "b"}}),
        "tags",
        "Not used with a channel",
    );
    refused(
        json!({"channel": "web/prod", "most_recent": false}),
        "most_recent",
        "Not used with a channel",
    );
    refused(
        json!({"channel": "web/prod", "channel_version": 0}),
        "channel_version",
        "Invalid channel_version",
    );
    refused(json!({"name": "a*"}), "name", "Invalid AMI name");
    refused(
        json!({"channel": "web//prod"}),
        "channel",
        "Invalid channel",
    );
}

fn img(id: &str, created: &str) -> ImageInfo {
    ImageInfo {
        id: id.into(),
        name: format!("name-{id}"),
        state: "available".into(),
        creation_date: created.into(),
        tags: Tags::from([("golden:build-id".to_string(), BUILD.to_string())]),
        ..Default::default()
    }
}

/// 2026-06-01T00:00:00Z.
const NOW: i64 = 1_780_272_000;

fn rules(most_recent: bool, include_deprecated: bool) -> Rules {
    Rules {
        most_recent,
        include_deprecated,
        now: NOW,
    }
}

fn deprecated_at(mut i: ImageInfo, at: &str) -> ImageInfo {
    i.deprecation_time = Some(at.into());
    i
}

#[test]
fn one_match_is_returned() {
    let got = choose(
        vec![img("ami-1", "2026-01-01T00:00:00.000Z")],
        rules(false, false),
    );
    assert_eq!(got.map(|i| i.id), Ok("ami-1".to_string()));
}

#[test]
fn most_recent_takes_the_newest_and_otherwise_lists_all() {
    let found = vec![
        img("ami-b", "2026-03-01T00:00:00.000Z"),
        img("ami-a", "2026-01-01T00:00:00.000Z"),
        img("ami-c", "2026-02-01T00:00:00.000Z"),
    ];
    assert_eq!(
        choose(found.clone(), rules(true, false)).map(|i| i.id),
        Ok("ami-b".to_string())
    );
    assert_eq!(
        choose(found, rules(false, false)).map(|i| i.id),
        Err(Choice::Several(vec![
            ("ami-a".into(), "name-ami-a".into()),
            ("ami-c".into(), "name-ami-c".into()),
            ("ami-b".into(), "name-ami-b".into()),
        ]))
    );
}

#[test]
fn a_deprecated_image_is_skipped_unless_asked_for() {
    let old = deprecated_at(
        img("ami-old", "2026-05-01T00:00:00.000Z"),
        "2026-05-31T00:00:00.000Z",
    );
    let older = img("ami-older", "2026-01-01T00:00:00.000Z");
    // The newest is deprecated: the newest usable one is returned instead.
    assert_eq!(
        choose(vec![old.clone(), older], rules(true, false)).map(|i| i.id),
        Ok("ami-older".to_string())
    );
    assert_eq!(
        choose(vec![old.clone()], rules(true, false)).map(|i| i.id),
        Err(Choice::NoMatch(vec![(
            "ami-old".into(),
            Skipped::Deprecated
        )]))
    );
    assert_eq!(
        choose(vec![old], rules(true, true)).map(|i| i.id),
        Ok("ami-old".to_string())
    );
}

#[test]
fn deprecation_counts_once_its_time_has_passed() {
    let at = |t: &str| deprecated_at(img("ami-1", "2026-01-01T00:00:00.000Z"), t);
    assert!(
        !deprecated(&at("2026-06-01T00:01:00.000Z"), NOW),
        "a minute ahead"
    );
    assert!(
        deprecated(&at("2026-06-01T00:00:00.000Z"), NOW),
        "this second"
    );
    assert!(deprecated(&at("2026-05-31T23:59:00Z"), NOW));
    assert!(
        deprecated(&at("next tuesday"), NOW),
        "an unreadable time is taken as passed: never hand out what may be deprecated"
    );
    assert!(!deprecated(&img("ami-2", "2026-01-01T00:00:00.000Z"), NOW));
}

#[test]
fn a_revoked_image_is_skipped_unless_asked_for_and_unfinished_ones_never_count() {
    let mut disabled = img("ami-off", "2026-01-01T00:00:00.000Z");
    disabled.state = "disabled".into();
    let mut pending = img("ami-pending", "2026-05-01T00:00:00.000Z");
    pending.state = "pending".into();
    let mut failed = img("ami-failed", "2026-05-02T00:00:00.000Z");
    failed.state = "failed".into();
    let all = vec![disabled, pending, failed];
    assert_eq!(
        choose(all.clone(), rules(true, false)).map(|i| i.id),
        Err(Choice::NoMatch(vec![("ami-off".into(), Skipped::Revoked)]))
    );
    assert_eq!(
        choose(all, rules(true, true)).map(|i| i.id),
        Ok("ami-off".to_string())
    );
}

#[test]
fn an_image_not_baked_by_this_provider_is_never_returned() {
    let mut theirs = img("ami-theirs", "2026-05-01T00:00:00.000Z");
    theirs.tags.clear();
    let mut forged = img("ami-forged", "2026-05-01T00:00:00.000Z");
    forged
        .tags
        .insert("golden:build-id".into(), "not-a-build".into());
    assert_eq!(
        choose(vec![theirs, forged], rules(true, true)).map(|i| i.id),
        Err(Choice::NoMatch(vec![]))
    );
}

#[test]
fn a_search_matches_to_the_letter_what_ec2_matched_with_wildcards() {
    let s = Search {
        name_prefix: Some("web?".into()),
        tags: Tags::from([("team".to_string(), "a*".to_string())]),
        ..Default::default()
    };
    assert_eq!(s.filters().get("name").map(String::as_str), Some("web?*"));
    assert_eq!(s.filters().get("tag:team").map(String::as_str), Some("a*"));
    let mut i = img("ami-1", "2026-01-01T00:00:00.000Z");
    i.name = "webX-1".into();
    i.tags.insert("team".into(), "a*".into());
    assert!(
        !s.matches(&i),
        "`?` in the prefix is a character, not a wildcard"
    );
    i.name = "web?-1".into();
    assert!(s.matches(&i));
    i.tags.insert("team".into(), "alpha".into());
    assert!(!s.matches(&i), "tags match exactly");
    let d = Search {
        input_digest: Some(DIGEST.into()),
        ..Default::default()
    };
    assert!(!d.matches(&i));
    i.tags.insert("golden:input-digest".into(), DIGEST.into());
    assert!(d.matches(&i));
}

// Reads over the fake EC2.

fn configured(fake: &Arc<FakeEc2>) -> crate::provider::Configured {
    configured_with(fake, &crate::ssm::fake::FakeSsm::new("us-east-1"))
}

fn configured_with(
    fake: &Arc<FakeEc2>,
    ssm: &crate::ssm::fake::FakeSsm,
) -> crate::provider::Configured {
    crate::provider::Configured {
        ec2: crate::ec2::Ec2::with_api(fake.clone(), "us-east-1".into()),
        sts: Arc::new(crate::sts::fake::FakeSts::new("123456789012")),
        ssm: crate::ssm::Ssm::fake(ssm),
        channel_path_prefix: "/golden/channel/".into(),
        accounts: Default::default(),
        account_checked: Default::default(),
        tags: Default::default(),
        public_ip_url: String::new(),
    }
}

fn baked(fake: &FakeEc2, name: &str, build: &str, extra: &[(&str, &str)]) -> String {
    let mut tags = Tags::from([
        ("golden:build-id".to_string(), build.to_string()),
        ("golden:input-digest".to_string(), DIGEST.to_string()),
        ("golden:source-ami".to_string(), "ami-source".to_string()),
    ]);
    tags.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    fake.add_own_image(name, &tags)
}

async fn read(c: &crate::provider::Configured, cfg: Json) -> crate::provider::StateOutcome {
    super::read(c, value(cfg)).await
}

#[tokio::test]
async fn a_read_by_input_digest_fills_every_computed_attribute() {
    let fake = FakeEc2::new();
    let id = baked(&fake, "web-1", BUILD, &[("team", "web")]);
    let c = configured(&fake);
    let out = read(&c, json!({"input_digest": DIGEST})).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    let s = &out.state;
    assert_eq!(s.get("id").as_str(), Some(id.as_str()));
    assert_eq!(s.get("name").as_str(), Some("web-1"));
    assert_eq!(s.get("region").as_str(), Some("us-east-1"));
    assert_eq!(s.get("input_digest").as_str(), Some(DIGEST));
    assert_eq!(s.get("source_ami_id").as_str(), Some("ami-source"));
    assert_eq!(s.get("build_id").as_str(), Some(BUILD));
    assert_eq!(
        s.get("tags").as_string_map(),
        Tags::from([("team".to_string(), "web".to_string())]),
        "the provider's own tags are bookkeeping"
    );
    assert_eq!(s.get("snapshot_ids").as_list().len(), 1);
    assert!(s.get("creation_date").as_str().is_some());
    assert!(s.get("deprecation_time").is_null());
    assert_eq!(
        s.get("region_ami_ids").as_string_map(),
        Tags::from([("us-east-1".to_string(), id.clone())]),
        "no copy-regions tag: just this region"
    );
    assert!(
        s.get("most_recent").is_null(),
        "configuration stays as written"
    );
}

#[tokio::test]
async fn a_read_by_name_prefix_and_tags_picks_the_tagged_image() {
    let fake = FakeEc2::new();
    let web = baked(&fake, "web-1", BUILD, &[("team", "web")]);
    baked(&fake, "web-2", "0123456789ac", &[("team", "db")]);
    fake.add_own_image("web-3", &Tags::new()); // not baked by us
    let c = configured(&fake);
    let out = read(
        &c,
        json!({"name_prefix": "web-", "tags": {"team": "web"}, "most_recent": false}),
    )
    .await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(out.state.get("id").as_str(), Some(web.as_str()));
}

#[tokio::test]
async fn no_match_names_what_was_searched_at_its_attribute() {
    let fake = FakeEc2::new();
    baked(&fake, "web-1", BUILD, &[("team", "web")]);
    let c = configured(&fake);
    let out = read(&c, json!({"name_prefix": "db-", "tags": {"team": "web"}})).await;
    let d = &out.diags.0[0];
    assert_eq!(d.summary, "No matching image");
    assert_eq!(
        d.path.as_ref().map(|p| p.to_string()).as_deref(),
        Some("name_prefix")
    );
    assert!(
        d.detail.contains("us-east-1")
            && d.detail
                .contains("name_prefix = \"db-\" and tags { team = \"web\" }"),
        "{}",
        d.detail
    );
}

#[tokio::test]
async fn several_matches_without_most_recent_are_listed() {
    let fake = FakeEc2::new();
    let a = baked(&fake, "web-1", BUILD, &[]);
    let b = baked(&fake, "web-2", "0123456789ac", &[]);
    let c = configured(&fake);
    let out = read(&c, json!({"input_digest": DIGEST, "most_recent": false})).await;
    let d = &out.diags.0[0];
    assert_eq!(d.summary, "Several matching images");
    assert_eq!(
        d.path.as_ref().map(|p| p.to_string()).as_deref(),
        Some("input_digest")
    );
    assert!(
        d.detail.contains(&a) && d.detail.contains(&b),
        "{}",
        d.detail
    );
    let out = read(&c, json!({"input_digest": DIGEST})).await;
    assert!(!out.diags.has_errors(), "most_recent defaults to true");
}

#[tokio::test]
async fn a_deprecated_image_is_passed_over_and_named() {
    let fake = FakeEc2::new();
    let id = baked(&fake, "web-1", BUILD, &[]);
    {
        use crate::ec2::api::Ec2Api;
        let api: &dyn Ec2Api = fake.as_ref();
        api.enable_image_deprecation(&id, "2020-01-01T00:00:00Z")
            .await
            .unwrap();
    }
    let c = configured(&fake);
    let out = read(&c, json!({"name": "web-1"})).await;
    let d = &out.diags.0[0];
    assert_eq!(d.summary, "No matching image");
    assert!(
        d.detail.contains(&format!("{id} (deprecated)")) && d.detail.contains("include_deprecated"),
        "{}",
        d.detail
    );
    let out = read(&c, json!({"name": "web-1", "include_deprecated": true})).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(
        out.state.get("deprecation_time").as_str(),
        Some("2020-01-01T00:00:00.000Z")
    );
}

#[tokio::test]
async fn copies_are_found_by_build_id_in_each_region() {
    let home = FakeEc2::new();
    let away = FakeEc2::new();
    let regions = [("golden:copy-regions", "eu-west-1,us-east-1,us-west-2")];
    let id = baked(&home, "web-1", BUILD, &regions);
    let copy = baked(&away, "web-1", BUILD, &regions);
    // Another bake of the same inputs there, newer id: not the copy.
    baked(&away, "web-other", "0123456789ac", &[]);
    let mut c = configured(&home);
    // us-west-2 holds no copy (yet): it is left out.
    let away_api = away.clone();
    c.ec2.regions = crate::ec2::regions::Regions::new(std::sync::Arc::new(move |r: &str| {
        let api: std::sync::Arc<dyn crate::ec2::api::Ec2Api> = match r {
            "eu-west-1" => away_api.clone(),
            _ => FakeEc2::new(),
        };
        api
    }));
    let out = read(&c, json!({"input_digest": DIGEST, "most_recent": true})).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(
        out.state.get("region_ami_ids").as_string_map(),
        Tags::from([
            ("us-east-1".to_string(), id),
            ("eu-west-1".to_string(), copy.clone()),
        ])
    );
    // Searching in the other region itself.
    let out = read(
        &c,
        json!({"name": "web-1", "region": "eu-west-1", "tags": {}}),
    )
    .await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(out.state.get("id").as_str(), Some(copy.as_str()));
    assert_eq!(out.state.get("region").as_str(), Some("eu-west-1"));
}

#[test]
fn the_provider_serves_the_data_source() {
    use crate::provider::Provider;
    assert_eq!(Provider::data_source_types(), vec!["golden_ami"]);
    let s = Provider::data_source_schema("golden_ami").expect("schema");
    for a in [
        "channel",
        "input_digest",
        "name_prefix",
        "region_ami_ids",
        "deprecation_time",
    ] {
        assert!(s.block.attrs.iter().any(|x| x.name == a), "{a}");
    }
    assert!(Provider::data_source_schema("golden_nope").is_none());
    let d = Provider::new().validate_data_source("golden_nope", &value(json!({})));
    assert_eq!(d.0[0].summary, "Unknown data source");
}

#[tokio::test]
async fn a_channel_reads_its_parameter_and_a_version_reads_an_earlier_promotion() {
    use crate::ssm::SsmApi;
    let fake = FakeEc2::new();
    let first = baked(&fake, "web-1", BUILD, &[]);
    let second = baked(&fake, "web-2", "0123456789ac", &[]);
    let ssm = crate::ssm::fake::FakeSsm::new("us-east-1");
    let p = "/golden/channel/web/prod";
    ssm.put_image_parameter(p, &first, "").await.unwrap();
    ssm.put_image_parameter(p, &second, "").await.unwrap();
    let c = configured_with(&fake, &ssm);
    let out = read(&c, json!({"channel": "web/prod"})).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(out.state.get("id").as_str(), Some(second.as_str()));
    let out = read(&c, json!({"channel": "web/prod", "channel_version": 1})).await;
    assert!(!out.diags.has_errors(), "{:?}", out.diags);
    assert_eq!(out.state.get("id").as_str(), Some(first.as_str()));
    assert!(matches!(out.state.get("channel_version"), Value::Number(n) if *n == 1.0));

    // A version never written, a channel never made: said at their attribute.
    let out = read(&c, json!({"channel": "web/prod", "channel_version": 7})).await;
    let d = &out.diags.0[0];
    assert_eq!(d.summary, "No such channel");
    assert_eq!(
        d.path.as_ref().map(|p| p.to_string()).as_deref(),
        Some("channel_version")
    );
    assert!(
        d.detail.contains("/golden/channel/web/prod:7"),
        "{}",
        d.detail
    );
    let out = read(&c, json!({"channel": "web/staging"})).await;
    assert_eq!(
        out.diags.0[0]
            .path
            .as_ref()
            .map(|p| p.to_string())
            .as_deref(),
        Some("channel")
    );
}

#[tokio::test]
async fn a_channel_pointing_at_a_deprecated_image_is_refused_unless_asked_for() {
    use crate::ec2::api::Ec2Api;
    use crate::ssm::SsmApi;
    let fake = FakeEc2::new();
    let id = baked(&fake, "web-1", BUILD, &[]);
    let api: &dyn Ec2Api = fake.as_ref();
    api.enable_image_deprecation(&id, "2020-01-01T00:00:00Z")
        .await
        .unwrap();
    let ssm = crate::ssm::fake::FakeSsm::new("us-east-1");
    ssm.put_image_parameter("/golden/channel/web", &id, "")
        .await
        .unwrap();
    let c = configured_with(&fake, &ssm);
    let out = read(&c, json!({"channel": "web"})).await;
    let d = &out.diags.0[0];
    assert_eq!(d.summary, "No matching image");
    assert_eq!(
        d.path.as_ref().map(|p| p.to_string()).as_deref(),
        Some("channel")
    );
    assert!(d.detail.contains("(deprecated)"), "{}", d.detail);
    let out = read(&c, json!({"channel": "web", "include_deprecated": true})).await;
    assert_eq!(out.state.get("id").as_str(), Some(id.as_str()));
}
