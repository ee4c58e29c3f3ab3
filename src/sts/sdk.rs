//! The real STS client: aws-sdk-sts on the shared SDK configuration.

use super::api::{Identity, StsApi, StsError};
use crate::aws::{AwsError, Shared};

#[derive(Debug, Clone)]
pub struct SdkSts {
    client: aws_sdk_sts::Client,
}

impl SdkSts {
    /// Makes no network call.
    pub fn connect(shared: &Shared) -> Result<SdkSts, AwsError> {
        let conf = shared.for_endpoint(shared.sts_endpoint())?;
        Ok(SdkSts {
            client: aws_sdk_sts::Client::new(&conf),
        })
    }
}

#[async_trait::async_trait]
impl StsApi for SdkSts {
    async fn get_caller_identity(&self) -> Result<Identity, StsError> {
        use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};
        let out = self
            .client
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                StsError(match (e.code(), e.message()) {
                    (Some(c), Some(m)) => format!("{c}: {m}"),
                    _ => DisplayErrorContext(&e).to_string(),
                })
            })?;
        Ok(Identity {
            account: out.account.unwrap_or_default(),
            arn: out.arn.unwrap_or_default(),
        })
    }
}
