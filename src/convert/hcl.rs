//! Reads Packer HCL2 templates (`*.pkr.hcl`) into the neutral model, with
//! hcl-edit, which keeps every element's position. Expressions stay
//! Terraform expressions where they mean the same (`var.x`, `local.y`, most
//! functions); Packer-only ones (`source.*`, `build.*`, `env()` outside a
//! variable's default, `clean_resource_name()` outside `ami_name`) are gaps.

use super::model::{Builder, Leftover, Opt, Part, Provisioner, Template, Val, Variable};
use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::template::Element;
use std::path::{Path, PathBuf};

/// Every `*.pkr.hcl` of a directory, in name order, as Packer reads them.
pub fn read_dir(dir: &Path) -> Result<Template, String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".pkr.hcl"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("{}: no *.pkr.hcl files", dir.display()));
    }
    let mut files = Vec::new();
    for n in names {
        let text =
            std::fs::read_to_string(&n).map_err(|e| format!("cannot read {}: {e}", n.display()))?;
        files.push((n, text));
    }
    let mut t = read_files(dir, &files)?;
    t.dir = dir.to_path_buf();
    Ok(t)
}

struct Source<'a> {
    kind: String,
    name: String,
    body: &'a Body,
    text: &'a str,
    line: usize,
}

/// Reads the files of one template; `shown` is what the report names.
pub fn read_files(shown: &Path, files: &[(PathBuf, String)]) -> Result<Template, String> {
    // Packer reads the files of a directory as one body: so do we, numbering
    // lines through all of them; the report maps them back to each file.
    let mut all = String::new();
    let mut starts = Vec::new();
    for (p, text) in files {
        hcl_edit::parser::parse_body(text).map_err(|e| format!("{}: {e}", p.display()))?;
        starts.push((p.clone(), all.matches('\n').count()));
        all.push_str(text);
        if !text.ends_with('\n') {
            all.push('\n');
        }
    }
    let body =
        hcl_edit::parser::parse_body(&all).map_err(|e| format!("{}: {e}", shown.display()))?;
    let bodies = [(body, all.as_str())];
    let mut t = Template {
        file_starts: starts,
        file: shown.to_path_buf(),
        dir: if shown.is_dir() {
            shown.to_path_buf()
        } else {
            shown.parent().map(Path::to_path_buf).unwrap_or_default()
        },
        ..Template::default()
    };
    let mut sources = Vec::new();
    let mut builds = Vec::new();
    for (body, text) in &bodies {
        for s in body.iter() {
            let Structure::Block(b) = s else {
                if let Structure::Attribute(a) = s {
                    t.leftovers.push(Leftover {
                        line: line(text, a.span()),
                        what: format!("top-level `{}`: no equivalent", a.key.as_str()),
                        text: first_line(&format!("{} = {}", a.key.as_str(), expr_text(&a.value))),
                    });
                }
                continue;
            };
            let ln = line(text, b.span());
            let labels: Vec<String> = b.labels.iter().map(|l| l.as_str().to_string()).collect();
            match b.ident.as_str() {
                "packer" => {}
                "variable" if labels.len() == 1 => {
                    t.variables.push(variable(&labels[0], b, text, ln))
                }
                "locals" => {
                    for a in b.body.attributes() {
                        match val(&a.value) {
                            Ok(v) => {
                                t.locals
                                    .push((a.key.as_str().to_string(), v, line(text, a.span())))
                            }
                            Err(why) => t.leftovers.push(Leftover {
                                line: line(text, a.span()),
                                what: format!("local `{}`: {why}", a.key.as_str()),
                                text: first_line(&format!(
                                    "{} = {}",
                                    a.key.as_str(),
                                    expr_text(&a.value)
                                )),
                            }),
                        }
                    }
                }
                "local" if labels.len() == 1 => {
                    match b.body.get_attribute("expression").map(|a| val(&a.value)) {
                        Some(Ok(v)) => t.locals.push((labels[0].clone(), v, ln)),
                        Some(Err(why)) => t.leftovers.push(Leftover {
                            line: ln,
                            what: format!("local `{}`: {why}", labels[0]),
                            text: format!("local \"{}\"", labels[0]),
                        }),
                        None => {}
                    }
                }
                "source" if labels.len() == 2 => sources.push(Source {
                    kind: labels[0].clone(),
                    name: labels[1].clone(),
                    body: &b.body,
                    text,
                    line: ln,
                }),
                "build" => builds.push((b, *text)),
                other => t.leftovers.push(Leftover {
                    line: ln,
                    what: format!("`{other}` block: no equivalent"),
                    text: format!(
                        "{other} {}",
                        labels
                            .iter()
                            .map(|l| format!("\"{l}\""))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                }),
            }
        }
    }
    for (b, text) in builds {
        build(&mut t, b, text, &sources);
    }
    Ok(t)
}

fn build(t: &mut Template, b: &Block, text: &str, sources: &[Source]) {
    // Sources named by `sources = [...]` and by `source "..." {}` blocks (with overrides).
    let mut uses: Vec<(String, Option<&Body>, usize)> = Vec::new();
    if let Some(a) = b.body.get_attribute("sources")
        && let Ok(Val::List(items)) = val(&a.value)
    {
        for s in items.iter().filter_map(Val::as_lit) {
            uses.push((s, None, line(text, a.span())));
        }
    }
    let mut provisioners = Vec::new();
    for s in b.body.iter() {
        let Structure::Block(inner) = s else { continue };
        let iln = line(text, inner.span());
        let labels: Vec<String> = inner
            .labels
            .iter()
            .map(|l| l.as_str().to_string())
            .collect();
        match inner.ident.as_str() {
            "source" if labels.len() == 1 => uses.push((labels[0].clone(), Some(&inner.body), iln)),
            "provisioner" if labels.len() == 1 => {
                provisioners.push(provisioner(&labels[0], inner, text, iln))
            }
            other => t.leftovers.push(Leftover {
                line: iln,
                what: format!("`{other}` in a build: no equivalent"),
                text: format!(
                    "{other} {}",
                    labels
                        .iter()
                        .map(|l| format!("\"{l}\""))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            }),
        }
    }
    for (reference, overrides, uln) in uses {
        let r = reference.strip_prefix("source.").unwrap_or(&reference);
        let Some((kind, name)) = r.split_once('.') else {
            continue;
        };
        if kind != "amazon-ebs" {
            t.leftovers.push(Leftover {
                line: uln,
                what: format!("source `{r}`: golden_ami bakes what amazon-ebs does, nothing else"),
                text: format!("source \"{reference}\""),
            });
            continue;
        }
        let Some(src) = sources.iter().find(|s| s.kind == kind && s.name == name) else {
            t.leftovers.push(Leftover {
                line: uln,
                what: format!("source `{r}` is not defined"),
                text: String::new(),
            });
            continue;
        };
        let mut opts = body_opts(src.body, src.text);
        let mut shown_name = name.to_string();
        if let Some(ov) = overrides {
            for o in body_opts(ov, text) {
                if o.key == "name" {
                    if let Some(n) = o.val.as_ref().ok().and_then(Val::as_lit) {
                        shown_name = n;
                    }
                    continue;
                }
                opts.retain(|x| x.key != o.key);
                opts.push(o);
            }
        }
        t.builders.push(Builder {
            kind: kind.to_string(),
            ids: vec![
                format!("{kind}.{shown_name}"),
                format!("{kind}.{name}"),
                format!("source.{kind}.{name}"),
            ],
            name: shown_name,
            opts,
            provisioners: Some(provisioners.clone()),
            line: src.line,
        });
    }
}

fn provisioner(kind: &str, b: &Block, text: &str, ln: usize) -> Provisioner {
    let strings = |k: &str| -> Vec<String> {
        match b.body.get_attribute(k).map(|a| val(&a.value)) {
            Some(Ok(Val::List(items))) => items.iter().filter_map(Val::as_lit).collect(),
            _ => vec![],
        }
    };
    Provisioner {
        kind: kind.to_string(),
        opts: body_opts(&b.body, text)
            .into_iter()
            .filter(|o| !matches!(o.key.as_str(), "only" | "except"))
            .collect(),
        only: strings("only"),
        except: strings("except"),
        overrides: vec![],
        line: ln,
    }
}

fn variable(name: &str, b: &Block, text: &str, ln: usize) -> Variable {
    let mut v = Variable {
        name: name.to_string(),
        default: None,
        env: None,
        sensitive: false,
        description: None,
        ty: None,
        extra: vec![],
        line: ln,
    };
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => match a.key.as_str() {
                "type" => v.ty = Some(expr_text(&a.value)),
                "description" => v.description = val(&a.value).ok().and_then(|x| x.as_lit()),
                "sensitive" => {
                    v.sensitive = matches!(a.value, Expression::Bool(ref b) if *b.value())
                }
                "default" => match env_call(&a.value) {
                    Some(env) => v.env = Some(env),
                    None => v.default = val(&a.value).ok(),
                },
                _ => v
                    .extra
                    .push(format!("{} = {}", a.key.as_str(), expr_text(&a.value))),
            },
            Structure::Block(inner) => v.extra.push(dedent(&block_text(inner, text))),
        }
    }
    v
}

