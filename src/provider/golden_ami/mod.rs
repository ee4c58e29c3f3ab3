//! The golden_ami resource: validate, plan, apply (create, update, delete),
//! read, import.

mod apply;
mod digest;
mod digest_cache;
mod keep;
mod model;
mod plan;
mod private;
mod read;
mod reuse;
mod schema;
mod validate;

pub use apply::apply;
pub use plan::plan;
pub use read::{import, read, upgrade_state};
pub use schema::schema;
pub use validate::validate;

pub const TYPE_NAME: &str = "golden_ami";

#[cfg(test)]
mod keep_tests;
#[cfg(test)]
mod tests;
