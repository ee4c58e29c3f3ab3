//! Unit tests of the converter's rules.

use super::files::Files;
use super::gotmpl::{Refs, translate};
use super::json_lines::lines;
use super::mapping::{Target, Tree, attr_at, builder_opt, fit, golden_ami, provider};
use super::model::{Builder, Opt, Part, Provisioner, Val};
use super::report::{Finding, Kind};
use super::rules::{self, Rule};
use super::writer::{Node, render};
use crate::provider::schema::Ty;

fn path(p: &str) -> Vec<String> {
    p.split('.').map(str::to_string).collect()
}

#[test]
fn every_target_in_the_rules_exists_in_the_schema() {
    let res = golden_ami();
    let prov = provider();
    let mut checked = 0;
    for (key, rule) in rules::BUILDER {
        let targets: Vec<(&str, bool)> = match rule {
            Rule::To(p) | Rule::FileOf(p) => vec![(p, false)],
            Rule::AmiName => vec![("name", false), ("name_prefix", false)],
            Rule::Provider(p) => vec![(p, true)],
            Rule::EnvList(p) | Rule::Seconds(p) => vec![(p, false)],
        };
        for (t, in_provider) in targets {
            let schema = if in_provider { &prov } else { &res };
            assert!(
                attr_at(schema, &path(t)).is_some(),
                "{key} → {t}: no such attribute"
            );
            checked += 1;
        }
    }
    for (key, rule) in rules::SHELL {
        let (Rule::To(t) | Rule::EnvList(t)) = rule else {
            panic!("{key}: unexpected rule")
        };
        assert!(
            attr_at(&res, &path(&format!("provision.shell.{t}"))).is_some(),
            "{key} → {t}"
        );
        checked += 1;
    }
    // assume_role arrives in the provider block with issue 14's provider work;
    // until then amazon-ebs's `assume_role` is reported as a gap.
    if prov.blocks.iter().any(|b| b.name == "assume_role") {
        for (key, rule) in rules::ASSUME_ROLE {
            let Rule::Seconds(t) = rule else {
                panic!("{key}")
            };
            assert!(attr_at(&prov, &path(t)).is_some(), "{key} → {t}");
        }
    }
    assert!(checked >= rules::BUILDER.len() + rules::SHELL.len());
}

fn map_builder(opts: &[(&str, Val)]) -> (Tree, Tree, Vec<Finding>) {
    let mut res = Tree::new();
    let mut prov = Tree::new();
    let mut findings = Vec::new();
    let mut comments = Vec::new();
    let mut files = Files {
        template_dir: std::env::temp_dir(),
        out_dir: std::env::temp_dir(),
        copies: vec![],
    };
    let mut t = Target {
        resource: &mut res,
        provider: &mut prov,
        findings: &mut findings,
        comments: &mut comments,
        files: &mut files,
    };
    for (k, v) in opts {
        builder_opt(
            &Opt {
                key: k.to_string(),
                val: Ok(v.clone()),
                line: 3,
                text: k.to_string(),
            },
            &mut t,
        );
    }
    (res, prov, findings)
}

