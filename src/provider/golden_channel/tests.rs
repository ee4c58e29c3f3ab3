//! The channel's rules over the fake EC2 and the fake SSM: plan-time
//! checks, promotion in place, replacement, drift, import, destroy.

use super::schema::{parameter_name, schema};
use super::{apply, import, plan, read, upgrade_state, validate};
use crate::ec2::fake::FakeEc2;
use crate::protocol::value::Value;
use crate::provider::Configured;
use crate::ssm::fake::FakeSsm;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const HOME: &str = "us-east-1";
const PARAM: &str = "/golden/channel/web/prod";

/// A configuration or proposed state as Terraform sends it.
fn value(j: Json) -> Value {
    schema()
        .block
        .conform(&Value::decode_json(j.to_string().as_bytes()).unwrap())
}

fn config(name: &str, ami: &str) -> Value {
    value(json!({ "name": name, "ami_id": ami }))
}

struct Bed {
    ec2: Arc<FakeEc2>,
    ssm: FakeSsm,
    c: Configured,
}

fn bed() -> Bed {
    let ec2 = FakeEc2::new();
    let ssm = FakeSsm::new(HOME);
    let c = Configured {
        ec2: crate::ec2::Ec2::with_api(ec2.clone(), HOME.into()),
        sts: Arc::new(crate::sts::fake::FakeSts::new("123456789012")),
        ssm: crate::ssm::Ssm::fake(&ssm),
        channel_path_prefix: "/golden/channel/".into(),
        accounts: Default::default(),
        account_checked: Default::default(),
        tags: Default::default(),
        public_ip_url: String::new(),
    };
    Bed { ec2, ssm, c }
}

impl Bed {
    fn image(&self, tags: &[(&str, &str)]) -> String {
        let tags: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.ec2.add_own_image("web", &tags)
    }

    /// Plans and applies `cfg` over `prior`; the new state.
    async fn converge(&self, prior: Value, cfg: Value) -> Value {
        let p = plan(Some(&self.c), prior.clone(), cfg.clone(), cfg, vec![]).await;
        assert!(!p.diags.has_errors(), "{:?}", p.diags);
        let out = apply(&self.c, prior, p.planned).await;
        assert!(!out.diags.has_errors(), "{:?}", out.diags);
        out.state
    }
}

fn paths(d: &crate::protocol::diag::Diagnostics) -> Vec<(String, String)> {
    d.0.iter()
        .map(|d| {
            (
                d.path.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                d.summary.clone(),
            )
        })
        .collect()
}

#[test]
fn names_ssm_refuses_are_refused_at_plan_time_with_the_path() {
    for bad in [
        "web prod",
        "/web/prod",
        "web/prod/",
        "web//prod",
        "web*",
        "wéb",
        "",
    ] {
        let d = validate(&config(bad, "ami-0123abcd"));
        assert_eq!(
            paths(&d),
            vec![("name".to_string(), "Invalid name".to_string())],
            "{bad:?}"
        );
    }
    for good in ["web/prod", "web", "team_a/web-1/v2.0"] {
        assert!(
            !validate(&config(good, "ami-0123abcd")).has_errors(),
            "{good}"
        );
    }
    let d = validate(&config("web/prod", "image-1"));
    assert_eq!(paths(&d), vec![("ami_id".into(), "Invalid AMI id".into())]);
    // Unknown values wait until they are known.
    let unknown = value(json!({ "name": "web/prod" }));
    let mut unknown = unknown;
    unknown.set("ami_id", Value::Unknown);
    assert!(!validate(&unknown).has_errors());
}

#[test]
fn the_whole_name_keeps_ssm_limits_with_the_prefix() {
    assert_eq!(
        parameter_name("/golden/channel/", "web/prod").unwrap(),
        PARAM
    );
    let deep = vec!["a"; 14].join("/");
    assert!(parameter_name("/", &deep).is_ok());
    let e = parameter_name("/golden/channel/", &deep).unwrap_err();
    assert!(e.contains("levels"), "{e}");
    assert!(
        parameter_name("/", "aws/x")
            .unwrap_err()
            .contains("reserves")
    );
    assert!(
        parameter_name("/", "SSMx")
            .unwrap_err()
            .contains("reserves")
    );
    assert!(parameter_name("/golden/channel/", "aws/x").is_ok());
    let long = "a".repeat(1000);
    assert!(
        parameter_name("/golden/channel/", &long)
            .unwrap_err()
            .contains("1011")
    );
}

