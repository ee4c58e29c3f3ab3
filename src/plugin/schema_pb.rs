//! The provider's schemas as tfplugin6 messages.

use crate::protocol::tfplugin6 as pb;
use crate::provider::schema::{Block, Mode, Nesting, Schema};

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
                required: a.mode == Mode::Required,
                optional: matches!(a.mode, Mode::Optional | Mode::OptionalComputed),
                computed: matches!(a.mode, Mode::Computed | Mode::OptionalComputed),
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

pub fn schema_to_pb(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block_to_pb(&s.block, s.version)),
    }
}