#[test]
fn same_names_are_found_in_the_schema_and_the_rest_are_gaps() {
    let (res, prov, findings) = map_builder(&[
        ("instance_type", Val::lit("t3.micro")),
        ("ebs_optimized", Val::lit("true")),
        ("region", Val::lit("eu-west-1")),
        (
            "source_ami_filter",
            Val::Map(vec![
                ("owners".into(), Val::List(vec![Val::lit("amazon")])),
                ("most_recent".into(), Val::Bool(true)),
                ("not_a_thing".into(), Val::Bool(true)),
            ]),
        ),
        ("ssh_username", Val::lit("admin")),
        ("custom_endpoint_ec2", Val::lit("http://127.0.0.1:1")),
        ("skip_create_ami", Val::Bool(true)),
        ("vpc_id", Val::lit("vpc-1")),
        (
            "subnet_filter",
            Val::Map(vec![
                (
                    "filters".into(),
                    Val::Map(vec![("tag:tier".into(), Val::lit("build"))]),
                ),
                ("most_free".into(), Val::Bool(true)),
            ]),
        ),
        ("security_group_ids", Val::List(vec![Val::lit("sg-1")])),
        ("temporary_key_pair_type", Val::lit("rsa")),
        (
            "run_volume_tags",
            Val::Map(vec![("team".into(), Val::lit("infra"))]),
        ),
        ("imds_support", Val::lit("v2.0")),
    ]);
    assert_eq!(res[&path("vpc_id")], Val::lit("vpc-1"));
    assert_eq!(res[&path("subnet_filter.most_free")], Val::Bool(true));
    assert_eq!(
        res[&path("security_group_ids")],
        Val::List(vec![Val::lit("sg-1")])
    );
    assert_eq!(res[&path("temporary_key_pair_type")], Val::lit("rsa"));
    assert_eq!(res[&path("imds_support")], Val::lit("v2.0"));
    assert!(res.contains_key(&path("run_volume_tags")));
    assert!(res.contains_key(&path("subnet_filter.filters")));
    assert_eq!(res[&path("instance_type")], Val::lit("t3.micro"));
    assert_eq!(
        res[&path("ebs_optimized")],
        Val::Bool(true),
        "typed from the schema"
    );
    assert_eq!(res[&path("source_ami_filter.most_recent")], Val::Bool(true));
    assert_eq!(res[&path("ssh.username")], Val::lit("admin"));
    // `region` is read-only on golden_ami: it belongs to the provider block.
    assert!(!res.contains_key(&path("region")));
    assert_eq!(prov[&path("region")], Val::lit("eu-west-1"));
    assert_eq!(prov[&path("endpoints.ec2")], Val::lit("http://127.0.0.1:1"));
    let gaps: Vec<&str> = findings
        .iter()
        .filter(|f| f.kind == Kind::Gap)
        .map(|f| f.what.as_str())
        .collect();
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert!(gaps[0].contains("source_ami_filter.not_a_thing"));
    assert!(gaps[1].contains("skip_create_ami"));
}

#[test]
fn spot_options_map_one_to_one() {
    let (res, _, findings) = map_builder(&[
        ("spot_price", Val::lit("auto")),
        (
            "spot_instance_types",
            Val::List(vec![Val::lit("t3.small"), Val::lit("t3a.small")]),
        ),
        (
            "spot_allocation_strategy",
            Val::lit("price-capacity-optimized"),
        ),
        (
            "spot_tags",
            Val::Map(vec![("team".into(), Val::lit("images"))]),
        ),
    ]);
    assert!(findings.iter().all(|f| f.kind != Kind::Gap), "{findings:?}");
    assert_eq!(res[&path("spot_price")], Val::lit("auto"));
    assert_eq!(
        res[&path("spot_instance_types")],
        Val::List(vec![Val::lit("t3.small"), Val::lit("t3a.small")])
    );
    assert_eq!(
        res[&path("spot_allocation_strategy")],
        Val::lit("price-capacity-optimized")
    );
    assert_eq!(
        res[&path("spot_tags")],
        Val::Map(vec![("team".into(), Val::lit("images"))])
    );
}

#[test]
fn ami_name_with_the_time_becomes_name_prefix() {
    let mut refs = Refs::default();
    let v = translate(
        "app-{{user `v`}}-{{isotime | clean_resource_name}}",
        None,
        &mut refs,
    )
    .unwrap();
    let (res, _, findings) = map_builder(&[("ami_name", v)]);
    assert_eq!(
        res[&path("name_prefix")],
        Val::Str(vec![
            Part::Lit("app-".into()),
            Part::Interp("var.v".into()),
            Part::Lit("-".into())
        ])
    );
    assert!(!res.contains_key(&path("name")));
    assert_eq!(findings[0].kind, Kind::Note);

    let (res, _, _) = map_builder(&[("ami_name", Val::lit("fixed-name"))]);
    assert_eq!(res[&path("name")], Val::lit("fixed-name"));

    let v = translate("x-{{timestamp}}-final", None, &mut refs).unwrap();
    let (_, _, findings) = map_builder(&[("ami_name", v)]);
    assert!(
        findings[0]
            .what
            .contains("dropped what followed it: \"-final\"")
    );

    // Elsewhere the time would change every plan.
    let v = translate("{{timestamp}}", None, &mut refs).unwrap();
    let (res, _, findings) = map_builder(&[("run_tags", Val::Map(vec![("T".into(), v)]))]);
    assert!(res.is_empty());
    assert_eq!(findings[0].kind, Kind::Gap);
}

