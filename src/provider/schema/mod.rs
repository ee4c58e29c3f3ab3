//! Each attribute defined once. A definition carries the attribute's name,
//! type (from its Rust type), description, default, checks, whether a change
//! bakes anew or is made in place, sensitivity, and whether it enters the
//! input digest. The tfplugin6 schema, `docs/`, plan-time diagnostics,
//! defaults and the digest are derived from it, and values are decoded into
//! the same typed structs the definitions declare ([`define_block!`]).

pub mod check;
pub mod decode;
#[cfg(test)]
mod docs;
mod shape;
mod walk;

pub use check::Check;
pub use shape::{BlockDef, Shape, TfShape};

/// A cty type, as far as this provider needs them.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    String,
    Number,
    Bool,
    List(Box<Ty>),
    Map(Box<Ty>),
}

impl Ty {
    /// The JSON type expression Terraform expects in `Schema.Attribute.type`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Ty::String => json!("string"),
            Ty::Number => json!("number"),
            Ty::Bool => json!("bool"),
            Ty::List(t) => json!(["list", t.to_json()]),
            Ty::Map(t) => json!(["map", t.to_json()]),
        }
    }
}

/// Who sets an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Required,
    Optional,
    Computed,
    OptionalComputed,
}

/// What changing an attribute does to an existing resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChange {
    /// Updated in place (or nothing to do in the cloud).
    InPlace,
    /// A new image must be baked.
    Replace,
}

/// One attribute, fully described.
#[derive(Debug, Clone)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Ty,
    pub mode: Mode,
    pub sensitive: bool,
    /// Never stored in state by Terraform 1.11+ (older versions ignore it).
    pub write_only: bool,
    pub on_change: OnChange,
    pub description: &'static str,
    /// Used when the configuration leaves the attribute null; shown in the docs.
    pub default: Option<serde_json::Value>,
    pub checks: Vec<Check>,
    /// Part of the input digest (only read on the resource's top level).
    pub digest: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block; an object, or null when absent.
    Single,
    /// Any number of blocks, in order; a list of objects.
    List,
}

#[derive(Debug, Clone)]
pub struct NestedBlock {
    pub name: &'static str,
    pub nesting: Nesting,
    pub block: Block,
    pub on_change: OnChange,
    pub digest: bool,
    /// An absent block decodes as one with every default (`timeouts`).
    pub defaults_when_absent: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    pub description: &'static str,
    pub attrs: Vec<Attr>,
    pub blocks: Vec<NestedBlock>,
}

/// A resource or provider schema with its version (for state upgrades).
#[derive(Debug, Clone)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

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

fn def(mode: Mode, description: &'static str) -> Def {
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
    pub use super::{Check, Def};
    use super::{Mode, def};

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

/// An attribute, a nested block, or a group of attributes, ready to join a block.
pub enum Entry {
    Attr(Attr),
    Block(NestedBlock),
    Group(Vec<Entry>),
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

impl Block {
    /// A block from its entries, in declaration order.
    pub fn from_entries(description: &'static str, entries: Vec<Entry>) -> Block {
        let mut b = Block {
            description,
            ..Block::default()
        };
        b.add(entries);
        b
    }

    fn add(&mut self, entries: Vec<Entry>) {
        for e in entries {
            match e {
                Entry::Attr(a) => self.attrs.push(a),
                Entry::Block(nb) => self.blocks.push(nb),
                Entry::Group(g) => self.add(g),
            }
        }
    }
}

/// Declares a typed struct and its schema in one place: each field's Rust
/// type gives the Terraform type, and `=> definition` gives the rest.
///
/// ```ignore
/// define_block! {
///     pub struct Bastion: "A jump host." {
///         pub host: String => required("Bastion address."),
///         pub port: u16 => optional("Bastion SSH port.").default(22).check(Check::PORT),
///     }
/// }
/// ```
#[macro_export]
macro_rules! define_block {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident : $desc:literal {
            $(
                $(#[$fmeta:meta])*
                $fvis:vis $field:ident : $ty:ty => $def:expr
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        // Every attribute has its field, also those only Terraform reads.
        #[allow(dead_code)]
        #[derive(Debug, Clone, serde::Deserialize)]
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field: $ty, )*
        }

        impl $crate::provider::schema::BlockDef for $name {
            fn block() -> $crate::provider::schema::Block {
                #[allow(unused_imports)]
                use $crate::provider::schema::defs::*;
                $crate::provider::schema::Block::from_entries(
                    $desc,
                    vec![$( $crate::provider::schema::entry::<$ty>(stringify!($field), $def) ),*],
                )
            }
        }

        impl $crate::provider::schema::TfShape for $name {
            fn shape() -> $crate::provider::schema::Shape {
                $crate::provider::schema::Shape::Block(
                    $crate::provider::schema::Nesting::Single,
                    <$name as $crate::provider::schema::BlockDef>::block,
                )
            }
        }
    };
}

/// Declares the attributes of a struct that a lower layer owns (it decodes
/// into it with `#[serde(flatten)]`), so they join a block as if declared
/// there. Each listed field must exist with the listed type (checked at
/// compile time); a unit test checks that no field is left unlisted.
#[macro_export]
macro_rules! define_group {
    (
        $(#[$meta:meta])*
        $target:path {
            $( $field:ident : $ty:ty => $def:expr ),* $(,)?
        }
    ) => {
        impl $crate::provider::schema::TfShape for $target {
            fn shape() -> $crate::provider::schema::Shape {
                fn entries() -> Vec<$crate::provider::schema::Entry> {
                    #[allow(unused_imports)]
                    use $crate::provider::schema::defs::*;
                    vec![$( $crate::provider::schema::entry::<$ty>(stringify!($field), $def) ),*]
                }
                $crate::provider::schema::Shape::Group(entries)
            }
        }

        const _: fn(&$target) = |o| {
            $( let _: &$ty = &o.$field; )*
        };
    };
}
