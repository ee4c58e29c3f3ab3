//! Stops the build instance so the image is consistent.

use super::{Step, StepFuture};
use crate::bake::{BakeContext, BakeError};
use crate::ec2::wait::{self, Poll, WaitError};

pub struct Stop;

impl Step for Stop {
    fn name(&self) -> &'static str {
        "stop"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if let Some(s) = cx.ssh.take() {
                s.close().await;
            }
            let id = cx
                .instance
                .as_ref()
                .map(|i| i.id.clone())
                .ok_or_else(|| BakeError::Invalid("no build instance".into()))?;
            cx.cancellable(cx.ec2.stop_instance(&id)).await?;
            let ec2 = cx.ec2;
            wait::until(
                "the build instance to stop",
                cx.spec.create_timeout,
                &cx.cancel,
                || async {
                    match ec2.describe_instance(&id).await? {
                        Some(i) if i.state == "stopped" => Ok(Poll::Ready(())),
                        Some(i)
                            if matches!(i.state.as_str(), "stopping" | "running" | "pending") =>
                        {
                            Ok(Poll::Pending(i.state))
                        }
                        Some(i) => Err(WaitError::Failed(format!(
                            "build instance {id} is {} instead of stopping",
                            i.state
                        ))),
                        None => Err(WaitError::Failed(format!(
                            "build instance {id} disappeared"
                        ))),
                    }
                },
            )
            .await?;
            Ok(())
        })
    }
}
