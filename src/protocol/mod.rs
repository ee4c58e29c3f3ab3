//! The wire vocabulary: tfplugin6 messages generated from `proto/`, the
//! protocol-neutral values and diagnostics the provider works with, and the
//! conversions between them. It knows nothing of the provider.

pub mod diag;
pub mod value;

/// Generated tfplugin6 types and server trait.
#[allow(clippy::all, clippy::pedantic, missing_docs, dead_code)]
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

/// Generated go-plugin controller service.
#[allow(clippy::all, clippy::pedantic, missing_docs, dead_code)]
pub mod goplugin {
    tonic::include_proto!("plugin");
}

use diag::{AttrPath, Diagnostic, Diagnostics, Severity, Step};
use tfplugin6 as pb;
use value::{DecodeError, Value};

pub(crate) fn decode(dv: Option<&pb::DynamicValue>) -> Result<Value, DecodeError> {
    match dv {
        None => Ok(Value::Null),
        Some(dv) if !dv.msgpack.is_empty() => Value::decode_msgpack(&dv.msgpack),
        Some(dv) if !dv.json.is_empty() => Value::decode_json(&dv.json),
        Some(_) => Ok(Value::Null),
    }
}

pub(crate) fn encode(v: &Value) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: v.encode_msgpack(),
        json: Vec::new(),
    }
}

pub(crate) fn path_to_pb(p: &AttrPath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .0
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    Step::Attr(a) => Selector::AttributeName(a.clone()),
                    Step::Index(i) => Selector::ElementKeyInt(*i),
                    Step::Key(k) => Selector::ElementKeyString(k.clone()),
                }),
            })
            .collect(),
    }
}

fn diag_to_pb(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error as i32,
            Severity::Warning => pb::diagnostic::Severity::Warning as i32,
        },
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d.path.as_ref().map(path_to_pb),
    }
}

pub(crate) fn diags_to_pb(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.0.iter().map(diag_to_pb).collect()
}
