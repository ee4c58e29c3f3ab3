//! Each attribute defined once. A definition carries the attribute's name,
//! type (from its Rust type), description, default, checks, whether a change
//! bakes anew or is made in place, sensitivity, and whether it enters the
//! input digest. The tfplugin6 schema, `docs/`, plan-time diagnostics,
//! defaults and the digest are derived from it, and values are decoded into
//! the same typed structs the definitions declare ([`define_block!`]).

pub mod check;
pub mod decode;
mod def;
#[cfg(test)]
mod docs;
mod shape;
mod types;
mod walk;

pub use def::{defs, entry};
pub use shape::{BlockDef, Shape, TfShape};
pub use types::{Attr, Block, Entry, Mode, Nesting, OnChange, Schema, Ty};

/// A resource's stored state read back: refused when a newer provider wrote
/// it (schema `version` above the `known` one), or when it is not JSON.
pub fn stored_state(
    version: i64,
    known: i64,
    raw_json: &[u8],
) -> Result<crate::protocol::value::Value, crate::protocol::diag::Diagnostic> {
    use crate::protocol::diag::Diagnostic;
    if version > known {
        return Err(Diagnostic::error(
            "State from a newer provider",
            format!(
                "This state was written with schema version {version}; this provider knows up to {known}. Upgrade the provider."
            ),
        ));
    }
    crate::protocol::value::Value::decode_json(raw_json)
        .map_err(|e| Diagnostic::error("Cannot read stored state", e.to_string()))
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
