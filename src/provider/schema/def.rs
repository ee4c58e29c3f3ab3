//! Declaring an attribute: everything but its name and type, which come
//! from the field it is declared on, and the entry that joins it to a block.

use super::check::Check;
use super::shape::{Shape, TfShape};
use super::types::{Attr, Entry, Mode, NestedBlock, OnChange};

/// How an attribute or block is declared: everything but its name and type,
/// which come from the field it is declared on.
#[derive(Debug, Clone)]
pub struct Def {
    mode: Mode,
    description: &'static str,
    sensitive: bool,
    write_only: bool,
    on_change: OnChange,
    default: Option<serde_json::Value>,
    checks: Vec<Check>,
    digest: Option<bool>,
    defaults_when_absent: bool,
}

pub(super) fn def(mode: Mode, description: &'static str) -> Def {
    Def {
        mode,
        description,
        sensitive: false,
        write_only: false,
        on_change: OnChange::Replace,
        default: None,
        checks: Vec::new(),
        digest: None,
        defaults_when_absent: false,
    }
}

/// The builders a definition starts from; `use schema::defs::*` in a schema file.
pub mod defs {
    pub use crate::provider::schema::check::Check;
    pub use crate::provider::schema::def::Def;
    use crate::provider::schema::def::def;
    use crate::provider::schema::types::Mode;

    pub fn required(description: &'static str) -> Def {
        def(Mode::Required, description)
    }
    pub fn optional(description: &'static str) -> Def {
        def(Mode::Optional, description)
    }
    pub fn computed(description: &'static str) -> Def {
        def(Mode::Computed, description)
    }
    pub fn optional_computed(description: &'static str) -> Def {
        def(Mode::OptionalComputed, description)
    }
    /// A nested block; its description is the block's own.
    pub fn block() -> Def {
        def(Mode::Optional, "")
    }
    /// Attributes declared with `define_group!`, flattened into this block.
    pub fn group() -> Def {
        def(Mode::Optional, "")
    }
}

impl Def {
    pub fn in_place(mut self) -> Def {
        self.on_change = OnChange::InPlace;
        self
    }
    pub fn sensitive(mut self) -> Def {
        self.sensitive = true;
        self
    }
    pub fn write_only(mut self) -> Def {
        self.write_only = true;
        self
    }
    pub fn default(mut self, v: impl Into<serde_json::Value>) -> Def {
        self.default = Some(v.into());
        self
    }
    pub fn check(mut self, c: Check) -> Def {
        self.checks.push(c);
        self
    }
    /// Overrides the rule that configured, replacing attributes are digested.
    pub fn digest(mut self, yes: bool) -> Def {
        self.digest = Some(yes);
        self
    }
    pub fn defaults_when_absent(mut self) -> Def {
        self.defaults_when_absent = true;
        self
    }
}

/// The entry for a field named `name` of Rust type `T`.
pub fn entry<T: TfShape>(name: &'static str, mut d: Def) -> Entry {
    d.checks.splice(0..0, T::implied_checks());
    match T::shape() {
        Shape::Attr(ty) => Entry::Attr(Attr {
            name,
            ty,
            mode: d.mode,
            sensitive: d.sensitive,
            write_only: d.write_only,
            on_change: d.on_change,
            description: d.description,
            default: d.default,
            checks: d.checks,
            digest: d
                .digest
                .unwrap_or(d.on_change == OnChange::Replace && d.mode != Mode::Computed),
        }),
        Shape::Block(nesting, block) => Entry::Block(NestedBlock {
            name,
            nesting,
            block: block(),
            on_change: d.on_change,
            digest: d.digest.unwrap_or(d.on_change == OnChange::Replace),
            defaults_when_absent: d.defaults_when_absent,
        }),
        Shape::Group(entries) => Entry::Group(entries()),
    }
}
