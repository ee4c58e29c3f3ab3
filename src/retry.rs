//! Retrying and waiting, shared by every layer below the provider: growing,
//! jittered delays, a sleep that a cancellation cuts short, and the one type
//! that says "stopped before done" which each layer's error wraps.

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The work was stopped before it finished: Terraform's StopProvider, the
/// create timeout, or a step's own timeout fired the cancellation token.
/// Which of these it was is known where the token was made, not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Delays: 200 ms first, ×1.5 each round, capped at 4 s, ±20 % jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
    growth: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::starting(Duration::from_millis(200), Duration::from_secs(4))
    }
}

impl Backoff {
    pub fn starting(first: Duration, cap: Duration) -> Backoff {
        Backoff {
            next: first,
            cap,
            growth: 1.5,
        }
    }

    /// Each delay this many times the one before (1.5 unless set).
    pub fn growing(self, growth: f64) -> Backoff {
        Backoff { growth, ..self }
    }

    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next.mul_f64(self.growth)).min(self.cap);
        let jitter: f64 = rand::random_range(0.8..1.2);
        base.mul_f64(jitter)
    }
}

/// Sleeps for `d` unless `cancel` fires first.
pub async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> Result<(), Cancelled> {
    tokio::select! {
        _ = cancel.cancelled() => Err(Cancelled),
        _ = tokio::time::sleep(d) => Ok(()),
    }
}

/// Fails with [`Cancelled`] once `cancel` has fired.
pub fn check(cancel: &CancellationToken) -> Result<(), Cancelled> {
    if cancel.is_cancelled() {
        Err(Cancelled)
    } else {
        Ok(())
    }
}

/// The codes AWS services (and the AWS SDKs' classifiers) use for "slow
/// down", whatever the service: EC2's, SSM's and the SDKs' own names.
const THROTTLING: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "EC2ThrottledException",
    "TooManyRequestsException",
    "BandwidthLimitExceeded",
    "TooManyUpdates",
];

/// Whether an AWS error code says "slow down".
pub fn is_throttling(code: Option<&str>) -> bool {
    code.is_some_and(|c| THROTTLING.contains(&c))
}

/// Calls `call` until its error is no throttling (`code` gives an error's
/// AWS code), or until the next delay would pass `budget`. Used above the
/// SDK's own retries, whose client-wide quota many parallel calls can drain;
/// the call is a future, so dropping it (a cancelled bake) ends the loop.
pub async fn while_throttled<T, E, Fut>(
    mut backoff: Backoff,
    budget: Duration,
    code: impl Fn(&E) -> Option<&str>,
    call: impl Fn() -> Fut,
) -> Result<T, E>
where
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let t0 = tokio::time::Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match call().await {
            Err(e) if is_throttling(code(&e)) => {
                let delay = backoff.next_delay();
                if t0.elapsed() + delay > budget {
                    return Err(e);
                }
                tracing::debug!(
                    code = code(&e),
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    "AWS throttled the call; sending it again"
                );
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_by_half_within_jitter_and_stop_at_the_cap() {
        let mut b = Backoff::starting(Duration::from_secs(1), Duration::from_secs(2));
        let d: Vec<f64> = (0..4).map(|_| b.next_delay().as_secs_f64()).collect();
        assert!((0.8..=1.2).contains(&d[0]), "{d:?}");
        assert!((1.2..=1.8).contains(&d[1]), "{d:?}");
        assert!(
            (1.6..=2.4).contains(&d[2]) && (1.6..=2.4).contains(&d[3]),
            "{d:?}"
        );
    }

    #[tokio::test]
    async fn a_cancelled_sleep_ends_at_once_with_cancelled() {
        let cancel = CancellationToken::new();
        assert_eq!(
            sleep_or_cancel(Duration::from_millis(1), &cancel).await,
            Ok(())
        );
        cancel.cancel();
        let t0 = tokio::time::Instant::now();
        assert_eq!(
            sleep_or_cancel(Duration::from_secs(3600), &cancel).await,
            Err(Cancelled)
        );
        assert!(t0.elapsed() < Duration::from_secs(1));
        assert_eq!(check(&cancel), Err(Cancelled));
    }
}
