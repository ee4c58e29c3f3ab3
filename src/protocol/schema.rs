//! Schemas defined once, with their descriptions: the tfplugin6 schema and
//! the documentation are both derived from these definitions.

use super::value::Value;
use std::collections::BTreeMap;

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
    pub fn list_of_strings() -> Ty {
        Ty::List(Box::new(Ty::String))
    }

    pub fn map_of_strings() -> Ty {
        Ty::Map(Box::new(Ty::String))
    }

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
}

impl Attr {
    fn new(name: &'static str, ty: Ty, mode: Mode, description: &'static str) -> Attr {
        Attr {
            name,
            ty,
            mode,
            sensitive: false,
            write_only: false,
            on_change: OnChange::Replace,
            description,
        }
    }
    pub fn required(name: &'static str, ty: Ty, description: &'static str) -> Attr {
        Attr::new(name, ty, Mode::Required, description)
    }
    pub fn optional(name: &'static str, ty: Ty, description: &'static str) -> Attr {
        Attr::new(name, ty, Mode::Optional, description)
    }
    pub fn computed(name: &'static str, ty: Ty, description: &'static str) -> Attr {
        Attr::new(name, ty, Mode::Computed, description)
    }
    pub fn optional_computed(name: &'static str, ty: Ty, description: &'static str) -> Attr {
        Attr::new(name, ty, Mode::OptionalComputed, description)
    }
    pub fn write_only(mut self) -> Attr {
        self.write_only = true;
        self
    }
    pub fn sensitive(mut self) -> Attr {
        self.sensitive = true;
        self
    }
    pub fn in_place(mut self) -> Attr {
        self.on_change = OnChange::InPlace;
        self
    }
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
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    pub description: &'static str,
    pub attrs: Vec<Attr>,
    pub blocks: Vec<NestedBlock>,
}

impl Block {
    pub fn new(description: &'static str) -> Block {
        Block {
            description,
            ..Block::default()
        }
    }
    pub fn attr(mut self, a: Attr) -> Block {
        self.attrs.push(a);
        self
    }
    pub fn block(mut self, name: &'static str, nesting: Nesting, block: Block) -> Block {
        self.blocks.push(NestedBlock {
            name,
            nesting,
            block,
            on_change: OnChange::Replace,
        });
        self
    }
    pub fn block_in_place(mut self, name: &'static str, nesting: Nesting, block: Block) -> Block {
        self.blocks.push(NestedBlock {
            name,
            nesting,
            block,
            on_change: OnChange::InPlace,
        });
        self
    }

    /// Sets every write-only attribute in `v` to null, as Terraform 1.11+
    /// demands of plans and state.
    pub fn null_write_only(&self, v: &mut Value) {
        let Value::Map(m) = v else { return };
        for a in self.attrs.iter().filter(|a| a.write_only) {
            if m.contains_key(a.name) {
                m.insert(a.name.to_string(), Value::Null);
            }
        }
        for b in &self.blocks {
            match (b.nesting, m.get_mut(b.name)) {
                (Nesting::Single, Some(inner)) => b.block.null_write_only(inner),
                (Nesting::List, Some(Value::List(items))) => {
                    items.iter_mut().for_each(|i| b.block.null_write_only(i))
                }
                _ => {}
            }
        }
    }

    /// Copies write-only values from `config` into `v` where `v` has none:
    /// Terraform 1.11+ sends them in the configuration only.
    pub fn fill_write_only(&self, v: &mut Value, config: &Value) {
        let Value::Map(m) = v else { return };
        for a in self.attrs.iter().filter(|a| a.write_only) {
            if m.get(a.name).is_none_or(Value::is_null) {
                m.insert(a.name.to_string(), config.get(a.name).clone());
            }
        }
        for b in &self.blocks {
            match (b.nesting, m.get_mut(b.name)) {
                (Nesting::Single, Some(inner)) => {
                    b.block.fill_write_only(inner, config.get(b.name))
                }
                (Nesting::List, Some(Value::List(items))) => {
                    for (item, conf) in items.iter_mut().zip(config.get(b.name).as_list()) {
                        b.block.fill_write_only(item, conf);
                    }
                }
                _ => {}
            }
        }
    }

    /// Shapes `v` to this block: every attribute and block present (null or
    /// empty when missing), nothing unknown to the schema. Terraform rejects
    /// objects with missing or extra attributes.
    pub fn conform(&self, v: &Value) -> Value {
        let mut out = BTreeMap::new();
        for a in &self.attrs {
            out.insert(a.name.to_string(), v.get(a.name).clone());
        }
        for b in &self.blocks {
            let inner = v.get(b.name);
            let shaped = match b.nesting {
                Nesting::Single => match inner {
                    Value::Null | Value::Unknown => inner.clone(),
                    other => b.block.conform(other),
                },
                Nesting::List => match inner {
                    Value::Unknown => Value::Unknown,
                    other => {
                        Value::List(other.as_list().iter().map(|i| b.block.conform(i)).collect())
                    }
                },
            };
            out.insert(b.name.to_string(), shaped);
        }
        Value::Map(out)
    }
}

/// A resource or provider schema with its version (for state upgrades).
#[derive(Debug, Clone)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}
