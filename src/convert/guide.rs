//! docs/guides/packer-options.md, the table of every amazon-ebs option,
//! checked against what `convert` does with each option: a row that says an
//! option maps must be what the converter writes, a row that says "by
//! hand", "issue 12" or "absent" must be one the converter reports as a gap,
//! and every rename the converter knows must have its row.

use super::mapping::{attr_at, block_at, golden_ami, provider};
use super::rules::{self, Rule};

const GUIDE: &str = include_str!("../../docs/guides/packer-options.md");

/// Where the converter puts an option, as the guide's second column says it.
#[derive(Debug, PartialEq)]
enum Place {
    Resource(String),
    Provider(String),
    Gap,
}

/// What a row claims.
#[derive(Debug)]
enum Claim {
    Converted(Place),
    ByHand(Place),
    /// Being added under this name by another part of issue 12.
    Pending(String),
    Absent,
}

fn split(p: &str) -> Vec<String> {
    p.split('.').map(str::to_string).collect()
}

/// What `convert` does with a top-level amazon-ebs option.
fn converter_place(key: &str) -> Place {
    match rules::lookup(rules::BUILDER, key) {
        Some(Rule::To(p) | Rule::FileOf(p)) => return Place::Resource(p.into()),
        Some(Rule::Provider(p)) => return Place::Provider(p.into()),
        Some(Rule::AmiName) => return Place::Resource("name".into()),
        Some(Rule::EnvList(_) | Rule::Seconds(_)) | None => {}
    }
    let path = vec![key.to_string()];
    let res = golden_ami();
    if attr_at(&res, &path).is_some() || block_at(&res, &path).is_some() {
        return Place::Resource(key.into());
    }
    let prov = provider();
    if attr_at(&prov, &path).is_some() || block_at(&prov, &path).is_some() {
        return Place::Provider(key.into());
    }
    Place::Gap
}

/// Whether the path names a setting of the resource (or provider) schema.
fn exists(p: &Place) -> bool {
    let (block, path) = match p {
        Place::Resource(path) => (golden_ami(), split(path)),
        Place::Provider(path) => (provider(), split(path)),
        Place::Gap => return false,
    };
    attr_at(&block, &path).is_some() || block_at(&block, &path).is_some()
}

/// The first `quoted` name in a cell.
fn first_code(cell: &str) -> Option<&str> {
    let (_, rest) = cell.split_once('`')?;
    rest.split_once('`').map(|(name, _)| name)
}

/// The rows of the "Builder options" table: (option, claim).
fn rows() -> Vec<(String, Claim)> {
    let table = GUIDE
        .split("## Builder options")
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .unwrap_or_default();
    let mut out = vec![];
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(opt), Some(target)) = (cells.get(1).and_then(|c| first_code(c)), cells.get(2))
        else {
            panic!("unreadable row: {line}")
        };
        let claim = if target.contains("**absent**") {
            Claim::Absent
        } else {
            let Some(name) = first_code(target) else {
                panic!("no target in row: {line}")
            };
            let place = if target.starts_with("provider ") {
                Place::Provider(name.into())
            } else {
                Place::Resource(name.into())
            };
            if target.ends_with("issue 12") {
                Claim::Pending(name.into())
            } else if target.ends_with("by hand") {
                Claim::ByHand(place)
            } else {
                Claim::Converted(place)
            }
        };
        out.push((opt.to_string(), claim));
    }
    out
}

#[test]
fn the_packer_options_guide_matches_the_converter() {
    let rows = rows();
    assert!(rows.len() > 100, "the table has {} rows", rows.len());
    let mut seen = std::collections::BTreeSet::new();
    for (opt, claim) in &rows {
        assert!(seen.insert(opt.clone()), "`{opt}` has two rows");
        // `communicator`: dropped silently when it says ssh, a gap otherwise.
        if rules::SILENT.contains(&opt.as_str()) {
            continue;
        }
        let got = converter_place(opt);
        match claim {
            Claim::Converted(want) => assert_eq!(&got, want, "`{opt}`: the guide says it maps"),
            Claim::ByHand(want) => {
                assert_eq!(got, Place::Gap, "`{opt}`: converted now; drop \"by hand\"");
                assert!(exists(want), "`{opt}`: {want:?} is not in the schema");
            }
            Claim::Pending(name) => assert_eq!(
                got,
                Place::Gap,
                "`{opt}` maps now (to {name}): mark its row as mapped instead of \"issue 12\""
            ),
            Claim::Absent => assert_eq!(got, Place::Gap, "`{opt}`: the guide says absent"),
        }
    }
    for (opt, _) in rules::BUILDER {
        assert!(
            seen.contains(*opt),
            "`{opt}` (src/convert/rules.rs) has no row"
        );
    }
}