#[test]
fn go_templates_become_terraform_strings() {
    let mut refs = Refs::default();
    assert_eq!(
        translate("{{user `region`}}", None, &mut refs).unwrap(),
        Val::Str(vec![Part::Interp("var.region".into())])
    );
    assert_eq!(
        translate("{{ env \"HOME_DIR\" }}/x", None, &mut refs).unwrap(),
        Val::Str(vec![
            Part::Interp("var.home_dir".into()),
            Part::Lit("/x".into())
        ])
    );
    assert_eq!(refs.users, vec!["region"]);
    assert_eq!(refs.envs, vec!["HOME_DIR"]);
    assert_eq!(
        translate("{{isotime \"2006-01-02\"}}", None, &mut refs).unwrap(),
        Val::Str(vec![Part::Time])
    );
    assert_eq!(
        translate("img-{{build_name}}", Some("web"), &mut refs).unwrap(),
        Val::lit("img-web")
    );
    // The shell provisioner's own placeholders stay.
    assert_eq!(
        translate("{{ .Vars }} sudo -E {{ .Path }}", None, &mut refs).unwrap(),
        Val::lit("{{ .Vars }} sudo -E {{ .Path }}")
    );
    assert!(translate("{{uuid}}", None, &mut refs).is_err());
    assert!(translate("{{user `x`", None, &mut refs).is_err());
}

#[test]
fn values_are_fitted_to_the_schema_types() {
    assert_eq!(
        fit(&Ty::Number, Val::lit("22")).unwrap(),
        Val::Num("22".into())
    );
    assert_eq!(fit(&Ty::Bool, Val::lit("false")).unwrap(), Val::Bool(false));
    assert_eq!(
        fit(&Ty::String, Val::Num("3".into())).unwrap(),
        Val::lit("3")
    );
    assert!(fit(&Ty::String, Val::Map(vec![])).is_err());
    let list = fit(
        &Ty::List(Box::new(Ty::Number)),
        Val::List(vec![Val::lit("0"), Val::lit("3")]),
    )
    .unwrap();
    assert_eq!(
        list,
        Val::List(vec![Val::Num("0".into()), Val::Num("3".into())])
    );
}

#[test]
fn only_except_and_override_pick_per_builder() {
    let b = |n: &str| Builder {
        kind: "amazon-ebs".into(),
        name: n.into(),
        ids: vec![n.into()],
        opts: vec![],
        provisioners: None,
        line: 1,
    };
    let opt = |k: &str, v: &str| Opt {
        key: k.into(),
        val: Ok(Val::lit(v)),
        line: 1,
        text: String::new(),
    };
    let p = Provisioner {
        kind: "shell".into(),
        opts: vec![opt("inline", "a"), opt("remote_path", "/x")],
        only: vec![],
        except: vec!["db".into()],
        overrides: vec![("web".into(), vec![opt("remote_path", "/y")])],
        line: 1,
    };
    assert!(p.applies_to(&b("web")));
    assert!(!p.applies_to(&b("db")));
    let web = p.opts_for(&b("web"));
    assert_eq!(web.len(), 2);
    assert_eq!(web[1].val.as_ref().unwrap(), &Val::lit("/y"));
    let only = Provisioner {
        only: vec!["db".into()],
        except: vec![],
        ..p
    };
    assert!(only.applies_to(&b("db")) && !only.applies_to(&b("web")));
}

#[test]
fn json_lines_name_each_key() {
    let text = "{\n  \"builders\": [\n    {\n      \"type\": \"amazon-ebs\",\n      \"tags\": {\"a\": \"{\\\"}\"},\n      \"x\": [1,\n 2]\n    }\n  ],\n  \"y\": 1\n}";
    let l = lines(text);
    assert_eq!(l["builders"], 2);
    assert_eq!(l["builders/0"], 3);
    assert_eq!(l["builders/0/type"], 4);
    assert_eq!(l["builders/0/tags/a"], 5);
    assert_eq!(l["builders/0/x/1"], 7);
    assert_eq!(l["y"], 10);
}

