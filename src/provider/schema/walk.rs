//! Walks a value along its block: shaping it for Terraform and moving
//! write-only values, the way the schema says.

use super::{Block, Nesting};
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
