//! `shell` and `file` provisioners onto `provision { shell {} }` and
//! `provision { file {} }`, in order, as they apply to one builder.

use super::files::Files;
use super::mapping::{Tree, attr_at, block_at, golden_ami, set};
use super::model::{Builder, Opt, Part, Provisioner, Val};
use super::report::Finding;
use super::rules::{self, Rule};
use super::writer::Node;
use crate::provider::schema::Block;
use crate::provider::schema::check::Check;

/// The `provision` blocks for builder `b`, and comments for what could not be.
pub fn provisions(
    b: &Builder,
    all: &[Provisioner],
    files: &mut Files,
    findings: &mut Vec<Finding>,
) -> Vec<Node> {
    let mut nodes = Vec::new();
    for p in all.iter().filter(|p| p.applies_to(b)) {
        let mut comments = Vec::new();
        match p.kind.as_str() {
            "shell" | "file" => {
                let body = step(p, b, files, findings, &mut comments);
                for c in comments {
                    nodes.push(Node::Comment(c));
                }
                let block = Node::Block(
                    "provision".into(),
                    vec![],
                    vec![Node::Block(p.kind.clone(), vec![], body.clone())],
                );
                if runnable(&p.kind, &body) {
                    nodes.push(block);
                } else {
                    // What is left would fail validation: kept as a comment.
                    findings.push(Finding::gap(
                        p.line,
                        format!(
                            "the `{}` step has nothing left to run; written as a comment",
                            p.kind
                        ),
                    ));
                    let text = super::writer::render(&[block]);
                    nodes.push(Node::Comment(format!(
                        "Not converted (line {}):\n{}",
                        p.line,
                        text.trim_end()
                    )));
                }
            }
            other => {
                findings.push(Finding::gap(
                    p.line,
                    format!("provisioner `{other}`: golden_ami runs `shell` and `file` steps only"),
                ));
                nodes.push(Node::Comment(format!(
                    "Not converted (line {}): provisioner \"{other}\"",
                    p.line
                )));
            }
        }
    }
    nodes
}

/// A step the provider would accept: shell needs something to run, file a
/// destination and something to copy.
fn runnable(kind: &str, body: &[Node]) -> bool {
    let has = |k: &str| body.iter().any(|n| matches!(n, Node::Attr(a, _) if a == k));
    match kind {
        "shell" => has("inline") || has("script") || has("scripts"),
        _ => has("destination") && (has("source") || has("sources") || has("content")),
    }
}

fn step(
    p: &Provisioner,
    b: &Builder,
    files: &mut Files,
    findings: &mut Vec<Finding>,
    comments: &mut Vec<String>,
) -> Vec<Node> {
    let root = golden_ami();
    let base = vec!["provision".to_string(), p.kind.clone()];
    let Some(block) = block_at(&root, &base) else {
        return vec![];
    };
    let opts = p.opts_for(b);
    let download = opts.iter().any(|o| {
        o.key == "direction"
            && o.val.as_ref().ok().and_then(Val::as_lit).as_deref() == Some("download")
    });
    let mut tree = Tree::new();
    for o in &opts {
        let val = match &o.val {
            Ok(v) if v.has_time() => {
                gap(
                    o,
                    "the build's time changes on every plan",
                    findings,
                    comments,
                );
                continue;
            }
            Ok(v) => v.clone(),
            Err(why) => {
                gap(o, why, findings, comments);
                continue;
            }
        };
        let (name, val) = match (p.kind.as_str(), rules::lookup(rules::SHELL, &o.key)) {
            ("shell", Some(Rule::EnvList(to))) => match env_map(&val) {
                Ok(m) => (to.to_string(), m),
                Err(why) => {
                    gap(o, &why, findings, comments);
                    continue;
                }
            },
            ("shell", Some(Rule::To(to))) => (to.to_string(), val),
            _ => (o.key.clone(), val),
        };
        let mut path = base.clone();
        path.push(name.clone());
        let Some(attr) = attr_at(&root, &path) else {
            gap(
                o,
                &format!("the `{}` step has no equivalent", p.kind),
                findings,
                comments,
            );
            continue;
        };
        let is_local = attr.checks.iter().any(|c| matches!(c, Check::LocalFile))
            || (p.kind == "file" && !download && matches!(name.as_str(), "source" | "sources"));
        let val = if is_local {
            localize(&val, o.line, files, findings)
        } else if p.kind == "file" && download && name == "destination" {
            files.target(&val)
        } else {
            val
        };
        set(&root, &mut tree, &path, val, o, findings, comments);
    }
    emit_step(block, &base, &tree)
}

fn gap(o: &Opt, why: &str, findings: &mut Vec<Finding>, comments: &mut Vec<String>) {
    findings.push(Finding::gap(o.line, format!("`{}`: {why}", o.key)));
    comments.push(format!("Not converted (line {}): {}", o.line, o.text));
}

fn localize(v: &Val, line: usize, files: &mut Files, findings: &mut Vec<Finding>) -> Val {
    match v {
        Val::List(items) => Val::List(
            items
                .iter()
                .map(|x| localize(x, line, files, findings))
                .collect(),
        ),
        other => files
            .local(other, line, findings)
            .unwrap_or_else(|| other.clone()),
    }
}

/// The step's attributes in the schema's order.
fn emit_step(block: &Block, base: &[String], tree: &Tree) -> Vec<Node> {
    block
        .attrs
        .iter()
        .filter_map(|a| {
            let mut p = base.to_vec();
            p.push(a.name.to_string());
            tree.get(&p)
                .map(|v| Node::Attr(a.name.to_string(), v.clone()))
        })
        .collect()
}

/// `["K=V", ...]` → `{ K = "V" }`.
fn env_map(v: &Val) -> Result<Val, String> {
    let Val::List(items) = v else {
        return Err("expected a list of NAME=VALUE".into());
    };
    let mut out = Vec::new();
    for item in items {
        let Val::Str(parts) = item else {
            return Err("expected NAME=VALUE strings".into());
        };
        let Some((i, Part::Lit(first))) = parts
            .iter()
            .enumerate()
            .find(|(_, p)| matches!(p, Part::Lit(l) if l.contains('=')))
        else {
            return Err(format!(
                "{} is not NAME=VALUE",
                super::writer::value(item, 0)
            ));
        };
        if i != 0 {
            return Err(format!(
                "{}: the name must be literal",
                super::writer::value(item, 0)
            ));
        }
        let (k, rest) = first.split_once('=').unwrap_or((first, ""));
        let mut vparts = Vec::new();
        if !rest.is_empty() {
            vparts.push(Part::Lit(rest.to_string()));
        }
        vparts.extend(parts[1..].iter().cloned());
        if vparts.is_empty() {
            vparts.push(Part::Lit(String::new()));
        }
        out.push((k.to_string(), Val::Str(vparts)));
    }
    Ok(Val::Map(out))
}
