//! The whole configuration: terraform and provider blocks, locals, one
//! golden_ami per amazon-ebs builder, outputs, and variables.tf.

use super::files::Files;
use super::mapping::{Target, Tree, builder_opt, golden_ami, provider};
use super::model::{Builder, Template, Val};
use super::provision::provisions;
use super::report::Finding;
use super::writer::Node;
use crate::provider::schema::{Block, Mode, Nesting};
use std::path::Path;

pub struct Converted {
    pub main: Vec<Node>,
    pub variables: Vec<Node>,
    pub files: Files,
    pub findings: Vec<Finding>,
}

pub fn convert(t: &Template, out_dir: &Path) -> Converted {
    let mut files = Files {
        template_dir: t.dir.clone(),
        out_dir: out_dir.to_path_buf(),
        copies: vec![],
    };
    let mut findings = Vec::new();
    let mut top_comments = Vec::new();
    for l in &t.leftovers {
        findings.push(Finding::gap(l.line, l.what.clone()));
        if !l.text.is_empty() {
            top_comments.push(format!("Not converted (line {}): {}", l.line, l.text));
        }
    }
    if t.builders.is_empty() {
        findings.push(Finding::gap(0, "no amazon-ebs builder: nothing to bake"));
    }

    // Each builder's resource body and provider settings.
    let mut resources = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut providers: Vec<Tree> = Vec::new();
    for b in &t.builders {
        let label = unique(tf_label(&b.name), &labels);
        labels.push(label.clone());
        let (body, prov, ok) = resource(b, t, &mut files, &mut findings);
        providers.push(prov);
        resources.push((label, body, ok));
    }

    let mut main = vec![
        Node::Comment(format!(
            "Converted from {} by `terraform-provider-golden convert`.",
            t.file
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default()
        )),
        Node::Blank,
        Node::Block(
            "terraform".into(),
            vec![],
            vec![Node::Block(
                "required_providers".into(),
                vec![],
                vec![Node::Attr(
                    "golden".into(),
                    Val::Map(vec![("source".into(), Val::lit("golden-ami/golden"))]),
                )],
            )],
        ),
    ];
    // One provider block per distinct setting; builders after the first setting use aliases.
    let prov_schema = provider();
    let mut distinct: Vec<(Tree, Option<String>)> = Vec::new();
    let mut alias_of = Vec::new();
    for (i, p) in providers.iter().enumerate() {
        match distinct.iter().position(|(d, _)| d == p) {
            Some(k) => alias_of.push(distinct[k].1.clone()),
            None => {
                let alias = (!distinct.is_empty()).then(|| resources[i].0.clone());
                distinct.push((p.clone(), alias.clone()));
                alias_of.push(alias);
            }
        }
    }
    if distinct.is_empty() {
        distinct.push((Tree::new(), None));
    }
    for (tree, alias) in &distinct {
        let mut body = Vec::new();
        if let Some(a) = alias {
            body.push(Node::Attr("alias".into(), Val::lit(a)));
        }
        body.extend(emit(&prov_schema, &[], tree));
        main.push(Node::Blank);
        main.push(Node::Block("provider".into(), vec!["golden".into()], body));
    }
    if !t.locals.is_empty() {
        let mut body = Vec::new();
        for (k, v, line) in &t.locals {
            if v.has_time() {
                // `timestamp()` in Terraform changes on every plan: a rebake each time.
                findings.push(Finding::note(
                    *line,
                    format!("local `{k}` (the build's time) is left out: in `ami_name` it becomes `name_prefix`; any other use is reported"),
                ));
                body.push(Node::Comment(format!(
                    "Not converted (line {line}): local {k} (the build's time)"
                )));
            } else {
                body.push(Node::Attr(k.clone(), v.clone()));
            }
        }
        main.push(Node::Blank);
        main.push(Node::Block("locals".into(), vec![], body));
    }
    for c in top_comments {
        main.push(Node::Blank);
        main.push(Node::Comment(c));
    }
    for ((label, mut body, ok), alias) in resources.iter().cloned().zip(alias_of) {
        if !ok {
            main.push(Node::Blank);
            main.extend(body);
            continue;
        }
        if let Some(a) = alias {
            body.insert(
                0,
                Node::Attr("provider".into(), Val::Expr(format!("golden.{a}"))),
            );
            body.insert(1, Node::Blank);
        }
        main.push(Node::Blank);
        main.push(Node::Block(
            "resource".into(),
            vec!["golden_ami".into(), label.clone()],
            body,
        ));
    }
    for (label, _, _) in resources.iter().filter(|r| r.2) {
        main.push(Node::Blank);
        main.push(Node::Block(
            "output".into(),
            vec![format!("{label}_id")],
            vec![Node::Attr(
                "value".into(),
                Val::Expr(format!("golden_ami.{label}.id")),
            )],
        ));
    }
    if t.file_starts.len() > 1 {
        relocate(&mut main, &t.file_starts);
    }
    Converted {
        main,
        variables: super::variables::nodes(&t.variables, &mut findings),
        files,
        findings,
    }
}

