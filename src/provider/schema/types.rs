//! The schema's vocabulary: Terraform types, modes, attributes and blocks.

use super::check::Check;

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

/// An attribute, a nested block, or a group of attributes, ready to join a block.
pub enum Entry {
    Attr(Attr),
    Block(NestedBlock),
    Group(Vec<Entry>),
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
