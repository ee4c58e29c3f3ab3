//! Local files a template names (scripts, uploads, user data, keys): paths
//! relative to the template become `${path.module}/...`, and the files are
//! copied beside the output when it is written elsewhere.

use super::model::{Part, Val};
use super::report::Finding;
use std::path::{Component, Path, PathBuf};

pub struct Files {
    pub template_dir: PathBuf,
    pub out_dir: PathBuf,
    /// (from, to), files or directories, each once.
    pub copies: Vec<(PathBuf, PathBuf)>,
}

impl Files {
    /// The path as the output names it; `None` for a value that is no path.
    pub fn local(&mut self, v: &Val, line: usize, findings: &mut Vec<Finding>) -> Option<Val> {
        // `${path.root}/x` (HCL2) and `{{template_dir}}/x` (JSON) are relative paths too.
        if let Val::Str(parts) = v
            && let [Part::Interp(root), Part::Lit(rest)] = parts.as_slice()
            && root == "path.module"
            && let Some(rel) = rest.strip_prefix('/')
        {
            return self.local(&Val::lit(rel), line, findings);
        }
        let Some(s) = v.as_lit() else {
            // `{{user `dir`}}/x.sh`, `${var.dir}/x.sh`: kept as written.
            if matches!(v, Val::Str(_) | Val::Expr(_)) {
                findings.push(Finding::note(
                    line,
                    format!(
                        "{} is referenced as written, not copied (it depends on a variable)",
                        super::writer::value(v, 0)
                    ),
                ));
                return Some(v.clone());
            }
            return None;
        };
        let p = Path::new(&s);
        if p.is_absolute() {
            findings.push(Finding::note(
                line,
                format!("{s} is referenced by its absolute path, not copied"),
            ));
            return Some(v.clone());
        }
        let src = self.template_dir.join(p);
        // Within the template's directory the layout is kept; a path reaching
        // outside it lands beside the output under its file name.
        let inside = p
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        let rel: PathBuf = if inside {
            p.components()
                .filter(|c| !matches!(c, Component::CurDir))
                .collect()
        } else {
            PathBuf::from(p.file_name()?)
        };
        let mut rel_s = rel.to_string_lossy().to_string();
        if s.ends_with('/') && !rel_s.ends_with('/') {
            rel_s.push('/');
        }
        let dst = self.out_dir.join(&rel);
        let shown = format!("${{path.module}}/{rel_s}");
        if !src.exists() {
            findings.push(Finding::gap(
                line,
                format!("{s}: not found beside the template; referenced as {shown}: put it there"),
            ));
        } else if same(&src, &dst) {
            findings.push(Finding::note(
                line,
                format!("{s} is referenced in place as {shown}"),
            ));
        } else if !self.copies.iter().any(|(f, _)| f == &src) {
            findings.push(Finding::note(
                line,
                format!(
                    "{s} is copied to {} and referenced as {shown}",
                    dst.display()
                ),
            ));
            self.copies.push((src, dst));
        }
        Some(Val::Str(vec![
            Part::Interp("path.module".into()),
            Part::Lit(format!("/{rel_s}")),
        ]))
    }

    /// A local path the bake writes (a download's destination): made relative
    /// to the output, nothing to copy.
    pub fn target(&self, v: &Val) -> Val {
        match v.as_lit() {
            Some(s) if !Path::new(&s).is_absolute() => Val::Str(vec![
                Part::Interp("path.module".into()),
                Part::Lit(format!("/{}", s.trim_start_matches("./"))),
            ]),
            _ => v.clone(),
        }
    }

    /// Makes the copies; directories recursively.
    pub fn copy_all(&self) -> std::io::Result<()> {
        for (from, to) in &self.copies {
            copy(from, to)?;
        }
        Ok(())
    }
}

fn same(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            copy(&e.path(), &to.join(e.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // std::fs::copy keeps the mode: a script stays executable.
        std::fs::copy(from, to).map(|_| ())
    }
}