/// One builder's resource body and its provider settings.
fn resource(
    b: &Builder,
    t: &Template,
    files: &mut Files,
    findings: &mut Vec<Finding>,
) -> (Vec<Node>, Tree, bool) {
    let mut res = Tree::new();
    let mut prov = Tree::new();
    let mut comments = Vec::new();
    {
        let mut target = Target {
            resource: &mut res,
            provider: &mut prov,
            findings,
            comments: &mut comments,
            files,
        };
        for o in &b.opts {
            builder_opt(&time_locals_inlined(o, &t.locals), &mut target);
        }
    }
    let schema = golden_ami();
    let complete = required(&schema, &res, b, findings);
    let steps = provisions(
        b,
        b.provisioners.as_deref().unwrap_or(&t.provisioners),
        files,
        findings,
    );
    let mut body = emit_with(&schema, &[], &res, Some(steps));
    if !comments.is_empty() {
        body.push(Node::Blank);
        body.push(Node::Comment(comments.join("\n")));
    }
    if !complete {
        // Without what golden_ami requires the resource would fail validation:
        // the whole of it becomes a comment.
        let text = super::writer::render(&[Node::Block(
            "resource".into(),
            vec!["golden_ami".into(), super::output::tf_label(&b.name)],
            body,
        )]);
        body = vec![Node::Comment(format!(
            "Not converted (line {}): builder `{}` lacks what golden_ami requires\n{}",
            b.line,
            b.name,
            text.trim_end()
        ))];
        return (body, prov, false);
    }
    (body, prov, true)
}

/// What golden_ami cannot bake without.
fn required(schema: &Block, res: &Tree, b: &Builder, findings: &mut Vec<Finding>) -> bool {
    let before = findings.len();
    let has = |p: &str| {
        res.keys()
            .any(|k| k.join(".") == p || k.join(".").starts_with(&format!("{p}.")))
    };
    for a in schema.attrs.iter().filter(|a| a.mode == Mode::Required) {
        if !has(a.name) {
            findings.push(Finding::gap(
                b.line,
                format!(
                    "builder `{}`: no `{}`, which golden_ami requires",
                    b.name, a.name
                ),
            ));
        }
    }
    for (one, other) in [("name", "name_prefix"), ("source_ami", "source_ami_filter")] {
        if !has(one) && !has(other) {
            findings.push(Finding::gap(
                b.line,
                format!("builder `{}`: neither `{one}` nor `{other}`", b.name),
            ));
        }
    }
    if !has("ssh.username") {
        findings.push(Finding::gap(
            b.line,
            format!(
                "builder `{}`: no `ssh_username`; golden_ami connects over SSH",
                b.name
            ),
        ));
    }
    findings.len() == before
}

pub fn emit(block: &Block, prefix: &[String], tree: &Tree) -> Vec<Node> {
    emit_with(block, prefix, tree, None)
}

