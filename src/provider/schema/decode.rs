//! From a Terraform value to the typed struct its block was declared with:
//! defaults filled from the definitions, absent lists and maps empty, then
//! serde. Resource logic reads fields, never a value by its name.

use super::shape::BlockDef;
use super::types::{Block, Mode, Nesting, Ty};
use crate::protocol::value::Value;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

/// Why a value does not fit its declared struct. After validation this is a
/// bug, never the user's input.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} is not known yet")]
    Unknown(String),
    #[error("value does not fit its schema: {0}")]
    Shape(#[from] serde_json::Error),
}

/// Decodes a known object of block `T` (what only apply can tell may be unknown).
pub fn decode<T: BlockDef + DeserializeOwned>(v: &Value) -> Result<T, DecodeError> {
    view(&T::block(), v)
}

/// Decodes some fields of an object of `block` into `T`, a view that names
/// only what its caller needs (other fields, however incomplete, are not
/// read): a stored state whose write-only values Terraform dropped can still
/// be updated and destroyed.
pub fn view<T: DeserializeOwned>(block: &Block, v: &Value) -> Result<T, DecodeError> {
    Ok(serde_json::from_value(block_json(block, v, "")?)?)
}

/// A view of a configuration at plan time, when some values may not be
/// known yet: those read as absent (so as their defaults). Only for
/// decisions that an unknown value cannot change.
pub fn view_known<T: DeserializeOwned>(block: &Block, v: &Value) -> Result<T, DecodeError> {
    view(block, &known(v))
}

/// `v` with every unknown value replaced by null.
fn known(v: &Value) -> Value {
    match v {
        Value::Unknown => Value::Null,
        Value::List(l) => Value::List(l.iter().map(known).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, i)| (k.clone(), known(i))).collect()),
        other => other.clone(),
    }
}

fn block_json(block: &Block, v: &Value, path: &str) -> Result<Json, DecodeError> {
    let mut out = Map::new();
    for a in &block.attrs {
        let at = format!("{path}{}", a.name);
        let mut val = v.get(a.name);
        // What only apply can tell reads as absent before it.
        if matches!(val, Value::Unknown) && !matches!(a.mode, Mode::Required | Mode::Optional) {
            val = &Value::Null;
        }
        let j = match (val, &a.default, &a.ty) {
            (Value::Null, Some(d), _) => d.clone(),
            (Value::Null, None, Ty::List(_)) => Json::Array(vec![]),
            (Value::Null, None, Ty::Map(_)) => Json::Object(Map::new()),
            (val, _, _) => to_json(val, &at)?,
        };
        out.insert(a.name.to_string(), j);
    }
    for b in &block.blocks {
        let at = format!("{path}{}.", b.name);
        let inner = v.get(b.name);
        let j = match (b.nesting, inner) {
            (_, Value::Unknown) => return Err(DecodeError::Unknown(at)),
            (Nesting::Single, Value::Null) if b.defaults_when_absent => {
                block_json(&b.block, &Value::Map(Default::default()), &at)?
            }
            (Nesting::Single, Value::Null) => Json::Null,
            (Nesting::Single, other) => block_json(&b.block, other, &at)?,
            (Nesting::List, other) => Json::Array(
                other
                    .as_list()
                    .iter()
                    .map(|i| block_json(&b.block, i, &at))
                    .collect::<Result<_, _>>()?,
            ),
        };
        out.insert(b.name.to_string(), j);
    }
    Ok(Json::Object(out))
}

fn to_json(v: &Value, at: &str) -> Result<Json, DecodeError> {
    Ok(match v {
        Value::Null => Json::Null,
        Value::Unknown => return Err(DecodeError::Unknown(at.to_string())),
        Value::Bool(b) => Json::Bool(*b),
        // Whole numbers as integers, so they decode into u16, u32, ...
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Json::from(*n as i64),
        Value::Number(n) => Json::from(*n),
        Value::String(s) => Json::String(s.clone()),
        Value::List(l) => Json::Array(l.iter().map(|i| to_json(i, at)).collect::<Result<_, _>>()?),
        Value::Map(m) => Json::Object(
            m.iter()
                .map(|(k, i)| Ok((k.clone(), to_json(i, at)?)))
                .collect::<Result<_, DecodeError>>()?,
        ),
    })
}
