//! The real EC2 client: aws-sdk-ec2 behind the `Ec2Api` seam. Building
//! the client and turning SDK types and errors into ours live here; the
//! calls themselves in `calls`.

mod calls;
mod convert;
mod devices;
mod launch;
mod throttle;

use super::AwsSettings;
use super::error::Ec2Error;
use aws_sdk_ec2::error::SdkError;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata};
use std::time::Duration;

/// aws-sdk-ec2's client, one per provider.
#[derive(Clone, Debug)]
pub struct SdkEc2 {
    client: aws_sdk_ec2::Client,
}

impl SdkEc2 {
    /// Builds the client through the standard AWS chain (env, profile, SSO,
    /// IMDS) with adaptive retries; makes no network call. Also returns the
    /// region the chain resolved.
    pub async fn connect(s: &AwsSettings) -> (SdkEc2, String) {
        use aws_smithy_http_client::tls;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
        if let Some(r) = &s.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(p) = &s.profile {
            loader = loader.profile_name(p);
        }
        let shared = loader.load().await;
        let retry = aws_config::retry::RetryConfig::standard()
            .with_max_attempts(s.max_retries.max(1))
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(20));
        // A stalled answer must not hang a wait: each attempt is bounded, then retried.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(60))
            .build();
        let mut b = aws_sdk_ec2::config::Builder::from(&shared)
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(url) = &s.ec2_endpoint {
            b = b.endpoint_url(url);
        }
        let region = shared.region().map(|r| r.to_string()).unwrap_or_default();
        let client = aws_sdk_ec2::Client::from_conf(b.build());
        (SdkEc2 { client }, region)
    }
}

/// Maps an SDK error to an [`Ec2Error`] that names the action.
fn api_err<E, R>(action: &'static str) -> impl FnOnce(SdkError<E, R>) -> Ec2Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    move |e| {
        let code = e.code().map(str::to_string);
        let message = match (e.code(), e.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_string(),
            _ => DisplayErrorContext(&e).to_string(),
        };
        Ec2Error {
            action,
            code,
            message,
        }
    }
}

/// EC2 answered without the one thing the call exists for.
fn missing(action: &'static str, what: &str) -> Ec2Error {
    Ec2Error {
        action,
        code: None,
        message: format!("EC2 returned no {what}"),
    }
}
