//! The SSM Parameter Store calls we make, and what they answer. Only what
//! channels need: parameters of data type `aws:ec2:image` (EC2 checks the
//! value is an AMI and `resolve:ssm:` resolves them), read by name or by
//! `name:VERSION`, their history, and deletes.

/// One version of a parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub value: String,
    pub version: i64,
    /// `text` or `aws:ec2:image`.
    pub data_type: String,
    /// Seconds since the epoch of this version's write, when SSM says.
    pub last_modified: Option<i64>,
}

/// An SSM call that failed, with the action and SSM's error code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{action}: {message}")]
pub struct SsmError {
    pub action: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl SsmError {
    /// The parameter, or the asked version of it, does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("ParameterNotFound" | "ParameterVersionNotFound")
        )
    }
}

/// The data type that makes a parameter an AMI alias.
pub const IMAGE_DATA_TYPE: &str = "aws:ec2:image";

#[async_trait::async_trait]
pub trait SsmApi: Send + Sync + std::fmt::Debug {
    /// PutParameter: type `String`, data type `aws:ec2:image`, `Overwrite`
    /// (a write to an existing parameter adds a version). Returns the
    /// version written.
    async fn put_image_parameter(
        &self,
        name: &str,
        value: &str,
        description: &str,
    ) -> Result<i64, SsmError>;

    /// GetParameter of `name` or `name:VERSION`; None when it (or that
    /// version) does not exist.
    async fn get_parameter(&self, name: &str) -> Result<Option<Parameter>, SsmError>;

    /// GetParameterHistory, oldest first (SSM keeps the last 100 versions);
    /// empty when the parameter does not exist. For the data source's
    /// messages (which versions a channel has); no resource call needs it.
    #[allow(dead_code)]
    async fn get_parameter_history(&self, name: &str) -> Result<Vec<Parameter>, SsmError>;

    /// DeleteParameter; false when it was already gone.
    async fn delete_parameter(&self, name: &str) -> Result<bool, SsmError>;
}
