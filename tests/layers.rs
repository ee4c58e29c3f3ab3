//! The crate's structure, checked from the source: layers import only
//! downward, and no two files import each other.
//!
//! Layers (a module may use only what is listed after its arrow):
//!   main      → anything
//!   plugin    → provider, protocol, logging
//!   provider  → bake, provision, ssh, ec2, sts, ssm, aws, protocol, choices, retry, public_ip
//!   bake      → provision, ssh, ec2, choices, retry, public_ip
//!   provision → ssh, retry
//!   ssh       → retry
//!   ec2       → aws (the shared SDK configuration), retry, choices (closed value sets such as volume types)
//!   sts       → aws
//!   ssm       → aws, retry (throttling answers sent again, as for EC2)
//!   aws       → choices
//!   protocol, retry, choices, public_ip, logging → nothing of ours
//!   convert   → provider, for its schema definitions only (the `convert`
//!               command reads attribute names there); nothing imports convert
//!
//! References are read as text: `crate::a::b` and `super::x` paths outside
//! comments, resolved to the file that defines them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ALLOWED: &[(&str, &[&str])] = &[
    ("plugin", &["provider", "protocol", "logging"]),
    (
        "provider",
        &[
            "bake",
            "provision",
            "ssh",
            "ec2",
            "sts",
            "ssm",
            "aws",
            "protocol",
            "choices",
            "retry",
            "public_ip",
        ],
    ),
    (
        "bake",
        &["provision", "ssh", "ec2", "choices", "retry", "public_ip"],
    ),
    ("provision", &["ssh", "retry"]),
    ("ssh", &["retry"]),
    ("ec2", &["aws", "retry", "choices"]),
    ("sts", &["aws"]),
    ("ssm", &["aws", "retry"]),
    ("aws", &["choices"]),
    ("protocol", &[]),
    ("retry", &[]),
    ("choices", &[]),
    ("public_ip", &[]),
    ("logging", &[]),
    ("convert", &["provider"]),
];

/// What of the provider `convert` may read: the schemas, nothing that runs.
const CONVERT_READS: &[&[&str]] = &[
    &["provider"],
    &["provider", "schema"],
    &["provider", "golden_ami"],
    &["provider", "golden_ami", "schema"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: src/ec2/mod.rs → [ec2], src/ec2/wait.rs → [ec2, wait].
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "main") {
        parts.pop();
    }
    parts
}

/// The file that defines the longest prefix of `path` that is a module.
fn file_of(path: &[String], files: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| files.contains_key(m))
}

/// Code without comments (line comments and doc comments), without the
/// string literals' contents, and without `#[cfg(test)]` items (test code
/// may reach anywhere).
fn code(text: &str) -> String {
    let no_comments: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = no_comments.as_str();
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        rest = &rest[i + "#[cfg(test)]".len()..];
        // The item ends at `;` before any `{`, or at the brace that closes the first `{`.
        let semi = rest.find(';');
        let open = rest.find('{');
        match (semi, open) {
            (Some(s), Some(o)) if s < o => rest = &rest[s + 1..],
            (_, Some(o)) => {
                let mut depth = 0usize;
                let mut end = rest.len();
                for (j, c) in rest[o..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = o + j + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &rest[end..];
            }
            (Some(s), None) => rest = &rest[s + 1..],
            (None, None) => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// The modules a file declares as test-only (`#[cfg(test)] mod x;`).
fn test_modules(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|w| w[0] == "#[cfg(test)]")
        .filter_map(|w| {
            let m = w[1].strip_prefix("pub ").unwrap_or(w[1]);
            m.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect()
}

/// Splits `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else {
        return vec![path.trim().trim_end_matches("::").to_string()];
    };
    let prefix = &path[..open];
    let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(&format!("{prefix}{}", p.trim())))
        .collect()
}

/// The module paths a file refers to, absolute: `crate::` and `super::`
/// paths anywhere, and `use child::...` of a module the file declares.
fn references(file: &Path, text: &str) -> BTreeSet<Vec<String>> {
    let here = module_of(file);
    let is_mod = file
        .file_name()
        .is_some_and(|n| n == "mod.rs" || n == "main.rs");
    let code = code(text);
    let declared: Vec<String> = code
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            let l = l.strip_prefix("pub ").unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect();
    let mut paths: Vec<String> = Vec::new();
    for start in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(start) {
            let before = rest[..i].chars().last();
            rest = &rest[i..];
            let mut depth = 0;
            let end = rest
                .char_indices()
                .find(|(_, c)| match c {
                    '{' => {
                        depth += 1;
                        false
                    }
                    '}' if depth > 0 => {
                        depth -= 1;
                        false
                    }
                    c => depth == 0 && !(c.is_alphanumeric() || *c == '_' || *c == ':'),
                })
                .map(|(j, _)| j)
                .unwrap_or(rest.len());
            let word = rest[..end].to_string();
            rest = &rest[start.len()..];
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                paths.extend(expand(&word));
            }
        }
    }
    // `use child::x;` / `pub use child::x;` in a file that declares `mod child;`.
    for l in code.lines().map(str::trim) {
        let l = l.strip_prefix("pub ").unwrap_or(l);
        if let Some(u) = l.strip_prefix("use ")
            && declared.iter().any(|m| u.starts_with(&format!("{m}::")))
        {
            // A child of a.rs or of a/mod.rs lives under a/ alike.
            for p in expand(u.trim_end_matches(';')) {
                let mut full = here.clone();
                full.extend(p.split("::").map(str::to_string));
                paths.push(format!("crate::{}", full.join("::")));
            }
        }
    }
    let mut out = BTreeSet::new();
    for word in paths {
        let mut segs: Vec<String> = word
            .split("::")
            .filter(|s| !s.is_empty())
            .map(|s| s.trim().to_string())
            .collect();
        match segs.first().map(String::as_str) {
            Some("crate") => {
                segs.remove(0);
            }
            Some("super") => {
                let mut base = here.clone();
                if !is_mod || !base.is_empty() {
                    base.pop();
                }
                let mut s = segs.into_iter().skip(1).collect::<Vec<_>>();
                while s.first().is_some_and(|x| x == "super") {
                    base.pop();
                    s.remove(0);
                }
                base.extend(s);
                segs = base;
            }
            _ => continue,
        }
        out.insert(segs);
    }
    out
}

