//! EC2's throttling answers, retried above the SDK (the loop itself is
//! `crate::retry::while_throttled`, shared with SSM): the SDK retries them
//! too, but gives up after its attempts or when its client-wide retry quota
//! (a token bucket shared by every bake of the provider) runs dry, which
//! fifty bakes at once against one account can do. A throttled call is
//! sent again after a growing, jittered delay, within a bounded time; the
//! call is a future, so a cancelled bake ends it by dropping it.

use super::api_err;
use crate::ec2::error::Ec2Error;
use crate::retry::Backoff;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::Duration;

/// How long one call may keep being throttled before its error stands.
const BUDGET: Duration = Duration::from_secs(90);

/// Sends `req` (a fluent builder, cloned per attempt) with `send`, retrying
/// throttling answers with [`Backoff`] (1 s first, ×1.5, capped at 15 s,
/// ±20 % jitter) for at most [`BUDGET`].
pub async fn retried<B, T, E, R, F, Fut>(
    action: &'static str,
    req: B,
    send: F,
) -> Result<T, Ec2Error>
where
    B: Clone,
    F: Fn(B) -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let backoff = Backoff::starting(Duration::from_secs(1), Duration::from_secs(15));
    throttled(backoff, BUDGET, || async {
        send(req.clone()).await.map_err(api_err(action))
    })
    .await
}

/// [`while_throttled`](crate::retry::while_throttled) on [`Ec2Error`]s.
async fn throttled<T, Fut>(
    backoff: Backoff,
    budget: Duration,
    call: impl Fn() -> Fut,
) -> Result<T, Ec2Error>
where
    Fut: Future<Output = Result<T, Ec2Error>>,
{
    crate::retry::while_throttled(backoff, budget, |e: &Ec2Error| e.code.as_deref(), call).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn answer(code: &str) -> Ec2Error {
        Ec2Error {
            action: "RunInstances",
            code: Some(code.into()),
            message: "m".into(),
        }
    }

    fn quick() -> Backoff {
        Backoff::starting(Duration::from_millis(5), Duration::from_millis(20))
    }

    #[tokio::test]
    async fn throttling_is_sent_again_until_it_passes() {
        let calls = AtomicU32::new(0);
        let r = throttled(quick(), Duration::from_secs(5), || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 3 {
                    Err(answer("RequestLimitExceeded"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.ok(), Some(3));
    }

    #[tokio::test]
    async fn other_errors_stand_at_once_and_throttling_within_a_budget() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = throttled(quick(), Duration::from_secs(5), || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(answer("InvalidParameterValue")) }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(r.is_err_and(|e| e.has_code("InvalidParameterValue")));
        let t0 = std::time::Instant::now();
        let budget = Duration::from_millis(300);
        let r: Result<(), _> = throttled(quick(), budget, || async {
            Err(answer("RequestLimitExceeded"))
        })
        .await;
        assert!(r.is_err_and(|e| e.has_code("RequestLimitExceeded")));
        let took = t0.elapsed();
        assert!(took <= budget + Duration::from_millis(100), "{took:?}");
        assert!(took >= Duration::from_millis(200), "{took:?}");
    }
}
