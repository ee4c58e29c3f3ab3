//! The crate's structure, checked from the source: layers import only
//! downward, and no two files import each other.
//!
//! Layers (a module may use only what is listed after its arrow):
//!   main      → anything
//!   plugin    → provider, protocol, logging
//!   provider  → bake, provision, ssh, ec2, protocol, choices, retry, public_ip
//!   bake      → provision, ssh, ec2, choices, retry, public_ip
//!   provision → ssh, retry
//!   ssh, ec2  → retry
//!   protocol, retry, choices, public_ip, logging → nothing of ours
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
    ("ec2", &["retry"]),
    ("protocol", &[]),
    ("retry", &[]),
    ("choices", &[]),
    ("public_ip", &[]),
    ("logging", &[]),
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

/// Code without comments (line comments and doc comments).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a file refers to, absolute.
fn references(file: &Path, text: &str) -> BTreeSet<Vec<String>> {
    let here = module_of(file);
    let is_mod = file
        .file_name()
        .is_some_and(|n| n == "mod.rs" || n == "main.rs");
    let mut out = BTreeSet::new();
    let code = code(text);
    for start in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(start) {
            let before = rest[..i].chars().last();
            rest = &rest[i..];
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            rest = &rest[start.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let mut segs: Vec<String> = word
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if start == "crate::" {
                segs.remove(0);
            } else {
                // `super` in a.rs is a's parent; in a/mod.rs it is a's parent too.
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
            out.insert(segs);
        }
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
    let mut edges: BTreeSet<(Vec<String>, Vec<String>)> = BTreeSet::new();
    let mut upward = Vec::new();
    for (module, path) in &files {
        let text = std::fs::read_to_string(path).unwrap();
        // Test code may reach anywhere.
        let text = match text.find("#[cfg(test)]") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        for r in references(path, text) {
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
