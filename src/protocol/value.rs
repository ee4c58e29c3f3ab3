//! Terraform values as the provider sees them, independent of the wire.
//!
//! Terraform sends configuration, plans and state as msgpack-encoded cty
//! values. Objects and maps are both msgpack maps and lists and sets are both
//! arrays, so one neutral tree is enough; the schema gives it shape.

use std::collections::BTreeMap;

/// A cty value. `Unknown` is "known after apply".
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Unknown,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

/// Why a value from Terraform could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed msgpack from Terraform: {0}")]
    Msgpack(String),
    #[error("malformed JSON state: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported msgpack value from Terraform: {0}")]
    Unsupported(String),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True when the value, or anything inside it, is unknown.
    pub fn is_unknown_or_partial(&self) -> bool {
        !self.is_wholly_known()
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) => items.iter().all(Value::is_wholly_known),
            Value::Map(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// An attribute of an object, or Null when absent or when `self` is not an object.
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Value::Map(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// Sets an attribute; a no-op unless `self` is an object.
    pub fn set(&mut self, name: &str, v: Value) {
        if let Value::Map(m) = self {
            m.insert(name.to_string(), v);
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_list(&self) -> &[Value] {
        match self {
            Value::List(l) => l,
            _ => &[],
        }
    }

    /// A `map(string)` as Rust strings; non-string entries are skipped.
    pub fn as_string_map(&self) -> BTreeMap<String, String> {
        match self {
            Value::Map(m) => m
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect(),
            _ => BTreeMap::new(),
        }
    }

    /// A `list(string)` as Rust strings; non-string entries are skipped.
    pub fn as_string_list(&self) -> Vec<String> {
        self.as_list()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn opt_string(s: Option<impl Into<String>>) -> Value {
        s.map(|s| Value::String(s.into())).unwrap_or(Value::Null)
    }

    pub fn string_list<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Value {
        Value::List(items.into_iter().map(|s| Value::String(s.into())).collect())
    }

    pub fn string_map<I: IntoIterator<Item = (K, S)>, K: Into<String>, S: Into<String>>(
        items: I,
    ) -> Value {
        Value::Map(
            items
                .into_iter()
                .map(|(k, v)| (k.into(), Value::String(v.into())))
                .collect(),
        )
    }

    pub fn decode_msgpack(bytes: &[u8]) -> Result<Value, DecodeError> {
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        let mut rd = bytes;
        let v =
            rmpv::decode::read_value(&mut rd).map_err(|e| DecodeError::Msgpack(e.to_string()))?;
        from_rmpv(v)
    }

    pub fn encode_msgpack(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = rmpv::encode::write_value(&mut out, &to_rmpv(self));
        out
    }

    pub fn decode_json(bytes: &[u8]) -> Result<Value, DecodeError> {
        let j: serde_json::Value = serde_json::from_slice(bytes)?;
        Ok(from_json(j))
    }
}

fn from_rmpv(v: rmpv::Value) -> Result<Value, DecodeError> {
    use rmpv::Value as R;
    Ok(match v {
        R::Nil => Value::Null,
        R::Boolean(b) => Value::Bool(b),
        R::Integer(i) => Value::Number(i.as_f64().unwrap_or(0.0)),
        R::F32(f) => Value::Number(f as f64),
        R::F64(f) => Value::Number(f),
        // cty writes numbers that fit neither int64 nor float64 exactly as strings,
        // but we never declare such numbers; a string is a string.
        R::String(s) => Value::String(
            s.into_str()
                .ok_or_else(|| DecodeError::Unsupported("non-UTF-8 string".into()))?,
        ),
        R::Array(items) => Value::List(items.into_iter().map(from_rmpv).collect::<Result<_, _>>()?),
        R::Map(entries) => {
            let mut m = BTreeMap::new();
            for (k, v) in entries {
                let k = match k {
                    R::String(s) => s
                        .into_str()
                        .ok_or_else(|| DecodeError::Unsupported("non-UTF-8 key".into()))?,
                    other => return Err(DecodeError::Unsupported(format!("map key {other}"))),
                };
                m.insert(k, from_rmpv(v)?);
            }
            Value::Map(m)
        }
        // cty's unknown value: extension 0, or 12 when it carries refinements
        // (such as a known string prefix); we keep no refinements.
        R::Ext(0 | 12, _) => Value::Unknown,
        other => return Err(DecodeError::Unsupported(format!("{other}"))),
    })
}

fn to_rmpv(v: &Value) -> rmpv::Value {
    use rmpv::Value as R;
    match v {
        Value::Null => R::Nil,
        Value::Unknown => R::Ext(0, vec![0]),
        Value::Bool(b) => R::Boolean(*b),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                R::from(*n as i64)
            } else {
                R::F64(*n)
            }
        }
        Value::String(s) => R::from(s.as_str()),
        Value::List(items) => R::Array(items.iter().map(to_rmpv).collect()),
        Value::Map(m) => R::Map(
            m.iter()
                .map(|(k, v)| (R::from(k.as_str()), to_rmpv(v)))
                .collect(),
        ),
    }
}

fn from_json(j: serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::String(s),
        J::Array(a) => Value::List(a.into_iter().map(from_json).collect()),
        J::Object(o) => Value::Map(o.into_iter().map(|(k, v)| (k, from_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_round_trip_keeps_unknowns_and_numbers() {
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::Unknown);
        m.insert("port".to_string(), Value::Number(2222.0));
        m.insert("ratio".to_string(), Value::Number(0.5));
        m.insert("tags".to_string(), Value::string_map([("Name", "web")]));
        m.insert("none".to_string(), Value::Null);
        let v = Value::Map(m);
        let back = Value::decode_msgpack(&v.encode_msgpack()).unwrap();
        assert_eq!(back, v);
        assert!(!back.is_wholly_known());
    }

    #[test]
    fn refined_unknowns_decode_as_unknown() {
        // A refined unknown ("not null, starts with \"sudo\""), as Terraform 1.11 sends it.
        let bytes = [
            0xc7, 0x09, 0x0c, 0x82, 0x01, 0xc2, 0x02, 0xa4, b's', b'u', b'd', b'o',
        ];
        assert_eq!(Value::decode_msgpack(&bytes).unwrap(), Value::Unknown);
    }
}
