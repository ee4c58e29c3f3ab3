//! Runs the `provision` blocks in order over the one SSH connection.

use super::{Step, StepFuture};
use crate::bake::{BakeContext, BakeError};

pub struct Provision;

impl Step for Provision {
    fn name(&self) -> &'static str {
        "provision"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            // Any step may print what an earlier (or later) step is given.
            let masker = crate::provision::masker_for(&cx.spec.provision);
            for (index, step) in cx.spec.provision.iter().enumerate() {
                cx.check_cancel()?;
                // After a reboot step, or a connection that dropped between steps.
                cx.ensure_connected().await?;
                let ssh = cx
                    .ssh
                    .as_ref()
                    .ok_or_else(|| BakeError::Internal("not connected".into()))?;
                crate::provision::run(step, index, ssh, &masker, &cx.cancel)
                    .await
                    .map_err(|source| BakeError::Provision {
                        index,
                        kind: step.kind(),
                        source,
                    })?;
                if step.expects_disconnect() {
                    // Drop the old session; the next step connects anew (with retries
                    // until ssh.timeout while the instance reboots).
                    if let Some(old) = cx.ssh.take() {
                        // Give the reboot time to take the old connection down, so the
                        // next step does not land on a host that is shutting down.
                        let t0 = tokio::time::Instant::now();
                        while old.is_open()
                            && t0.elapsed() < std::time::Duration::from_secs(10)
                            && !cx.cancel.is_cancelled()
                        {
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        }
                        old.close().await;
                    }
                }
            }
            Ok(())
        })
    }
}