/// `env("X")` → `X`.
fn env_call(e: &Expression) -> Option<String> {
    let Expression::FuncCall(f) = e else {
        return None;
    };
    if f.name.name.as_str() != "env" {
        return None;
    }
    match f.args.iter().next()? {
        Expression::String(s) => Some(s.value().to_string()),
        _ => None,
    }
}

/// A body's attributes and blocks as options (blocks become maps).
fn body_opts(body: &Body, text: &str) -> Vec<Opt> {
    let mut out = Vec::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => out.push(Opt {
                key: a.key.as_str().to_string(),
                val: val(&a.value),
                line: line(text, a.span()),
                text: first_line(&format!("{} = {}", a.key.as_str(), expr_text(&a.value))),
            }),
            Structure::Block(b) => out.push(Opt {
                key: b.ident.as_str().to_string(),
                val: body_val(&b.body),
                line: line(text, b.span()),
                text: format!("{} {{ ... }}", b.ident.as_str()),
            }),
        }
    }
    out
}

fn body_val(body: &Body) -> Result<Val, String> {
    let mut entries = Vec::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => entries.push((a.key.as_str().to_string(), val(&a.value)?)),
            Structure::Block(b) => entries.push((b.ident.as_str().to_string(), body_val(&b.body)?)),
        }
    }
    Ok(Val::Map(entries))
}