#[tokio::test]
async fn a_name_too_deep_for_the_prefix_is_a_plan_diagnostic_on_name() {
    let b = bed();
    let ami = b.image(&[]);
    let cfg = config(&vec!["a"; 14].join("/"), &ami);
    let p = plan(Some(&b.c), Value::Null, cfg.clone(), cfg, vec![]).await;
    assert_eq!(
        paths(&p.diags),
        vec![("name".into(), "Invalid channel name".into())]
    );
    assert_eq!(b.ssm.calls("PutParameter"), 0);
}

#[tokio::test]
async fn an_ami_that_does_not_exist_fails_the_plan_at_ami_id() {
    let b = bed();
    let cfg = config("web/prod", "ami-00000000000000bad");
    let p = plan(Some(&b.c), Value::Null, cfg.clone(), cfg, vec![]).await;
    assert_eq!(
        paths(&p.diags),
        vec![("ami_id".into(), "AMI not found".into())]
    );
}

#[tokio::test]
async fn a_plan_shows_the_parameter_and_the_regions_before_anything_is_written() {
    let b = bed();
    let ami = b.image(&[("golden:copy-regions", HOME), ("golden:build-id", "b1")]);
    let cfg = config("web/prod", &ami);
    let p = plan(Some(&b.c), Value::Null, cfg.clone(), cfg.clone(), vec![]).await;
    assert!(!p.diags.has_errors(), "{:?}", p.diags);
    assert_eq!(p.planned.get("id").as_str(), Some("web/prod"));
    assert_eq!(p.planned.get("parameter_name").as_str(), Some(PARAM));
    assert_eq!(
        p.planned.get("resolve_ssm").as_str(),
        Some("resolve:ssm:/golden/channel/web/prod")
    );
    assert_eq!(
        p.planned.get("region_ami_ids").as_string_map(),
        BTreeMap::from([(HOME.to_string(), ami.clone())])
    );
    assert_eq!(*p.planned.get("versions"), Value::Unknown);
    assert_eq!(b.ssm.calls("PutParameter"), 0);
    // Unconfigured (provider settings unknown): decided at apply.
    let p = plan(None, Value::Null, cfg.clone(), cfg, vec![]).await;
    assert_eq!(*p.planned.get("parameter_name"), Value::Unknown);
    assert_eq!(*p.planned.get("region_ami_ids"), Value::Unknown);
}

#[tokio::test]
async fn copies_in_other_regions_need_their_build_id() {
    let b = bed();
    let ami = b.image(&[("golden:copy-regions", "eu-west-1,us-east-1")]);
    let cfg = config("web/prod", &ami);
    let p = plan(Some(&b.c), Value::Null, cfg.clone(), cfg, vec![]).await;
    assert_eq!(
        paths(&p.diags),
        vec![("ami_id".into(), "Cannot find the image's copies".into())]
    );
}

