//! A thin layer over aws-sdk-ec2: one client per provider, typed errors that
//! keep the EC2 error code, waiters, and one function per EC2 call we make.

pub mod facts;
pub mod images;
pub mod instances;
pub mod network;
pub mod pace;
pub mod stored;
pub mod tags;
pub mod wait;

use aws_sdk_ec2::error::SdkError;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata};
use std::time::Duration;

/// Where and how to reach EC2: resolved once from the provider block.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub ec2_endpoint: Option<String>,
    pub max_retries: u32,
}

/// The EC2 client every bake of one provider shares.
#[derive(Clone, Debug)]
pub struct Ec2 {
    pub client: aws_sdk_ec2::Client,
    pub region: String,
    /// The custom endpoint, if any: leftovers are only swept where they were made.
    pub endpoint: Option<String>,
    /// The named profile, if any, recorded so a later sweep can reconnect.
    pub profile: Option<String>,
    /// How long transitions took before, so waits look when a change is due.
    pub pacer: std::sync::Arc<pace::Pacer>,
    /// Account facts that outlive a bake (VPCs), so each bake need not ask.
    pub facts: std::sync::Arc<facts::Facts>,
    /// Source AMIs the plan just looked up, so the apply in the same process
    /// does not ask again.
    pub recent_sources: images::RecentImages,
}

/// An EC2 call that failed, with the action and EC2's error code.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {message}")]
pub struct Ec2Error {
    pub action: &'static str,
    pub code: Option<String>,
    pub message: String,
}

/// Deletes are idempotent: a resource that is already gone counts as deleted.
pub(crate) fn gone_is_ok<T>(r: Result<T, Ec2Error>) -> Result<(), Ec2Error> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

impl Ec2Error {
    /// True for the "does not exist" family of codes (already gone is fine on delete).
    pub fn is_not_found(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.ends_with(".NotFound") || c == "InvalidAMIID.Unavailable")
    }
}

/// Maps an SDK error to an [`Ec2Error`] that names the action.
pub(crate) fn api_err<E, R>(action: &'static str) -> impl FnOnce(SdkError<E, R>) -> Ec2Error
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

impl Ec2 {
    /// Builds the client through the standard AWS chain (env, profile, SSO,
    /// IMDS) with adaptive retries; makes no network call.
    pub async fn connect(s: &AwsSettings) -> Ec2 {
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
        Ec2 {
            client: aws_sdk_ec2::Client::from_conf(b.build()),
            region,
            endpoint: s.ec2_endpoint.clone(),
            profile: s.profile.clone(),
            pacer: Default::default(),
            facts: Default::default(),
            recent_sources: Default::default(),
        }
    }

    /// Keeps learned transition times and account facts in `dir` across runs.
    pub fn remembering(mut self, dir: std::path::PathBuf) -> Ec2 {
        self.pacer = std::sync::Arc::new(pace::Pacer::at(Some(dir.join("timings.json"))));
        self.facts = std::sync::Arc::new(facts::Facts::at(Some(dir.join("facts.json"))));
        self
    }
}
