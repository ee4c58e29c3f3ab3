//! Packer options onto golden_ami attributes and the provider block. Names
//! come from the schema (src/provider/golden_ami/schema.rs and the provider
//! block's): an option maps to the attribute or block of the same name unless
//! [`super::rules`] says otherwise; anything else is a gap.

use super::files::Files;
use super::model::{Opt, Part, Val};
use super::report::Finding;
use super::rules::{self, Rule};
use crate::provider::schema::check::Check;
use crate::provider::schema::{Attr, Block, Mode, Nesting, Ty};
use std::collections::BTreeMap;

/// Values set so far, by schema path (`ssh.username`).
pub type Tree = BTreeMap<Vec<String>, Val>;

pub fn golden_ami() -> Block {
    crate::provider::golden_ami::schema().block
}

pub fn provider() -> Block {
    crate::provider::Provider::schema().block
}

fn split(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

/// The attribute at `path`, if the schema has one there that a user may set.
pub fn attr_at<'a>(block: &'a Block, path: &[String]) -> Option<&'a Attr> {
    let (last, parents) = path.split_last()?;
    let b = block_at(block, parents)?;
    b.attrs
        .iter()
        .find(|a| a.name == last && a.mode != Mode::Computed)
}

pub fn block_at<'a>(block: &'a Block, path: &[String]) -> Option<&'a Block> {
    let mut b = block;
    for p in path {
        b = &b.blocks.iter().find(|nb| nb.name == p)?.block;
    }
    Some(b)
}

/// Where mapped values go.
pub struct Target<'a> {
    pub resource: &'a mut Tree,
    pub provider: &'a mut Tree,
    pub findings: &'a mut Vec<Finding>,
    /// What the rejected options leave in the output.
    pub comments: &'a mut Vec<String>,
    pub files: &'a mut Files,
}

impl Target<'_> {
    pub fn gap(&mut self, o: &Opt, why: &str) {
        self.findings
            .push(Finding::gap(o.line, format!("`{}`: {why}", o.key)));
        self.comments
            .push(format!("Not converted (line {}): {}", o.line, o.text));
    }
}

/// Maps one amazon-ebs option.
pub fn builder_opt(o: &Opt, t: &mut Target) {
    let val = match &o.val {
        Ok(v) => v.clone(),
        Err(why) => return t.gap(o, why),
    };
    if rules::SILENT.contains(&o.key.as_str()) {
        if o.key == "communicator" && val.as_lit().as_deref() != Some("ssh") {
            t.gap(
                o,
                "golden_ami reaches the build instance over SSH only (no WinRM)",
            );
        }
        return;
    }
    let rule = rules::lookup(rules::BUILDER, &o.key);
    if val.has_time() && rule != Some(Rule::AmiName) {
        return t.gap(o, "the build's time changes on every plan; only `ami_name` keeps its meaning (as `name_prefix`)");
    }
    match rule {
        Some(Rule::AmiName) => ami_name(o, val, t),
        Some(Rule::To(p)) => set(
            &golden_ami(),
            t.resource,
            &split(p),
            val,
            o,
            t.findings,
            t.comments,
        ),
        Some(Rule::FileOf(p)) => match t.files.local(&val, o.line, t.findings) {
            Some(path) => {
                let expr = Val::Expr(format!("file({})", super::writer::value(&path, 0)));
                t.resource.insert(split(p), expr);
            }
            None => t.gap(o, "a file path the converter cannot resolve"),
        },
        Some(Rule::Provider(p)) => set(
            &provider(),
            t.provider,
            &split(p),
            val,
            o,
            t.findings,
            t.comments,
        ),
        Some(Rule::EnvList(_) | Rule::Seconds(_)) | None => derived(o, val, t),
    }
}

/// Same name in golden_ami's schema, then in the provider's.
fn derived(o: &Opt, val: Val, t: &mut Target) {
    let path = vec![o.key.clone()];
    let res = golden_ami();
    if attr_at(&res, &path).is_some() {
        return set(&res, t.resource, &path, val, o, t.findings, t.comments);
    }
    if let Some(nb) = res
        .blocks
        .iter()
        .find(|b| b.name == o.key && b.nesting == Nesting::Single)
    {
        return nested(&nb.block, &path, val, o, t, false);
    }
    let prov = provider();
    if attr_at(&prov, &path).is_some() {
        return set(&prov, t.provider, &path, val, o, t.findings, t.comments);
    }
    if let Some(nb) = prov.blocks.iter().find(|b| b.name == o.key) {
        return nested(&nb.block, &path, val, o, t, true);
    }
    t.gap(o, "golden_ami has no equivalent")
}

/// A Packer block (or JSON object) onto the schema block of the same name,
/// member by member.
fn nested(block: &Block, path: &[String], val: Val, o: &Opt, t: &mut Target, in_provider: bool) {
    let Val::Map(entries) = val else {
        return t.gap(o, "expected a block of settings");
    };
    for (k, v) in entries {
        let sub = Opt {
            key: format!("{}.{k}", path.join(".")),
            val: Ok(v.clone()),
            line: o.line,
            text: format!(
                "{} {{ {k} = {} }}",
                path.join("."),
                super::writer::value(&v, 0).replace('\n', " ")
            ),
        };
        let mut p = path.to_vec();
        p.push(k.clone());
        if in_provider
            && path == ["assume_role"]
            && let Some(Rule::Seconds(dst)) = rules::lookup(rules::ASSUME_ROLE, &k)
        {
            let prov = provider();
            if attr_at(&prov, &split(dst)).is_some() {
                let d = match &v {
                    Val::Num(n) => Val::lit(&format!("{n}s")),
                    other => other.clone(),
                };
                set(
                    &prov,
                    t.provider,
                    &split(dst),
                    d,
                    &sub,
                    t.findings,
                    t.comments,
                );
                continue;
            }
        }
        let root = if in_provider {
            provider()
        } else {
            golden_ami()
        };
        if block
            .attrs
            .iter()
            .any(|a| a.name == k && a.mode != Mode::Computed)
        {
            let tree = if in_provider {
                &mut *t.provider
            } else {
                &mut *t.resource
            };
            set(&root, tree, &p, v, &sub, t.findings, t.comments);
        } else if let Some(nb) = block.blocks.iter().find(|b| b.name == k) {
            nested(&nb.block, &p, v, &sub, t, in_provider);
        } else {
            t.gap(&sub, "golden_ami has no equivalent");
        }
    }
}