#[tokio::test]
async fn publish_promote_in_place_and_destroy() {
    let b = bed();
    let first = b.image(&[]);
    let second = b.image(&[]);
    let s1 = b.converge(Value::Null, config("web/prod", &first)).await;
    let p = b.ssm.get_parameter_now(PARAM).unwrap();
    assert_eq!((p.value.as_str(), p.version), (first.as_str(), 1));
    assert_eq!(p.data_type, "aws:ec2:image");
    assert_eq!(s1.get("versions").get(HOME), &Value::Number(1.0));

    // A new ami_id is a promotion: no replacement, a new version.
    let cfg2 = config("web/prod", &second);
    let p2 = plan(Some(&b.c), s1.clone(), cfg2.clone(), cfg2.clone(), vec![]).await;
    assert!(p2.requires_replace.is_empty());
    assert_eq!(*p2.planned.get("versions"), Value::Unknown);
    let s2 = apply(&b.c, s1, p2.planned).await.state;
    assert_eq!(s2.get("versions").get(HOME), &Value::Number(2.0));
    let history = b.ssm.versions(PARAM);
    assert_eq!(
        history.iter().map(|p| p.value.clone()).collect::<Vec<_>>(),
        vec![first.clone(), second.clone()]
    );

    // Nothing changed: no write, the versions stay.
    let p3 = plan(Some(&b.c), s2.clone(), cfg2.clone(), cfg2.clone(), vec![]).await;
    assert_eq!(p3.planned, s2);
    let puts = b.ssm.calls("PutParameter");
    let s3 = apply(&b.c, s2.clone(), p3.planned).await.state;
    assert_eq!(b.ssm.calls("PutParameter"), puts);
    assert_eq!(s3, s2);

    // Another name replaces the channel.
    let cfg4 = config("web/staging", &second);
    let p4 = plan(Some(&b.c), s3.clone(), cfg4.clone(), cfg4, vec![]).await;
    assert_eq!(
        paths_of(&p4.requires_replace),
        vec!["name", "parameter_name"]
    );

    // Destroy deletes the parameter.
    let gone = apply(&b.c, s3, Value::Null).await;
    assert!(!gone.diags.has_errors() && gone.state.is_null());
    assert!(b.ssm.names().is_empty());
}

fn paths_of(p: &[crate::protocol::diag::AttrPath]) -> Vec<String> {
    p.iter().map(|p| p.to_string()).collect()
}

#[tokio::test]
async fn a_parameter_deleted_by_hand_is_made_again_and_a_hand_promotion_is_drift() {
    let b = bed();
    let ami = b.image(&[]);
    let other = b.image(&[]);
    let s = b.converge(Value::Null, config("web/prod", &ami)).await;

    // Promoted by hand: refresh shows it as ami_id, the plan writes ours back.
    b.ssm.put_now(PARAM, &other);
    let r = read(&b.c, s.clone(), vec![]).await;
    assert_eq!(r.state.get("ami_id").as_str(), Some(other.as_str()));
    let cfg = config("web/prod", &ami);
    let p = plan(Some(&b.c), r.state.clone(), cfg.clone(), cfg, vec![]).await;
    assert!(p.requires_replace.is_empty());
    let s = apply(&b.c, r.state, p.planned).await.state;
    assert_eq!(b.ssm.get_parameter_now(PARAM).unwrap().value, ami);
    assert_eq!(s.get("versions").get(HOME), &Value::Number(3.0));

    // Deleted by hand: refresh says the channel is gone.
    b.ssm.delete_now(PARAM);
    let r = read(&b.c, s, vec![]).await;
    assert!(r.state.is_null() && !r.diags.has_errors());
}

#[tokio::test]
async fn a_failed_write_keeps_what_it_wrote_and_says_where() {
    let b = bed();
    let ami = b.image(&[]);
    b.ssm.fail("PutParameter", "AccessDeniedException");
    let cfg = config("web/prod", &ami);
    let p = plan(Some(&b.c), Value::Null, cfg.clone(), cfg, vec![]).await;
    let out = apply(&b.c, Value::Null, p.planned).await;
    assert_eq!(
        paths(&out.diags),
        vec![(
            String::new(),
            format!("Cannot publish the channel in {HOME}")
        )]
    );
    assert!(out.state.get("region_ami_ids").as_string_map().is_empty());
    assert!(out.state.is_wholly_known());
}

#[tokio::test]
async fn import_by_channel_name() {
    let b = bed();
    let ami = b.image(&[]);
    let missing = import(&b.c, "web/prod").await;
    assert!(missing.diags.has_errors() && missing.state.is_null());
    let bad = import(&b.c, "web prod").await;
    assert!(bad.diags.has_errors());
    b.ssm.put_now(PARAM, &ami);
    let s = import(&b.c, "web/prod").await;
    assert!(!s.diags.has_errors(), "{:?}", s.diags);
    assert_eq!(s.state.get("ami_id").as_str(), Some(ami.as_str()));
    assert_eq!(s.state.get("parameter_name").as_str(), Some(PARAM));
    // The imported state plans nothing for the same configuration.
    let cfg = config("web/prod", &ami);
    let p = plan(Some(&b.c), s.state.clone(), cfg.clone(), cfg, vec![]).await;
    assert_eq!(p.planned, s.state);
}

