//! Runs the steps in order; on success, failure, cancel or timeout, runs the
//! cleanup of every step that started, in reverse, and reports each failure.

use super::context::BakeContext;
use super::error::BakeError;
use super::leftovers::JournalEntry;
use super::spec::BakeSpec;
use super::steps::{self, Step};
use crate::ec2::Ec2;
use crate::ec2::images::ImageInfo;
use crate::retry::Cancelled;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long one cleanup may take, so a stuck delete cannot wedge the plugin.
const CLEANUP_LIMIT: Duration = Duration::from_secs(600);

/// A step and what went wrong in it.
#[derive(Debug)]
pub struct StepError {
    pub step: &'static str,
    pub error: BakeError,
}

/// What a bake produced. `image` is set whenever an image exists that the
/// caller must track, even when `error` is set too.
#[derive(Debug, Default)]
pub struct BakeOutcome {
    pub image: Option<ImageInfo>,
    pub source_ami_id: Option<String>,
    /// The image's copies by region, when `image` is set.
    pub copies: std::collections::BTreeMap<String, ImageInfo>,
    pub error: Option<StepError>,
    pub cleanup_errors: Vec<StepError>,
}

pub async fn bake(spec: &BakeSpec, ec2: &Ec2, stop: &CancellationToken) -> BakeOutcome {
    let regions: Vec<String> = spec.copy_regions.iter().map(|c| c.region.clone()).collect();
    let journal = JournalEntry::open(&spec.build_id, ec2, &regions).await;
    run(spec, ec2, stop, &steps::all(), journal).await
}

/// Runs `steps` and their cleanups, keeping `journal` up to date.
pub(super) async fn run(
    spec: &BakeSpec,
    ec2: &Ec2,
    stop: &CancellationToken,
    steps: &[Box<dyn Step>],
    journal: JournalEntry,
) -> BakeOutcome {
    let cancel = stop.child_token();
    let timed_out = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let timer = {
        let (cancel, timed_out, limit) = (cancel.clone(), timed_out.clone(), spec.create_timeout);
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            timed_out.store(true, std::sync::atomic::Ordering::SeqCst);
            cancel.cancel();
        })
    };
    let mut cx = BakeContext::new(spec, ec2, cancel);
    let mut started = 0;
    let mut error = None;
    tracing::info!(build_id = %spec.build_id, name = %spec.image_name, "bake starting");
    for step in steps {
        started += 1;
        let t0 = tokio::time::Instant::now();
        tracing::info!(step = step.name(), "step starting");
        match step.run(&mut cx).await {
            Ok(()) => tracing::info!(
                step = step.name(),
                elapsed_ms = t0.elapsed().as_millis() as u64,
                "step done"
            ),
            Err(e) => {
                // The one place a cancellation is told apart: stop or timeout.
                let e = match e {
                    e if !e.is_cancelled() => e,
                    _ if timed_out.load(std::sync::atomic::Ordering::SeqCst) => {
                        BakeError::TimedOut(spec.create_timeout.as_secs())
                    }
                    _ => BakeError::Cancelled(Cancelled),
                };
                tracing::error!(step = step.name(), error = %e, "step failed");
                error = Some(StepError {
                    step: step.name(),
                    error: e,
                });
                break;
            }
        }
    }
    timer.abort();
    if cx.image_kept
        && let Some(img) = &cx.image
    {
        journal.keep_image(&img.id).await;
    }
    super::release::release_first(&mut cx).await;

    let mut cleanup_errors = Vec::new();
    for step in steps[..started].iter().rev() {
        match tokio::time::timeout(CLEANUP_LIMIT, step.cleanup(&mut cx)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(step = step.name(), error = %e, "cleanup failed");
                cleanup_errors.push(StepError {
                    step: step.name(),
                    error: e,
                });
            }
            Err(_) => cleanup_errors.push(StepError {
                step: step.name(),
                error: BakeError::CleanupTimedOut(CLEANUP_LIMIT.as_secs()),
            }),
        }
    }
    if cleanup_errors.is_empty() {
        journal.close().await;
    }
    tracing::info!(build_id = %spec.build_id, ok = error.is_none(), "bake finished");
    let copies = if cx.image_kept {
        cx.copies
            .drain(..)
            .filter_map(|c| c.image.map(|i| (c.region, i)))
            .collect()
    } else {
        Default::default()
    };
    BakeOutcome {
        copies,
        image: if cx.image_kept { cx.image.take() } else { None },
        source_ami_id: cx.source.as_ref().map(|s| s.id.clone()),
        error,
        cleanup_errors,
    }
}
