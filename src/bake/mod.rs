//! The bake pipeline. It knows nothing of Terraform: a [`BakeSpec`] in, a
//! [`BakeOutcome`] out, through an ordered list of steps whose cleanups run
//! in reverse whatever happens.

mod context;
mod error;
pub mod leftovers;
mod release;
mod runner;
pub mod spec;
mod steps;
#[cfg(test)]
mod tests;

pub use context::BakeContext;
pub use error::BakeError;
pub use runner::bake;
pub use spec::{BakeSpec, BastionSpec, MetadataSpec, RegionCopy, SourceSpec, SshSpec};
