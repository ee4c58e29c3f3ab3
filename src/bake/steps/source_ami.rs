//! Resolves the source AMI: by id, or by filter as Packer's source_ami_filter.

use super::{Step, StepFuture};
use crate::bake::{BakeContext, BakeError, SourceSpec};

pub struct SourceAmi;

impl Step for SourceAmi {
    fn name(&self) -> &'static str {
        "source_ami"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            let image = match &cx.spec.source {
                SourceSpec::Id(id) => {
                    cx.cancellable(cx.ec2.source_image(id))
                        .await?
                        .ok_or_else(|| {
                            BakeError::Invalid(format!(
                                "source AMI {id} does not exist or is not visible"
                            ))
                        })?
                }
                SourceSpec::Filter {
                    filters,
                    owners,
                    most_recent,
                } => {
                    cx.cancellable(cx.ec2.find_image(filters, owners, *most_recent))
                        .await?
                }
            };
            if image.state != "available" {
                return Err(BakeError::Invalid(format!(
                    "source AMI {} is {}, not available",
                    image.id, image.state
                )));
            }
            tracing::info!(source_ami = %image.id, name = %image.name, "source AMI");
            cx.source = Some(image);
            Ok(())
        })
    }
}
