//! Renders the schema reference in `docs/` from the schema itself, so the
//! attributes are described once. `GOLDEN_WRITE_DOCS=1 cargo test docs`
//! rewrites the generated sections; the test fails when they are stale.

use super::check::Check;
use super::types::{Attr, Block, Mode, Nesting, OnChange, Ty};

fn ty_name(t: &Ty) -> String {
    match t {
        Ty::String => "String".into(),
        Ty::Number => "Number".into(),
        Ty::Bool => "Bool".into(),
        Ty::List(t) => format!("List of {}", ty_name(t)),
        Ty::Map(t) => format!("Map of {}", ty_name(t)),
    }
}

/// Markdown for a block: its attributes, then each nested block in a section.
/// `replace_note` names what a replacing change does ("forces a new bake").
pub fn render(block: &Block, title_level: usize, path: &str, replace_note: Option<&str>) -> String {
    let mut out = String::new();
    let mut sections = Vec::new();
    for a in &block.attrs {
        let mode = match a.mode {
            Mode::Required => "Required",
            Mode::Optional => "Optional",
            Mode::Computed => "Read-only",
            Mode::OptionalComputed => "Optional, computed",
        };
        let mut extra = String::new();
        if a.sensitive {
            extra.push_str(", sensitive");
        }
        if a.write_only {
            extra.push_str(", write-only");
        }
        if let Some(note) = replace_note
            && a.mode != Mode::Computed
            && a.on_change == OnChange::Replace
        {
            extra.push_str(&format!(", {note}"));
        }
        out.push_str(&format!(
            "- `{}` ({}, {mode}{extra}) {}{}\n",
            a.name,
            ty_name(&a.ty),
            a.description,
            derived_text(a)
        ));
    }
    for b in &block.blocks {
        let how = match b.nesting {
            Nesting::Single => "at most one",
            Nesting::List => "any number, in order",
        };
        let change = match (replace_note, b.on_change) {
            (Some(note), OnChange::Replace) => format!(", {note}"),
            (Some(_), OnChange::InPlace) => ", no rebake when changed".to_string(),
            (None, _) => String::new(),
        };
        out.push_str(&format!(
            "- `{}` (Block, {how}{change}) {} See [below](#nested-block-{}).\n",
            b.name,
            b.block.description,
            anchor(path, b.name)
        ));
        let full = if path.is_empty() {
            b.name.to_string()
        } else {
            format!("{path}.{}", b.name)
        };
        sections.push(format!(
            "\n{} Nested block `{full}`\n\n{}",
            "#".repeat(title_level),
            render(&b.block, title_level, &full, None)
        ));
    }
    for s in sections {
        out.push_str(&s);
    }
    out
}

/// What the definition says beyond its prose: the allowed values and the default.
fn derived_text(a: &Attr) -> String {
    let mut out = String::new();
    for c in &a.checks {
        match c {
            Check::OneOf(values) => {
                let list: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
                out.push_str(&format!(" One of {}.", list.join(", ")));
            }
            Check::Whole { min, max, .. } => out.push_str(&format!(" From {min} to {max}.")),
            _ => {}
        }
    }
    if let Some(d) = &a.default {
        let shown = match d {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!(" Default `{shown}`."));
    }
    out
}

fn anchor(path: &str, name: &str) -> String {
    let full = if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    };
    full.replace('.', "")
}

#[cfg(test)]
mod tests {
    use super::render;
    use std::path::Path;

    const END: &str = "<!-- schema:end -->";

    fn repo() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    /// Checks (or, with GOLDEN_WRITE_DOCS set, rewrites) the text between `begin` and `end`.
    fn check_section(file: &str, begin: &str, end: &str, generated: &str) {
        let path = repo().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let Some(b) = text.find(begin) else {
            panic!("{file} lacks the marker {begin:?}");
        };
        let Some(e) = text[b..].find(end).map(|e| b + e) else {
            panic!("{file} lacks {end:?} after {begin:?}");
        };
        let current = &text[b + begin.len()..e];
        if current != generated {
            if std::env::var("GOLDEN_WRITE_DOCS").is_ok() {
                let new = format!("{}{begin}{generated}{}", &text[..b], &text[e..]);
                std::fs::write(&path, new).unwrap();
            } else {
                panic!("{file} is stale: run `GOLDEN_WRITE_DOCS=1 cargo test --bins docs`");
            }
        }
    }

    fn check(file: &str, generated: String) {
        let begin = "<!-- schema:begin (generated from the schema; GOLDEN_WRITE_DOCS=1 cargo test docs) -->\n";
        check_section(file, begin, END, &generated);
    }

    /// Pulls an example file into a doc as the Registry's tfplugindocs does: by convention,
    /// examples/provider/provider.tf into the index, examples/resources/NAME/resource.tf and
    /// import.sh into the resource's page, examples/data-sources/NAME/data-source.tf into the
    /// data source's.
    fn check_example(doc: &str, example: &str, fence: &str) {
        let body = std::fs::read_to_string(repo().join(example))
            .unwrap_or_else(|e| panic!("{example}: {e} (the Registry's docs layout expects it)"));
        let begin =
            format!("<!-- example:begin ({example}; GOLDEN_WRITE_DOCS=1 cargo test docs) -->\n");
        let generated = format!("```{fence}\n{}\n```\n", body.trim_end());
        check_section(doc, &begin, "<!-- example:end -->", &generated);
    }

    /// What a replacing change does, per resource type.
    fn replace_note(resource: &str) -> &'static str {
        match resource {
            "golden_ami" => "forces a new bake",
            _ => "forces a new resource",
        }
    }

    #[test]
    fn docs_match_the_schema() {
        for resource in crate::provider::Provider::resource_types() {
            let r = crate::provider::Provider::resource_schema(resource).unwrap();
            check(
                &format!("docs/resources/{resource}.md"),
                render(&r.block, 3, "", Some(replace_note(resource))),
            );
        }
        let p = crate::provider::Provider::schema();
        check("docs/index.md", render(&p.block, 3, "", None));
        for name in crate::provider::Provider::data_source_types() {
            if let Some(d) = crate::provider::Provider::data_source_schema(name) {
                check(
                    &format!("docs/data-sources/{name}.md"),
                    render(&d.block, 3, "", None),
                );
            }
        }
    }

    #[test]
    fn docs_show_the_examples() {
        check_example(
            "docs/index.md",
            "examples/provider/provider.tf",
            "terraform",
        );
        for resource in crate::provider::Provider::resource_types() {
            let doc = format!("docs/resources/{resource}.md");
            let dir = format!("examples/resources/{resource}");
            check_example(&doc, &format!("{dir}/resource.tf"), "terraform");
            check_example(&doc, &format!("{dir}/import.sh"), "shell");
        }
        for name in crate::provider::Provider::data_source_types() {
            check_example(
                &format!("docs/data-sources/{name}.md"),
                &format!("examples/data-sources/{name}/data-source.tf"),
                "terraform",
            );
        }
    }
}