/// Packer functions Terraform lacks.
const PACKER_ONLY: &[&str] = &[
    "env",
    "clean_resource_name",
    "legacy_isotime",
    "legacy_strftime",
    "aws_secretsmanager",
    "aws_secretsmanager_raw",
    "consul_key",
    "vault",
];

/// Packer's objects Terraform lacks.
const PACKER_ROOTS: &[&str] = &["source", "build", "packer"];

pub fn val(e: &Expression) -> Result<Val, String> {
    Ok(match e {
        Expression::Null(_) => Val::Null,
        Expression::Bool(b) => Val::Bool(*b.value()),
        Expression::Number(n) => Val::Num(n.to_string().trim().to_string()),
        Expression::String(s) => Val::lit(s.value()),
        Expression::Array(a) => Val::List(a.iter().map(val).collect::<Result<_, _>>()?),
        Expression::Object(o) => Val::Map(
            o.iter()
                .map(|(k, v)| {
                    let key = match k {
                        ObjectKey::Ident(i) => i.as_str().to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
                        ObjectKey::Expression(x) => format!("({})", expr_text(x)),
                    };
                    Ok((key, val(v.expr())?))
                })
                .collect::<Result<_, String>>()?,
        ),
        Expression::StringTemplate(t) => {
            let mut parts = Vec::new();
            for el in t.iter() {
                match el {
                    Element::Literal(l) => parts.push(Part::Lit(l.value().to_string())),
                    Element::Interpolation(i) if is_time(&i.expr) => parts.push(Part::Time),
                    Element::Interpolation(i) => parts.push(Part::Interp(checked(&i.expr)?)),
                    Element::Directive(_) => return Ok(Val::Expr(checked(e)?)),
                }
            }
            Val::Str(parts)
        }
        Expression::FuncCall(f)
            if f.name.name.as_str() == "clean_resource_name" && f.args.len() == 1 =>
        {
            match f.args.iter().next() {
                Some(arg) => val(arg)?,
                None => Val::Null,
            }
        }
        e if is_time(e) => Val::Str(vec![Part::Time]),
        other => Val::Expr(checked(other)?),
    })
}

/// The build's time: `timestamp()`, and what formats it.
fn is_time(e: &Expression) -> bool {
    let t = expr_text(e);
    t.contains("timestamp()")
        || t.starts_with("legacy_isotime(")
        || t.starts_with("legacy_strftime(")
}

/// The expression's text, refused when it uses what only Packer has.
fn checked(e: &Expression) -> Result<String, String> {
    let t = expr_text(e);
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() || b[i] == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &t[start..i];
            let preceded = start > 0 && (b[start - 1] == b'.' || b[start - 1] == b'"');
            if !preceded && b.get(i) == Some(&b'(') && PACKER_ONLY.contains(&word) {
                return Err(format!("`{word}()` is a Packer function Terraform lacks"));
            }
            if !preceded && b.get(i) == Some(&b'.') && PACKER_ROOTS.contains(&word) {
                return Err(format!(
                    "`{word}.*` is Packer's build context, unknown to Terraform"
                ));
            }
        } else {
            i += 1;
        }
    }
    // Packer's `path.root` is the template's directory; its files are copied beside the output.
    Ok(t.replace("path.root", "path.module"))
}

fn expr_text(e: &Expression) -> String {
    let mut e = e.clone();
    use hcl_edit::Decorate;
    e.decor_mut().clear();
    e.to_string().trim().to_string()
}

fn block_text(b: &Block, text: &str) -> String {
    match b.span() {
        Some(r) => text.get(r).unwrap_or_default().to_string(),
        None => String::new(),
    }
}

/// Removes the common indentation of all lines but the first.
fn dedent(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let closing = lines
        .last()
        .map(|l| l.len() - l.trim_start().len())
        .unwrap_or(0);
    let cut = indent.min(closing);
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.trim().to_string()
            } else {
                l.get(cut..).unwrap_or(l.trim()).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_line(s: &str) -> String {
    let one = s.trim().lines().next().unwrap_or("").to_string();
    if one.chars().count() > 100 {
        format!("{}…", one.chars().take(100).collect::<String>())
    } else {
        one
    }
}

fn line(text: &str, span: Option<std::ops::Range<usize>>) -> usize {
    span.map(|r| text[..r.start.min(text.len())].matches('\n').count() + 1)
        .unwrap_or(0)
}
