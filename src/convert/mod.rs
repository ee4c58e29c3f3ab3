//! `terraform-provider-golden convert TEMPLATE [--out DIR]`: a Packer template
//! (JSON, or HCL2: a `*.pkr.hcl` file or a directory of them) to a Terraform
//! configuration that bakes the same image with golden_ami. It reads the
//! provider's schema for attribute names and nothing else of the provider;
//! nothing imports it.
//!
//! Exit status: 0 when everything was converted; 2 when the configuration was
//! written but some parts have no equivalent (reported on stderr with their
//! template lines, left as comments in the output); 1 when nothing was written.

mod files;
mod gotmpl;
#[cfg(test)]
mod guide;
mod hcl;
mod json;
mod json_lines;
mod mapping;
mod model;
mod output;
mod provision;
mod report;
mod rules;
mod variables;
mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: terraform-provider-golden convert TEMPLATE [--out DIR]
  TEMPLATE   a Packer JSON template, a *.pkr.hcl file, or a directory of *.pkr.hcl files
  --out DIR  where main.tf and variables.tf go (default: the current directory)
exit status: 0 complete, 2 written with parts not converted (see stderr), 1 nothing written";

/// Runs the command with the arguments after `convert`.
pub fn main(args: &[String]) -> ExitCode {
    let mut template = None;
    let mut out = PathBuf::from(".");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" | "-out" => match it.next() {
                Some(d) => out = PathBuf::from(d),
                None => return usage("--out needs a directory"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            s if s.starts_with("--out=") => out = PathBuf::from(&s["--out=".len()..]),
            s if s.starts_with('-') => return usage(&format!("unknown option {s}")),
            s if template.is_none() => template = Some(PathBuf::from(s)),
            s => return usage(&format!("one template at a time ({s})")),
        }
    }
    let Some(template) = template else {
        return usage("no template given");
    };
    match run(&template, &out) {
        Ok((report, code)) => {
            eprint!("{report}");
            ExitCode::from(code)
        }
        Err(e) => {
            eprintln!("convert: {e}");
            ExitCode::from(report::FAILED)
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("convert: {why}\n{USAGE}");
    ExitCode::from(report::FAILED)
}

/// Converts and writes; returns the report and the exit status.
pub fn run(template: &Path, out: &Path) -> Result<(String, u8), String> {
    let t = read(template)?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let c = output::convert(&t, out);
    let write = |name: &str, text: String| {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    write("main.tf", writer::render(&c.main))?;
    write("variables.tf", writer::render(&c.variables))?;
    c.files
        .copy_all()
        .map_err(|e| format!("cannot copy the template's files: {e}"))?;
    let code = report::exit_code(&c.findings);
    let mut text = report::render(&t.file, &t.file_starts, &c.findings);
    let gaps = report::gaps(&c.findings);
    text.push_str(&format!(
        "convert: wrote {} and {}: {}\n",
        out.join("main.tf").display(),
        out.join("variables.tf").display(),
        if gaps == 0 {
            "complete".to_string()
        } else {
            format!("{gaps} part(s) not converted (exit status {code})")
        }
    ));
    Ok((text, code))
}

/// JSON by content, HCL2 by name (or a directory).
fn read(template: &Path) -> Result<model::Template, String> {
    if template.is_dir() {
        return hcl::read_dir(template);
    }
    let text = std::fs::read_to_string(template)
        .map_err(|e| format!("cannot read {}: {e}", template.display()))?;
    if text.trim_start().starts_with('{') {
        json::read(template, &text)
    } else {
        hcl::read_files(template, &[(template.to_path_buf(), text)])
    }
}