#[test]
fn the_writer_aligns_runs_of_one_line_attributes_as_terraform_fmt() {
    let out = render(&[Node::Block(
        "b".into(),
        vec!["l".into()],
        vec![
            Node::Attr("a".into(), Val::lit("x")),
            Node::Attr("long_name".into(), Val::Num("1".into())),
            Node::Attr(
                "list".into(),
                Val::List(vec![Val::lit(&"y".repeat(50)), Val::lit(&"z".repeat(40))]),
            ),
            Node::Attr("c".into(), Val::lit("${not} %{interp}")),
            Node::Comment("note".into()),
            Node::Attr("dd".into(), Val::Bool(true)),
            Node::Attr(
                "m".into(),
                Val::Map(vec![
                    ("k-1".into(), Val::lit("v")),
                    ("key".into(), Val::lit("w")),
                ]),
            ),
        ],
    )]);
    let want = format!(
        "b \"l\" {{\n  a         = \"x\"\n  long_name = 1\n  list = [\n    \"{}\",\n    \"{}\",\n  ]\n  c = \"$${{not}} %%{{interp}}\"\n  # note\n  dd = true\n  m = {{\n    \"k-1\" = \"v\"\n    \"key\" = \"w\"\n  }}\n}}\n",
        "y".repeat(50),
        "z".repeat(40)
    );
    assert_eq!(out, want);
}

#[test]
fn hcl2_expressions_stay_unless_only_packer_has_them() {
    let e = |s: &str| hcl_edit::parser::parse_expr(s).unwrap();
    assert_eq!(
        super::hcl::val(&e("var.x")).unwrap(),
        Val::Expr("var.x".into())
    );
    assert_eq!(
        super::hcl::val(&e("\"a-${upper(local.y)}\"")).unwrap(),
        Val::Str(vec![
            Part::Lit("a-".into()),
            Part::Interp("upper(local.y)".into())
        ])
    );
    assert_eq!(
        super::hcl::val(&e(r#""a-${formatdate("YYYY", timestamp())}""#)).unwrap(),
        Val::Str(vec![Part::Lit("a-".into()), Part::Time])
    );
    assert_eq!(
        super::hcl::val(&e("\"${path.root}/x\"")).unwrap(),
        Val::Str(vec![
            Part::Interp("path.module".into()),
            Part::Lit("/x".into())
        ])
    );
    assert!(super::hcl::val(&e("source.name")).is_err());
    assert!(super::hcl::val(&e("env(\"HOME\")")).is_err());
    assert!(super::hcl::val(&e("\"${build.ID}\"")).is_err());
}

#[test]
fn a_value_outside_a_closed_set_is_a_gap() {
    let (res, _, findings) = map_builder(&[
        ("ssh_interface", Val::lit("session_manager")),
        ("ssh_username", Val::lit("ec2-user")),
    ]);
    assert!(!res.contains_key(&path("ssh.interface")));
    assert!(
        findings[0]
            .what
            .contains("\"session_manager\" is not one of"),
        "{findings:?}"
    );
    let (res, _, _) = map_builder(&[("ssh_interface", Val::lit("private_dns"))]);
    assert_eq!(res[&path("ssh.interface")], Val::lit("private_dns"));
}

#[test]
fn region_copies_map_one_to_one() {
    let (res, _, findings) = map_builder(&[
        (
            "ami_regions",
            Val::List(vec![Val::lit("us-west-2"), Val::lit("eu-west-1")]),
        ),
        (
            "region_kms_key_ids",
            Val::Map(vec![("us-west-2".into(), Val::lit("alias/west"))]),
        ),
        ("snapshot_copy_duration_minutes", Val::Num("30".into())),
    ]);
    assert!(findings.iter().all(|f| f.kind != Kind::Gap), "{findings:?}");
    assert_eq!(
        res[&path("ami_regions")],
        Val::List(vec![Val::lit("us-west-2"), Val::lit("eu-west-1")])
    );
    assert_eq!(
        res[&path("region_kms_key_ids")],
        Val::Map(vec![("us-west-2".into(), Val::lit("alias/west"))])
    );
    assert_eq!(
        res[&path("snapshot_copy_duration_minutes")],
        Val::Num("30".into())
    );
}
