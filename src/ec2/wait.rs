//! Bounded, cancellable polling, paced by what was learned: quick to see a
//! fast state change, cheap on a slow one. Never a fixed 15 s sleep. The
//! named waiters (`waiters`) are built on this.

use super::Ec2Error;
use super::pace::{Pace, Schedule};
use crate::retry::{Cancelled, sleep_or_cancel};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What one look at a resource found.
pub enum Poll<T> {
    Ready(T),
    /// Still transitioning; the string is the state seen (for the timeout message).
    Pending(String),
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("timed out after {secs}s waiting for {what} (last seen: {last})")]
    Timeout {
        what: String,
        secs: u64,
        last: String,
    },
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    #[error(transparent)]
    Api(#[from] Ec2Error),
    #[error("{0}")]
    Failed(String),
}

impl WaitError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, WaitError::Cancelled(_))
    }
}

/// Calls `check` until it is ready, fails, the timeout passes, or `cancel` fires.
pub async fn until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    cancel: &CancellationToken,
    check: F,
) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, WaitError>>,
{
    paced(what, None, timeout, cancel, check).await
}

/// `until`, learning from and for `pace` how long the transition takes.
pub async fn paced<T, F, Fut>(
    what: &str,
    pace: Option<Pace<'_>>,
    timeout: Duration,
    cancel: &CancellationToken,
    mut check: F,
) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, WaitError>>,
{
    let start = Instant::now();
    let deadline = start + timeout;
    let learned = match &pace {
        Some(p) => p.pacer.expected(&p.key).await,
        None => None,
    };
    let mut schedule = Schedule::new(learned);
    let mut last = String::from("nothing yet");
    let mut last_pending: Option<Duration> = None;
    loop {
        let now = start.elapsed().as_secs_f64();
        let d = Duration::from_secs_f64((schedule.next(now) - now).max(0.0))
            .min(deadline.saturating_duration_since(Instant::now()));
        if !d.is_zero() {
            sleep_or_cancel(d, cancel).await.inspect_err(|_| {
                tracing::debug!(what, "wait cancelled");
            })?;
        }
        let asked = start.elapsed();
        let r = tokio::select! {
            _ = cancel.cancelled() => {
                tracing::debug!(what, "wait cancelled");
                return Err(Cancelled.into());
            }
            r = check() => r?,
        };
        match r {
            Poll::Ready(v) => {
                if let Some(p) = &pace {
                    let done = start.elapsed();
                    p.pacer.record(&p.key, learned, last_pending, done).await;
                }
                tracing::debug!(
                    what,
                    elapsed_ms = start.elapsed().as_millis() as u64,
                    "done waiting"
                );
                return Ok(v);
            }
            Poll::Pending(state) => {
                if state != last {
                    tracing::debug!(what, state = %state, "waiting");
                }
                last = state;
                last_pending = Some(asked);
                schedule.pending(asked.as_secs_f64());
            }
        }
        if Instant::now() >= deadline {
            return Err(WaitError::Timeout {
                what: what.to_string(),
                secs: timeout.as_secs(),
                last,
            });
        }
    }
}
