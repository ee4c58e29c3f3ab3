//! The golden_channel resource: a name (`web/prod`) that points at an AMI
//! through SSM Parameter Store, one `aws:ec2:image` parameter per region
//! where the image has a copy. Consumers resolve it with the `golden_ami`
//! data source or, without this provider, `resolve:ssm:` in a launch
//! template. Promotion (a new `ami_id`) writes a new parameter version, so
//! SSM keeps the history.

mod apply;
mod copies;
mod plan;
mod read;
mod schema;

pub use apply::apply;
pub use plan::{plan, validate};
pub use read::{import, read, upgrade_state};
pub use schema::schema;

pub const TYPE_NAME: &str = "golden_channel";

#[cfg(test)]
mod tests;
