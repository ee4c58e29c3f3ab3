//! Packer's JSON templates interpolate with Go templates: `{{user `x`}}`,
//! `{{env `X`}}`, `{{timestamp}}`... Each string becomes a Terraform string.

use super::model::{Part, Val};

/// What a string referred to that the output must declare.
#[derive(Debug, Default)]
pub struct Refs {
    pub users: Vec<String>,
    pub envs: Vec<String>,
}

/// The Terraform variable an environment variable becomes.
pub fn env_var_name(env: &str) -> String {
    env.to_ascii_lowercase()
}

/// Translates one string; `build_name` answers `{{build_name}}`. An action with
/// no Terraform equivalent is an error naming it.
pub fn translate(s: &str, build_name: Option<&str>, refs: &mut Refs) -> Result<Val, String> {
    let mut parts: Vec<Part> = Vec::new();
    let mut rest = s;
    let push_lit = |parts: &mut Vec<Part>, t: &str| {
        if t.is_empty() {
            return;
        }
        if let Some(Part::Lit(prev)) = parts.last_mut() {
            prev.push_str(t);
        } else {
            parts.push(Part::Lit(t.to_string()));
        }
    };
    while let Some(open) = rest.find("{{") {
        push_lit(&mut parts, &rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| format!("unclosed `{{{{` in {s:?}"))?;
        let raw = &after[..close];
        let action = raw.trim_start_matches('-').trim_end_matches('-').trim();
        match action_part(action, build_name, refs)? {
            Some(Part::Lit(l)) => push_lit(&mut parts, &l),
            Some(p) => parts.push(p),
            // Kept for the provisioner (`{{ .Path }}`, `{{ .Vars }}`).
            None => push_lit(&mut parts, &rest[open..open + 4 + close]),
        }
        rest = &after[close + 2..];
    }
    push_lit(&mut parts, rest);
    if parts.is_empty() {
        parts.push(Part::Lit(String::new()));
    }
    Ok(Val::Str(parts))
}

/// The argument of `user \`x\`` or `user "x"`.
fn quoted_arg<'a>(action: &'a str, func: &str) -> Option<&'a str> {
    let arg = action.strip_prefix(func)?.trim();
    let arg = arg
        .strip_prefix('`')
        .and_then(|a| a.strip_suffix('`'))
        .or_else(|| arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')))?;
    Some(arg)
}

fn action_part(
    action: &str,
    build_name: Option<&str>,
    refs: &mut Refs,
) -> Result<Option<Part>, String> {
    if action.starts_with('.') {
        return Ok(None);
    }
    if let Some(name) = quoted_arg(action, "user") {
        refs.users.push(name.to_string());
        return Ok(Some(Part::Interp(format!("var.{name}"))));
    }
    if let Some(name) = quoted_arg(action, "env") {
        refs.envs.push(name.to_string());
        return Ok(Some(Part::Interp(format!("var.{}", env_var_name(name)))));
    }
    let first = action.split_whitespace().next().unwrap_or("");
    let is_time = |w: &str| matches!(w, "timestamp" | "isotime");
    let piped: Vec<&str> = action.split('|').map(str::trim).collect();
    let head = piped[0].split_whitespace().next().unwrap_or("");
    let cleaners = piped[1..].iter().all(|f| {
        matches!(
            f.split_whitespace().next(),
            Some("clean_resource_name" | "clean_ami_name")
        )
    });
    if is_time(head) && cleaners {
        return Ok(Some(Part::Time));
    }
    if matches!(first, "clean_resource_name" | "clean_ami_name")
        && action
            .split_whitespace()
            .skip(1)
            .any(|w| is_time(w.trim_matches(|c| c == '(' || c == ')')))
    {
        return Ok(Some(Part::Time));
    }
    match (action, build_name) {
        ("build_name", Some(n)) => Ok(Some(Part::Lit(n.to_string()))),
        ("build_type", _) => Ok(Some(Part::Lit("amazon-ebs".into()))),
        ("template_dir", _) => Ok(Some(Part::Interp("path.module".into()))),
        ("pwd", _) => Ok(Some(Part::Interp("path.cwd".into()))),
        _ => Err(format!(
            "the template function `{{{{{action}}}}}` has no Terraform equivalent here"
        )),
    }
}
