//! The STS calls we make, and what they answer.

/// Who the configured credentials are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("GetCallerIdentity: {0}")]
pub struct StsError(pub String);

#[async_trait::async_trait]
pub trait StsApi: Send + Sync + std::fmt::Debug {
    async fn get_caller_identity(&self) -> Result<Identity, StsError>;
}