/// Puts a value at `path`, made to fit the attribute's type.
pub fn set(
    root: &Block,
    tree: &mut Tree,
    path: &[String],
    val: Val,
    o: &Opt,
    findings: &mut Vec<Finding>,
    comments: &mut Vec<String>,
) {
    let Some(attr) = attr_at(root, path) else {
        findings.push(Finding::gap(
            o.line,
            format!("`{}`: no attribute `{}`", o.key, path.join(".")),
        ));
        comments.push(format!("Not converted (line {}): {}", o.line, o.text));
        return;
    };
    // A closed set of values (`ssh.interface`...): the schema lists them.
    let choices = attr.checks.iter().find_map(|c| match c {
        Check::OneOf(values) => Some(*values),
        _ => None,
    });
    if let (Some(values), Some(lit)) = (choices, val.as_lit())
        && !values.contains(&lit.as_str())
    {
        findings.push(Finding::gap(
            o.line,
            format!("`{}`: {lit:?} is not one of {}", o.key, values.join(", ")),
        ));
        comments.push(format!("Not converted (line {}): {}", o.line, o.text));
        return;
    }
    match fit(&attr.ty, val) {
        Ok(v) => {
            tree.insert(path.to_vec(), v);
        }
        Err(why) => {
            findings.push(Finding::gap(o.line, format!("`{}`: {why}", o.key)));
            comments.push(format!("Not converted (line {}): {}", o.line, o.text));
        }
    }
}

/// JSON templates write numbers and booleans as strings at times; Terraform
/// would convert them too, but the output should read as the schema types it.
pub fn fit(ty: &Ty, v: Val) -> Result<Val, String> {
    Ok(match (ty, v) {
        (_, v @ (Val::Expr(_) | Val::Null)) => v,
        (Ty::Number, Val::Str(p)) => match Val::Str(p.clone()).as_lit() {
            Some(s) if s.parse::<f64>().is_ok() => Val::Num(s),
            _ => Val::Str(p),
        },
        (Ty::Bool, Val::Str(p)) => match Val::Str(p.clone()).as_lit().as_deref() {
            Some("true") => Val::Bool(true),
            Some("false") => Val::Bool(false),
            _ => Val::Str(p),
        },
        (Ty::String, Val::Num(n)) => Val::lit(&n),
        (Ty::String, Val::Bool(b)) => Val::lit(&b.to_string()),
        (Ty::List(inner), Val::List(items)) => Val::List(
            items
                .into_iter()
                .map(|x| fit(inner, x))
                .collect::<Result<_, _>>()?,
        ),
        (Ty::Map(inner), Val::Map(entries)) => Val::Map(
            entries
                .into_iter()
                .map(|(k, x)| Ok((k, fit(inner, x)?)))
                .collect::<Result<_, String>>()?,
        ),
        (Ty::String | Ty::Number | Ty::Bool, v @ (Val::Str(_) | Val::Num(_) | Val::Bool(_))) => v,
        (ty, v) => {
            return Err(format!(
                "a {} cannot hold {}",
                ty_name(ty),
                super::writer::value(&v, 0).replace('\n', " ")
            ));
        }
    })
}

fn ty_name(ty: &Ty) -> &'static str {
    match ty {
        Ty::String => "string",
        Ty::Number => "number",
        Ty::Bool => "bool",
        Ty::List(_) => "list",
        Ty::Map(_) => "map",
    }
}

/// `ami_name`: the build's time becomes `name_prefix`.
fn ami_name(o: &Opt, val: Val, t: &mut Target) {
    let Val::Str(parts) = &val else {
        return set(
            &golden_ami(),
            t.resource,
            &split("name"),
            val,
            o,
            t.findings,
            t.comments,
        );
    };
    let Some(at) = parts.iter().position(|p| *p == Part::Time) else {
        return set(
            &golden_ami(),
            t.resource,
            &split("name"),
            val,
            o,
            t.findings,
            t.comments,
        );
    };
    let prefix: Vec<Part> = parts[..at].to_vec();
    if prefix.is_empty() {
        return t.gap(
            o,
            "a name that starts with the time has no prefix for `name_prefix`",
        );
    }
    let rest: Vec<Part> = parts[at + 1..]
        .iter()
        .filter(|p| **p != Part::Time)
        .cloned()
        .collect();
    let mut what = format!(
        "`ami_name`: the build's time becomes `name_prefix = {}` (the provider appends the UTC time and a random suffix)",
        super::writer::value(&Val::Str(prefix.clone()), 0)
    );
    if !rest.is_empty() {
        what.push_str(&format!(
            "; dropped what followed it: {}",
            super::writer::value(&Val::Str(rest), 0)
        ));
    }
    t.findings.push(Finding::note(o.line, what));
    set(
        &golden_ami(),
        t.resource,
        &split("name_prefix"),
        Val::Str(prefix),
        o,
        t.findings,
        t.comments,
    );
}
