//! The golden_ami data source: finds an image this provider baked, by
//! channel, input digest or name, for stacks that launch what another
//! stack bakes.

mod channel;
mod lookup;
mod read;
mod schema;
mod validate;

pub use read::read;
pub use schema::schema;
pub use validate::validate;

pub const TYPE_NAME: &str = "golden_ami";

#[cfg(test)]
mod tests;
