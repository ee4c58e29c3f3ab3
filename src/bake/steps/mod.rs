//! The steps of a bake, one file each, in the order they run. Each step
//! records what it creates in the context the moment it exists, and its
//! cleanup removes exactly that.

mod connect;
mod copy;
mod create_image;
mod deregister_existing;
mod key_pair;
mod launch;
mod network;
mod provision;
mod security_group;
mod share;
mod source_ami;
mod spot;
mod stop;
mod tag;
mod timer;

use super::{BakeContext, BakeError};
use std::future::Future;
use std::pin::Pin;

pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<(), BakeError>> + Send + 'a>>;

pub trait Step: Send + Sync {
    /// The name diagnostics and logs use.
    fn name(&self) -> &'static str;
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a>;
    /// Undoes what `run` created; runs after success too, for temporary things.
    fn cleanup<'a, 'b: 'a>(&'a self, _cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

pub fn all() -> Vec<Box<dyn Step>> {
    vec![
        Box::new(source_ami::SourceAmi),
        Box::new(network::Network),
        Box::new(key_pair::KeyPair),
        Box::new(security_group::SecurityGroup),
        Box::new(launch::Launch),
        Box::new(connect::Connect),
        Box::new(provision::Provision),
        Box::new(stop::Stop),
        Box::new(deregister_existing::DeregisterExisting),
        Box::new(create_image::CreateImage),
        Box::new(tag::Tag),
        Box::new(copy::CopyImage),
        Box::new(share::Share),
    ]
}
