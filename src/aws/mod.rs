//! The SDK configuration every AWS seam shares (EC2, STS, later SSM and
//! KMS): region, the credentials chain (static keys, profiles and shared
//! files, assumed roles), retries, timeouts, and the HTTP client with its
//! trust roots and proxies. Built in one place so every service client
//! signs, retries and connects alike. Nothing here makes a network call:
//! credentials resolve on the first request.

mod credentials;
mod http;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where and how to reach AWS: resolved once from the provider block.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub ec2_endpoint: Option<String>,
    pub max_retries: u32,
    pub retry_mode: RetryMode,
    pub keys: Option<StaticKeys>,
    pub shared_config_files: Vec<PathBuf>,
    pub shared_credentials_files: Vec<PathBuf>,
    /// Roles assumed in turn, each with the previous one's credentials.
    pub assume_role: Vec<AssumeRole>,
    pub web_identity: Option<WebIdentity>,
    pub custom_ca_bundle: Option<PathBuf>,
    pub proxy: Proxy,
    pub endpoints: Endpoints,
}

impl AwsSettings {
    /// Names the credentials the provider block gives (never a secret), or
    /// None when they come from the standard chain: what a later process
    /// needs to know before it acts with other credentials.
    pub fn credentials_label(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(k) = &self.keys {
            parts.push(format!("access key {}", k.access_key));
        }
        if let Some(w) = &self.web_identity {
            parts.push(format!("web identity {}", w.role_arn));
        }
        parts.extend(
            self.assume_role
                .iter()
                .map(|r| format!("role {}", r.role_arn)),
        );
        (!parts.is_empty()).then(|| parts.join(" -> "))
    }
}

/// Service endpoints other than EC2's (which stays in `ec2_endpoint`, as
/// the leftovers journal records it). `kms` has no caller yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub sts: Option<String>,
    pub ssm: Option<String>,
    pub kms: Option<String>,
}

crate::choices!(
    /// How the SDK retries throttling and server errors.
    #[derive(Default)]
    pub enum RetryMode {
        #[default]
        Standard = "standard",
        Adaptive = "adaptive",
    }
);

/// Keys given in the provider block. Debug never shows the secret parts.
#[derive(Clone)]
pub struct StaticKeys {
    pub access_key: String,
    pub secret_key: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKeys")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// An AssumeRole call made with the base credentials.
#[derive(Debug, Clone, Default)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    pub duration: Option<Duration>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
}

/// An AssumeRoleWithWebIdentity call (unsigned: the token is the proof).
#[derive(Clone, Default)]
pub struct WebIdentity {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub token: WebToken,
    pub duration: Option<Duration>,
}

#[derive(Clone, Default)]
pub enum WebToken {
    Inline(String),
    /// Read again on every refresh: the file is rotated under us.
    File(PathBuf),
    #[default]
    None,
}

impl std::fmt::Debug for WebIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = match &self.token {
            WebToken::Inline(_) => "(inline)".to_string(),
            WebToken::File(p) => p.display().to_string(),
            WebToken::None => "(none)".to_string(),
        };
        f.debug_struct("WebIdentity")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("token", &token)
            .field("duration", &self.duration)
            .finish()
    }
}

/// Explicit proxies; with none of them set the usual HTTP_PROXY,
/// HTTPS_PROXY and NO_PROXY environment variables apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxy {
    pub http: Option<String>,
    pub https: Option<String>,
    pub no_proxy: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("cannot read the CA bundle {path}: {source}")]
    CaBundle {
        path: String,
        source: std::io::Error,
    },
    #[error("the CA bundle {0} holds no PEM certificate")]
    CaBundleEmpty(String),
    #[error("invalid proxy URL {url:?}: {message}")]
    Proxy { url: String, message: String },
    #[error("cannot set up TLS with the CA bundle: {0}")]
    Tls(String),
}

/// The shared configuration and what each service client adds to it.
#[derive(Clone, Debug)]
pub struct Shared {
    pub sdk: aws_config::SdkConfig,
    settings: AwsSettings,
    ca: Option<Vec<u8>>,
}

impl Shared {
    /// The region the chain resolved ("" when none).
    pub fn region(&self) -> String {
        self.sdk.region().map(|r| r.to_string()).unwrap_or_default()
    }

    /// The configuration for a client of the service at `endpoint` (its
    /// default when none): the HTTP client picks the proxy for that
    /// endpoint's scheme.
    pub fn for_endpoint(&self, endpoint: Option<&str>) -> Result<aws_config::SdkConfig, AwsError> {
        let http = http::client(self.ca.as_deref(), &self.settings.proxy, endpoint)?;
        let mut b = self.sdk.to_builder().http_client(http);
        if let Some(url) = endpoint {
            b = b.endpoint_url(url);
        }
        Ok(b.build())
    }

    pub fn sts_endpoint(&self) -> Option<&str> {
        self.settings.endpoints.sts.as_deref()
    }
}

/// Builds the shared configuration; reads local files (CA bundle, shared
/// config) but makes no network call.
pub async fn load(s: &AwsSettings) -> Result<Shared, AwsError> {
    let ca = match &s.custom_ca_bundle {
        Some(p) => Some(http::read_bundle(p)?),
        None => None,
    };
    let base_http = http::client(ca.as_deref(), &s.proxy, None)?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(base_http)
        .retry_config(retry(s))
        .timeout_config(timeouts());
    if let Some(r) = &s.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(p) = &s.profile {
        loader = loader.profile_name(p);
    }
    if let Some(files) = credentials::profile_files(s) {
        loader = loader.profile_files(files);
    }
    if let Some(k) = &s.keys {
        loader = loader.credentials_provider(credentials::static_keys(k));
    }
    let mut shared = Shared {
        sdk: loader.load().await,
        settings: s.clone(),
        ca,
    };
    // The web identity, then each assumed role, sits on the credentials before it.
    let sts = shared.for_endpoint(shared.sts_endpoint())?;
    let mut provider = s
        .web_identity
        .as_ref()
        .map(|w| credentials::web_identity(&sts, w.clone()));
    for role in &s.assume_role {
        let base = match provider.clone() {
            Some(p) => sts.to_builder().credentials_provider(p).build(),
            None => sts.clone(),
        };
        provider = Some(credentials::assume_role(&base, role.clone()));
    }
    if let Some(p) = provider {
        shared.sdk = shared.sdk.to_builder().credentials_provider(p).build();
    }
    Ok(shared)
}

/// `standard` or `adaptive` as the SDK implements them: both back off
/// exponentially with jitter; adaptive also rate-limits the client itself
/// once throttled.
fn retry(s: &AwsSettings) -> aws_config::retry::RetryConfig {
    let base = match s.retry_mode {
        RetryMode::Standard => aws_config::retry::RetryConfig::standard(),
        RetryMode::Adaptive => aws_config::retry::RetryConfig::adaptive(),
    };
    base.with_max_attempts(s.max_retries.max(1))
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(20))
}

/// A stalled answer must not hang a wait: each attempt is bounded, then retried.
fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build()
}