#[test]
fn state_from_a_newer_provider_is_refused() {
    let (_, d) = upgrade_state(99, b"{}");
    assert!(d.has_errors());
    let (v, d) = upgrade_state(0, br#"{"name":"web/prod","ami_id":"ami-1"}"#);
    assert!(!d.has_errors());
    assert_eq!(v.get("name").as_str(), Some("web/prod"));
}

/// The longest name SSM takes publishes (the description stays within SSM's 1024).
#[tokio::test]
async fn the_longest_name_publishes() {
    let b = bed();
    let ami = b.image(&[]);
    let name = "a".repeat(1011 - "/golden/channel/".len());
    let s = b.converge(Value::Null, config(&name, &ami)).await;
    assert_eq!(s.get("versions").get(HOME), &Value::Number(1.0));
}

/// An image with a copy: found by its build id in the other region, published
/// in both; a promotion to an image without copies deletes the other
/// region's parameter; a region's parameter deleted by hand leaves the
/// state, and the next plan writes it back.
#[tokio::test]
async fn copies_are_published_in_their_regions_and_left_ones_deleted() {
    let b = bed();
    let west = FakeEc2::new();
    let tags = [
        ("golden:copy-regions", "eu-west-1,us-east-1"),
        ("golden:build-id", "b1"),
    ];
    let ami = b.image(&tags);
    let copy = west.add_own_image(
        "web",
        &tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    west.add_own_image(
        "other",
        &BTreeMap::from([("golden:build-id".to_string(), "b2".to_string())]),
    );
    let west_ec2 = crate::ec2::Ec2::with_api(west.clone(), "eu-west-1".into());
    let reach = |r: &str| -> Result<crate::ec2::Ec2, crate::protocol::diag::Diagnostic> {
        assert_eq!(r, "eu-west-1");
        Ok(west_ec2.clone())
    };
    let found = super::copies::copies_with(&b.c, &ami, &reach)
        .await
        .unwrap();
    assert_eq!(
        found,
        BTreeMap::from([
            ("eu-west-1".to_string(), copy.clone()),
            (HOME.to_string(), ami.clone())
        ])
    );

    // Apply what a plan that reached the copy shows.
    let mut planned = config("web/prod", &ami);
    planned.set("region_ami_ids", Value::string_map(found));
    let s = apply(&b.c, Value::Null, planned).await;
    assert!(!s.diags.has_errors(), "{:?}", s.diags);
    let west_ssm = b.ssm.in_region("eu-west-1");
    assert_eq!(west_ssm.get_parameter_now(PARAM).unwrap().value, copy);
    assert_eq!(b.ssm.get_parameter_now(PARAM).unwrap().value, ami);

    // Deleted by hand in one region: refresh drops it from the state.
    west_ssm.delete_now(PARAM);
    let r = read(&b.c, s.state.clone(), vec![]).await;
    assert_eq!(
        r.state
            .get("region_ami_ids")
            .as_string_map()
            .into_keys()
            .collect::<Vec<_>>(),
        vec![HOME.to_string()]
    );

    // Promoted to an image with no copies: the other region's parameter goes.
    west_ssm.put_now(PARAM, &copy);
    let single = b.image(&[]);
    let cfg = config("web/prod", &single);
    let p = plan(Some(&b.c), s.state.clone(), cfg.clone(), cfg, vec![]).await;
    assert!(
        p.requires_replace.is_empty() && !p.diags.has_errors(),
        "{:?}",
        p.diags
    );
    let s2 = apply(&b.c, s.state, p.planned).await;
    assert!(!s2.diags.has_errors(), "{:?}", s2.diags);
    assert!(west_ssm.names().is_empty(), "{:?}", west_ssm.names());
    assert_eq!(b.ssm.get_parameter_now(PARAM).unwrap().value, single);
}
