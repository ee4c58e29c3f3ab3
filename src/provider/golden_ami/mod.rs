//! The golden_ami resource: validate, plan, apply (create, update, delete),
//! read, import.

mod apply;
mod digest;
mod model;
mod plan;
mod private;
mod read;
mod schema;
mod validate;

pub use apply::apply;
pub use plan::plan;
pub use read::{import, read, upgrade_state};
pub use schema::schema;
pub use validate::validate;

pub const TYPE_NAME: &str = "golden_ami";

use std::collections::BTreeMap;

/// The tags a user sees in `tags`: ours (`golden:*`) are bookkeeping.
fn user_tags(all: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    all.iter()
        .filter(|(k, _)| !k.starts_with("golden:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A fresh build id: 12 hex digits.
fn new_build_id() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests;
