//! Credentials the provider block names: static keys, custom shared files,
//! and roles assumed through STS. aws-config's own `AssumeRoleProvider`
//! cannot send `TransitiveTagKeys` or `SourceIdentity`, and its web
//! identity provider reads only a file, so both STS calls are made here
//! with aws-sdk-sts; the SDK's identity cache in front of them refreshes
//! the credentials before they expire. Each call happens on the first
//! request that needs credentials, never at provider start.

use super::{AssumeRole, StaticKeys, WebIdentity, WebToken};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};
use std::time::SystemTime;

const PROVIDER: &str = "golden provider block";

pub(super) fn static_keys(k: &StaticKeys) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        k.access_key.clone(),
        k.secret_key.clone(),
        k.token.clone(),
        None,
        PROVIDER,
    ))
}

/// The shared config and credentials files the block lists, replacing the
/// default ones (as in the AWS provider); `None` keeps the defaults.
/// (aws-config names these types only through aliases it deprecates in
/// favour of aws-runtime's, a crate we would add for two names.)
#[allow(deprecated)]
pub(super) fn profile_files(
    s: &super::AwsSettings,
) -> Option<aws_config::profile::profile_file::ProfileFiles> {
    use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
    if s.shared_config_files.is_empty() && s.shared_credentials_files.is_empty() {
        return None;
    }
    let mut b = ProfileFiles::builder();
    if s.shared_config_files.is_empty() {
        b = b.include_default_config_file(true);
    }
    if s.shared_credentials_files.is_empty() {
        b = b.include_default_credentials_file(true);
    }
    for f in &s.shared_config_files {
        b = b.with_file(ProfileFileKind::Config, f);
    }
    for f in &s.shared_credentials_files {
        b = b.with_file(ProfileFileKind::Credentials, f);
    }
    Some(b.build())
}

/// A session name when none is given: unique per process, as the SDK's.
fn session_name(given: &Option<String>) -> String {
    given.clone().unwrap_or_else(|| {
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        format!("terraform-provider-golden-{secs}")
    })
}

fn into_credentials(
    c: Option<aws_sdk_sts::types::Credentials>,
    what: &'static str,
) -> provider::Result {
    let c =
        c.ok_or_else(|| CredentialsError::unhandled(format!("{what} returned no credentials")))?;
    let expiry = SystemTime::try_from(c.expiration).map_err(|_| {
        CredentialsError::unhandled(format!("{what} returned an expiry out of range"))
    })?;
    Ok(Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        Some(expiry),
        what,
    ))
}

fn failed(
    what: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> CredentialsError {
    let detail = aws_sdk_sts::error::DisplayErrorContext(&e).to_string();
    CredentialsError::provider_error(format!("{what} failed: {detail}"))
}

#[derive(Debug)]
struct AssumeRoleProvider {
    client: aws_sdk_sts::Client,
    role: AssumeRole,
}

impl AssumeRoleProvider {
    async fn call(&self) -> provider::Result {
        let r = &self.role;
        tracing::debug!(role_arn = %r.role_arn, "assuming role");
        let mut req = self
            .client
            .assume_role()
            .role_arn(&r.role_arn)
            .role_session_name(session_name(&r.session_name))
            .set_external_id(r.external_id.clone())
            .set_policy(r.policy.clone())
            .set_source_identity(r.source_identity.clone())
            .set_duration_seconds(r.duration.map(|d| d.as_secs() as i32));
        for arn in &r.policy_arns {
            req = req.policy_arns(
                aws_sdk_sts::types::PolicyDescriptorType::builder()
                    .arn(arn)
                    .build(),
            );
        }
        for (k, v) in &r.tags {
            let tag = aws_sdk_sts::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| CredentialsError::invalid_configuration(e.to_string()))?;
            req = req.tags(tag);
        }
        for k in &r.transitive_tag_keys {
            req = req.transitive_tag_keys(k);
        }
        let out = req.send().await.map_err(|e| failed("AssumeRole", e))?;
        into_credentials(out.credentials, "AssumeRole")
    }
}

impl ProvideCredentials for AssumeRoleProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.call())
    }
}

#[derive(Debug)]
struct WebIdentityProvider {
    client: aws_sdk_sts::Client,
    web: WebIdentity,
}

impl WebIdentityProvider {
    async fn call(&self) -> provider::Result {
        let w = &self.web;
        let token = match &w.token {
            WebToken::Inline(t) => t.clone(),
            WebToken::File(p) => tokio::fs::read_to_string(p).await.map_err(|e| {
                CredentialsError::invalid_configuration(format!(
                    "cannot read web_identity_token_file {}: {e}",
                    p.display()
                ))
            })?,
            WebToken::None => {
                return Err(CredentialsError::invalid_configuration(
                    "no web identity token",
                ));
            }
        };
        tracing::debug!(role_arn = %w.role_arn, "assuming role with web identity");
        let out = self
            .client
            .assume_role_with_web_identity()
            .role_arn(&w.role_arn)
            .role_session_name(session_name(&w.session_name))
            .web_identity_token(token.trim())
            .set_duration_seconds(w.duration.map(|d| d.as_secs() as i32))
            .send()
            .await
            .map_err(|e| failed("AssumeRoleWithWebIdentity", e))?;
        into_credentials(out.credentials, "AssumeRoleWithWebIdentity")
    }
}

impl ProvideCredentials for WebIdentityProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.call())
    }
}

/// Credentials of `role`, assumed with the credentials `sts` carries.
pub(super) fn assume_role(
    sts: &aws_config::SdkConfig,
    role: AssumeRole,
) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(AssumeRoleProvider {
        client: aws_sdk_sts::Client::new(sts),
        role,
    })
}

pub(super) fn web_identity(
    sts: &aws_config::SdkConfig,
    web: WebIdentity,
) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(WebIdentityProvider {
        client: aws_sdk_sts::Client::new(sts),
        web,
    })
}
