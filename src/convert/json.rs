//! Reads a Packer JSON template into the neutral model.

use super::gotmpl::{Refs, env_var_name, translate};
use super::json_lines::{join, lines};
use super::model::{Builder, Leftover, Opt, Provisioner, Template, Val, Variable};
use serde_json::Value as J;
use std::collections::HashMap;
use std::path::Path;

pub fn read(path: &Path, text: &str) -> Result<Template, String> {
    let root: J = serde_json::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
    let J::Object(top) = &root else {
        return Err(format!("{}: a template is a JSON object", path.display()));
    };
    let ln = lines(text);
    let line = |p: &str| ln.get(p).copied().unwrap_or(1);
    let mut t = Template {
        file: path.to_path_buf(),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        ..Template::default()
    };
    let mut refs = Refs::default();

    let sensitive: Vec<String> = top
        .get("sensitive-variables")
        .and_then(J::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(J::Object(vars)) = top.get("variables") {
        for (name, v) in in_order(vars, "variables", &ln) {
            let p = join("variables", name);
            let mut var = Variable {
                name: name.clone(),
                default: None,
                env: None,
                sensitive: sensitive.contains(name),
                description: None,
                ty: Some("string".into()),
                extra: vec![],
                line: line(&p),
            };
            match v {
                J::Null => {}
                J::String(s) => {
                    let mut r = Refs::default();
                    match translate(s, None, &mut r) {
                        Ok(val) if r.envs.len() == 1 && val == Val::Str(vec![super::model::Part::Interp(format!("var.{}", env_var_name(&r.envs[0])))]) => {
                            var.env = Some(r.envs[0].clone());
                        }
                        Ok(val) if r.envs.is_empty() && r.users.is_empty() && !val.has_time() => var.default = Some(val),
                        _ => t.leftovers.push(Leftover {
                            line: var.line,
                            what: format!("variable `{name}`: a default computed from other values has no Terraform equivalent (a variable's default is a constant); it is left without one"),
                            text: format!("\"{name}\": {v}"),
                        }),
                    }
                }
                other => {
                    var.default = Some(
                        json_val(other, None, &mut Refs::default(), &p, &ln).unwrap_or(Val::Null),
                    )
                }
            }
            t.variables.push(var);
        }
    }

    if let Some(J::Array(builders)) = top.get("builders") {
        for (i, b) in builders.iter().enumerate() {
            let p = join("builders", &i.to_string());
            let J::Object(obj) = b else { continue };
            let kind = obj
                .get("type")
                .and_then(J::as_str)
                .unwrap_or("")
                .to_string();
            let name = obj
                .get("name")
                .and_then(J::as_str)
                .unwrap_or(&kind)
                .to_string();
            if kind != "amazon-ebs" {
                t.leftovers.push(Leftover {
                    line: line(&p),
                    what: format!("builder `{name}` of type `{kind}`: golden_ami bakes what amazon-ebs does, nothing else"),
                    text: format!("builder {name} ({kind})"),
                });
                continue;
            }
            let mut opts = Vec::new();
            for (k, v) in in_order(obj, &p, &ln) {
                if k == "type" || k == "name" {
                    continue;
                }
                opts.push(opt(k, v, Some(&name), &mut refs, &p, &ln));
            }
            t.builders.push(Builder {
                kind,
                ids: vec![name.clone()],
                name,
                opts,
                provisioners: None,
                line: line(&p),
            });
        }
    }

    if let Some(J::Array(provs)) = top.get("provisioners") {
        for (i, pv) in provs.iter().enumerate() {
            let p = join("provisioners", &i.to_string());
            let J::Object(obj) = pv else { continue };
            let strings = |k: &str| -> Vec<String> {
                obj.get(k)
                    .and_then(J::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut opts = Vec::new();
            for (k, v) in in_order(obj, &p, &ln) {
                if matches!(k.as_str(), "type" | "only" | "except" | "override") {
                    continue;
                }
                opts.push(opt(k, v, None, &mut refs, &p, &ln));
            }
            let mut overrides = Vec::new();
            if let Some(J::Object(ov)) = obj.get("override") {
                for (bname, o) in ov {
                    let bp = join(&join(&p, "override"), bname);
                    if let J::Object(o) = o {
                        let list = in_order(o, &bp, &ln)
                            .into_iter()
                            .map(|(k, v)| opt(k, v, Some(bname), &mut refs, &bp, &ln))
                            .collect();
                        overrides.push((bname.clone(), list));
                    }
                }
            }
            t.provisioners.push(Provisioner {
                kind: obj
                    .get("type")
                    .and_then(J::as_str)
                    .unwrap_or("")
                    .to_string(),
                opts,
                only: strings("only"),
                except: strings("except"),
                overrides,
                line: line(&p),
            });
        }
    }

    for key in ["post-processors", "post-processor"] {
        if let Some(J::Array(pps)) = top.get(key) {
            for (i, pp) in pps.iter().enumerate() {
                let p = join(key, &i.to_string());
                let kind = match pp {
                    J::String(s) => s.clone(),
                    J::Object(o) => o.get("type").and_then(J::as_str).unwrap_or("?").to_string(),
                    J::Array(a) => a
                        .iter()
                        .filter_map(|x| x.get("type").and_then(J::as_str))
                        .collect::<Vec<_>>()
                        .join(" + "),
                    _ => "?".into(),
                };
                t.leftovers.push(Leftover {
                    line: line(&p),
                    what: format!("post-processor `{kind}`: no equivalent (post-processing belongs to other Terraform resources)"),
                    text: format!("post-processor {kind}"),
                });
            }
        }
    }
    for (k, _) in top {
        if !matches!(
            k.as_str(),
            "variables"
                | "sensitive-variables"
                | "builders"
                | "provisioners"
                | "post-processors"
                | "description"
                | "min_packer_version"
        ) {
            t.leftovers.push(Leftover {
                line: line(k),
                what: format!("template section `{k}`: no equivalent"),
                text: format!("\"{k}\""),
            });
        }
    }

    declare_refs(&mut t, refs);
    Ok(t)
}

/// Variables the template uses but never declares (`{{env}}` in a builder, say)
/// must exist in the output.
fn declare_refs(t: &mut Template, refs: Refs) {
    for env in refs.envs {
        let name = env_var_name(&env);
        if !t.variables.iter().any(|v| v.name == name) {
            t.variables.push(Variable {
                name,
                default: None,
                env: Some(env),
                sensitive: false,
                description: None,
                ty: Some("string".into()),
                extra: vec![],
                line: 0,
            });
        }
    }
    for user in refs.users {
        if !t.variables.iter().any(|v| v.name == user) {
            t.leftovers.push(Leftover {
                line: 0,
                what: format!("`{{{{user `{user}`}}}}` names no variable of the template; declared without a default"),
                text: String::new(),
            });
            t.variables.push(Variable {
                name: user,
                default: None,
                env: None,
                sensitive: false,
                description: None,
                ty: Some("string".into()),
                extra: vec![],
                line: 0,
            });
        }
    }
}

/// An object's members in the order the file has them.
fn in_order<'a>(
    obj: &'a serde_json::Map<String, J>,
    path: &str,
    ln: &HashMap<String, usize>,
) -> Vec<(&'a String, &'a J)> {
    let mut v: Vec<_> = obj.iter().collect();
    v.sort_by_key(|(k, _)| ln.get(&join(path, k)).copied().unwrap_or(usize::MAX));
    v
}

fn opt(
    k: &str,
    v: &J,
    build: Option<&str>,
    refs: &mut Refs,
    path: &str,
    ln: &HashMap<String, usize>,
) -> Opt {
    let p = join(path, k);
    Opt {
        key: k.to_string(),
        val: json_val(v, build, refs, &p, ln),
        line: ln.get(&p).copied().unwrap_or(1),
        text: format!("\"{k}\": {}", compact(v)),
    }
}

fn compact(v: &J) -> String {
    let s = v.to_string();
    if s.chars().count() > 100 {
        format!("{}…", s.chars().take(100).collect::<String>())
    } else {
        s
    }
}

fn json_val(
    v: &J,
    build: Option<&str>,
    refs: &mut Refs,
    path: &str,
    ln: &HashMap<String, usize>,
) -> Result<Val, String> {
    Ok(match v {
        J::Null => Val::Null,
        J::Bool(b) => Val::Bool(*b),
        J::Number(n) => Val::Num(n.to_string()),
        J::String(s) => translate(s, build, refs)?,
        J::Array(a) => Val::List(
            a.iter()
                .enumerate()
                .map(|(i, x)| json_val(x, build, refs, &join(path, &i.to_string()), ln))
                .collect::<Result<_, _>>()?,
        ),
        J::Object(o) => Val::Map(
            in_order(o, path, ln)
                .into_iter()
                .map(|(k, x)| Ok((k.clone(), json_val(x, build, refs, &join(path, k), ln)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
