//! The wire: tfplugin6 messages generated from `proto/`, converted to and
//! from the protocol-neutral types the provider works with.

pub mod diag;
pub mod schema;
pub mod server;
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
use schema::{Block, Nesting, Schema};
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

fn block_to_pb(b: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: b
            .attrs
            .iter()
            .map(|a| pb::schema::Attribute {
                name: a.name.to_string(),
                r#type: a.ty.to_json().to_string().into_bytes(),
                description: a.description.to_string(),
                required: a.mode == schema::Mode::Required,
                optional: matches!(
                    a.mode,
                    schema::Mode::Optional | schema::Mode::OptionalComputed
                ),
                computed: matches!(
                    a.mode,
                    schema::Mode::Computed | schema::Mode::OptionalComputed
                ),
                sensitive: a.sensitive,
                description_kind: pb::StringKind::Markdown as i32,
                deprecated: false,
                write_only: a.write_only,
            })
            .collect(),
        block_types: b
            .blocks
            .iter()
            .map(|nb| pb::schema::NestedBlock {
                type_name: nb.name.to_string(),
                block: Some(block_to_pb(&nb.block, 0)),
                nesting: match nb.nesting {
                    Nesting::Single => pb::schema::nested_block::NestingMode::Single as i32,
                    Nesting::List => pb::schema::nested_block::NestingMode::List as i32,
                },
                min_items: 0,
                max_items: 0,
            })
            .collect(),
        description: b.description.to_string(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: false,
    }
}

pub(crate) fn schema_to_pb(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block_to_pb(&s.block, s.version)),
    }
}
