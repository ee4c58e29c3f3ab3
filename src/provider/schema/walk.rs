//! Walks a value along its block: shaping it for Terraform and moving
//! write-only values, the way the schema says.

use super::check::push;
use super::types::{Block, Nesting};
use crate::protocol::diag::{AttrPath, Diagnostics};
use crate::protocol::value::Value;
use std::collections::BTreeMap;

impl Block {
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

/// A list element or map value that is null: Terraform lets it through,
/// but it means nothing to a bake.
fn null_elements(name: &str, v: &Value, path: &AttrPath, d: &mut Diagnostics) {
    let mut bad = |p: AttrPath| {
        push(
            d,
            p,
            format!("Null in {name}"),
            "An element of this collection is null; remove it or give it a value.",
        )
    };
    match v {
        Value::List(items) => items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.is_null())
            .for_each(|(i, _)| bad(path.clone().index(i))),
        Value::Map(m) => m
            .iter()
            .filter(|(_, i)| i.is_null())
            .for_each(|(k, _)| bad(path.clone().key(k))),
        _ => {}
    }
}

impl Block {
    /// Runs every attribute's checks on `v`, and the checks of every nested
    /// block present. Unknown values are skipped.
    pub fn check(&self, v: &Value, path: Option<&AttrPath>, d: &mut Diagnostics) {
        let at = |name: &str| match path {
            Some(p) => p.clone().attr(name),
            None => AttrPath::root(name),
        };
        for a in &self.attrs {
            let val = v.get(a.name);
            if val.is_null() || matches!(val, Value::Unknown) {
                continue;
            }
            null_elements(a.name, val, &at(a.name), d);
            for c in &a.checks {
                c.run(a.name, val, &at(a.name), d);
            }
        }
        for b in &self.blocks {
            let inner = v.get(b.name);
            match b.nesting {
                Nesting::Single if matches!(inner, Value::Map(_)) => {
                    b.block.check(inner, Some(&at(b.name)), d)
                }
                Nesting::List => {
                    for (i, item) in inner.as_list().iter().enumerate() {
                        b.block.check(item, Some(&at(b.name).index(i)), d);
                    }
                }
                _ => {}
            }
        }
    }
}
