//! What the conversion could not carry over (gaps) and what it decided on the
//! user's behalf (notes), each with the template line it comes from.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Left as a comment in the output: the result does not bake the same image.
    Gap,
    /// Carried over, with a choice worth knowing (a file copied, `name_prefix`).
    Note,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: Kind,
    /// 0: the template as a whole.
    pub line: usize,
    pub what: String,
}

impl Finding {
    pub fn gap(line: usize, what: impl Into<String>) -> Finding {
        Finding {
            kind: Kind::Gap,
            line,
            what: what.into(),
        }
    }
    pub fn note(line: usize, what: impl Into<String>) -> Finding {
        Finding {
            kind: Kind::Note,
            line,
            what: what.into(),
        }
    }
}

/// Exit status when every part was converted.
pub const COMPLETE: u8 = 0;
/// Nothing was written: bad arguments, an unreadable template, an unwritable directory.
pub const FAILED: u8 = 1;
/// Written, but some parts had no equivalent (they are comments in the output).
pub const INCOMPLETE: u8 = 2;

/// The report as stderr shows it, one finding a line, in template order.
pub fn render(file: &Path, starts: &[(PathBuf, usize)], findings: &[Finding]) -> String {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.line);
    // A provisioner shared by several builders is reported once.
    sorted.dedup_by(|a, b| a.line == b.line && a.what == b.what);
    let mut out = String::new();
    for f in sorted {
        let tag = match f.kind {
            Kind::Gap => "not converted",
            Kind::Note => "note",
        };
        // The file holding the line, and the line within it.
        let (name, line) = match starts.iter().rev().find(|(_, s)| f.line > *s) {
            Some((p, s)) if f.line > 0 => (p.as_path(), f.line - s),
            _ => (file, f.line),
        };
        let name = name.display();
        if line > 0 {
            out.push_str(&format!("{name}:{line}: {tag}: {}\n", f.what));
        } else {
            out.push_str(&format!("{name}: {tag}: {}\n", f.what));
        }
    }
    out
}

/// Gaps, each counted once.
pub fn gaps(findings: &[Finding]) -> usize {
    let mut seen: Vec<(usize, &str)> = findings
        .iter()
        .filter(|f| f.kind == Kind::Gap)
        .map(|f| (f.line, f.what.as_str()))
        .collect();
    seen.sort();
    seen.dedup();
    seen.len()
}

pub fn exit_code(findings: &[Finding]) -> u8 {
    if findings.iter().any(|f| f.kind == Kind::Gap) {
        INCOMPLETE
    } else {
        COMPLETE
    }
}
