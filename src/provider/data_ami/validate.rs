//! Plan-time rules of the data source that span attributes: exactly one
//! selector, and refinements only where they mean something. Each
//! attribute's own checks are declared with it and run first. Unknown
//! values count as set: they are checked again once known.

use super::schema::schema;
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;

/// The selectors, by the attribute that names each; `name` and
/// `name_prefix` are one selector.
const SELECTORS: [&str; 3] = ["channel", "input_digest", "name` / `name_prefix"];

fn set(cfg: &Value, attr: &str) -> bool {
    !cfg.get(attr).is_null()
}

fn err(d: &mut Diagnostics, attr: &str, summary: &str, detail: impl Into<String>) {
    d.push(Diagnostic::error(summary, detail).at(AttrPath::root(attr)));
}

pub fn validate(cfg: &Value) -> Diagnostics {
    let mut d = Diagnostics::default();
    schema().block.check(cfg, None, &mut d);
    let named = set(cfg, "name") || set(cfg, "name_prefix");
    let chosen: Vec<&str> = [
        set(cfg, "channel").then_some("channel"),
        set(cfg, "input_digest").then_some("input_digest"),
        named.then_some(if set(cfg, "name") {
            "name"
        } else {
            "name_prefix"
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    match chosen.as_slice() {
        [] => err(
            &mut d,
            "input_digest",
            "No image selector",
            format!(
                "Set exactly one of `{}` to say which image to find.",
                SELECTORS.join("`, `")
            ),
        ),
        [_] => {}
        [first, rest @ ..] => {
            for other in rest {
                err(
                    &mut d,
                    other,
                    "Several image selectors",
                    format!(
                        "Set exactly one of `{}`: `{first}` is already set, so `{other}` must not be.",
                        SELECTORS.join("`, `")
                    ),
                );
            }
        }
    }
    if set(cfg, "name") && set(cfg, "name_prefix") {
        err(
            &mut d,
            "name_prefix",
            "Conflicting image names",
            "Set either `name` (exactly this name) or `name_prefix`, not both.",
        );
    }
    if set(cfg, "channel_version") && !set(cfg, "channel") {
        err(
            &mut d,
            "channel_version",
            "Version without a channel",
            "`channel_version` picks a version of a channel's parameter: set `channel` too.",
        );
    }
    if set(cfg, "channel") {
        for attr in ["tags", "most_recent"] {
            if set(cfg, attr) {
                err(
                    &mut d,
                    attr,
                    "Not used with a channel",
                    format!(
                        "A channel names one image; `{attr}` refines `input_digest`, `name` and `name_prefix` searches only."
                    ),
                );
            }
        }
    }
    d
}