#[test]
fn layers_import_downward_and_no_two_files_import_each_other() {
    let mut paths = Vec::new();
    rust_files(&src(), &mut paths);
    let files: BTreeMap<Vec<String>, PathBuf> =
        paths.iter().map(|p| (module_of(p), p.clone())).collect();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    // Modules compiled for tests only (`#[cfg(test)] mod x;`) may reach anywhere.
    let test_only: Vec<Vec<String>> = files
        .iter()
        .flat_map(|(m, p)| {
            let text = std::fs::read_to_string(p).unwrap();
            test_modules(&text).into_iter().map(move |t| {
                let mut full = m.clone();
                full.push(t);
                full
            })
        })
        .collect();
    let mut edges: BTreeSet<(Vec<String>, Vec<String>)> = BTreeSet::new();
    let mut upward = Vec::new();
    for (module, path) in &files {
        if test_only.iter().any(|t| module.starts_with(t)) {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for r in references(path, &text) {
            let Some(target) = file_of(&r, &files) else {
                continue;
            };
            if target == *module || target.is_empty() {
                continue;
            }
            edges.insert((module.clone(), target.clone()));
            let (Some(from), Some(to)) = (module.first(), target.first()) else {
                continue;
            };
            if from == to {
                continue;
            }
            let ok = allowed
                .get(from.as_str())
                .is_some_and(|a| a.contains(&to.as_str()));
            if !ok {
                upward.push(format!("{} uses {}", module.join("/"), target.join("::")));
            }
        }
    }
    let convert_beyond_schema: Vec<String> = edges
        .iter()
        .filter(|(a, b)| {
            a.first().is_some_and(|m| m == "convert") && b.first().is_some_and(|m| m == "provider")
        })
        .filter(|(_, b)| {
            !CONVERT_READS.iter().any(|ok| {
                b.starts_with(&ok.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    && (b.len() == ok.len() || ok.ends_with(&["schema"]))
            })
        })
        .map(|(a, b)| format!("{} uses {}", a.join("/"), b.join("::")))
        .collect();
    assert!(
        convert_beyond_schema.is_empty(),
        "convert may read the provider's schema only:\n  {}",
        convert_beyond_schema.join("\n  ")
    );
    let mut cycles = Vec::new();
    for (a, b) in &edges {
        if a < b && edges.contains(&(b.clone(), a.clone())) {
            cycles.push(format!("{} <-> {}", a.join("/"), b.join("/")));
        }
    }
    assert!(
        upward.is_empty() && cycles.is_empty(),
        "imports against the layers:\n  {}\nfiles that import each other:\n  {}",
        upward.join("\n  "),
        cycles.join("\n  ")
    );
    // Key types and sessions stay behind ssh/ (ssh::keys for parsing).
    let russh_outside: Vec<String> = files
        .iter()
        .filter(|(m, _)| m.first().is_none_or(|t| t != "ssh"))
        .filter(|(_, p)| {
            let text = std::fs::read_to_string(p).unwrap();
            let text = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .to_string();
            code(&text).contains("russh")
        })
        .map(|(m, _)| m.join("/"))
        .collect();
    assert!(
        russh_outside.is_empty(),
        "russh used outside ssh/: {russh_outside:?}"
    );
    for m in files.keys().filter_map(|m| m.first()) {
        assert!(
            allowed.contains_key(m.as_str()),
            "src/{m} has no place in the layer list of tests/layers.rs"
        );
    }
}