/// A block's attributes and nested blocks in the schema's order; `steps`
/// stand where the `provision` blocks belong.
fn emit_with(
    block: &Block,
    prefix: &[String],
    tree: &Tree,
    mut steps: Option<Vec<Node>>,
) -> Vec<Node> {
    let mut out = Vec::new();
    for a in &block.attrs {
        let mut p = prefix.to_vec();
        p.push(a.name.to_string());
        if let Some(v) = tree.get(&p) {
            out.push(Node::Attr(a.name.to_string(), v.clone()));
        }
    }
    for nb in &block.blocks {
        if nb.nesting == Nesting::List && nb.name == "provision" {
            for s in steps.take().unwrap_or_default() {
                if matches!(s, Node::Block(..)) {
                    out.push(Node::Blank);
                }
                out.push(s);
            }
            continue;
        }
        let mut p = prefix.to_vec();
        p.push(nb.name.to_string());
        if tree.keys().any(|k| k.starts_with(&p)) {
            if prefix.is_empty() {
                out.push(Node::Blank);
            }
            out.push(Node::Block(
                nb.name.to_string(),
                vec![],
                emit(&nb.block, &p, tree),
            ));
        }
    }
    // No blank line first inside a block.
    while matches!(out.first(), Some(Node::Blank)) {
        out.remove(0);
    }
    out
}

/// A Terraform name for a resource from a builder's name.
pub fn tf_label(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    {
        s.insert_str(0, "ami_");
    }
    s
}

fn unique(label: String, taken: &[String]) -> String {
    if !taken.contains(&label) {
        return label;
    }
    (2..)
        .map(|n| format!("{label}_{n}"))
        .find(|l| !taken.contains(l))
        .unwrap_or(label)
}

/// Comments name lines counted through all files of a directory: each
/// becomes its file's name and line.
fn relocate(nodes: &mut [Node], starts: &[(std::path::PathBuf, usize)]) {
    for n in nodes {
        match n {
            Node::Comment(c) => {
                let Some(rest) = c.strip_prefix("Not converted (line ") else {
                    continue;
                };
                let Some((num, tail)) = rest.split_once(')') else {
                    continue;
                };
                let Ok(line) = num.parse::<usize>() else {
                    continue;
                };
                if let Some((p, s)) = starts.iter().rev().find(|(_, s)| line > *s) {
                    let name = p
                        .file_name()
                        .map(|f| f.to_string_lossy().to_string())
                        .unwrap_or_default();
                    *c = format!("Not converted ({name} line {}){tail}", line - s);
                }
            }
            Node::Block(_, _, inner) => relocate(inner, starts),
            _ => {}
        }
    }
}

/// `ami_name = "x-${local.stamp}"` where the local is the build's time: the
/// time, as if written in place, so `ami_name` still becomes `name_prefix`.
fn time_locals_inlined(
    o: &super::model::Opt,
    locals: &[(String, Val, usize)],
) -> super::model::Opt {
    use super::model::Part;
    let mut o = o.clone();
    let is_time = |name: &str| {
        locals
            .iter()
            .any(|(k, v, _)| k == name && *v == Val::Str(vec![Part::Time]))
    };
    if o.key != "ami_name" {
        let text = o
            .val
            .as_ref()
            .map(|v| super::writer::value(v, 0))
            .unwrap_or_default();
        if let Some((k, _, _)) = locals
            .iter()
            .find(|(k, _, _)| is_time(k) && text.contains(&format!("local.{k}")))
        {
            o.val = Err(format!(
                "uses local `{k}`, the build's time, which changes on every plan"
            ));
        }
        return o;
    }
    if let Ok(Val::Str(parts)) = &mut o.val {
        for p in parts.iter_mut() {
            if let Part::Interp(e) = p
                && let Some(name) = e.strip_prefix("local.")
                && locals
                    .iter()
                    .any(|(k, v, _)| k == name && *v == Val::Str(vec![Part::Time]))
            {
                *p = Part::Time;
            }
        }
    }
    o
}
