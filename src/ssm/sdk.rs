//! The real SSM client: aws-sdk-ssm on the shared SDK configuration, its
//! throttling answers retried above the SDK like EC2's
//! (`crate::retry::while_throttled`).

use super::api::{IMAGE_DATA_TYPE, Parameter, SsmApi, SsmError};
use crate::aws::{AwsError, Shared};
use crate::retry::{Backoff, while_throttled};
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SdkSsm {
    client: aws_sdk_ssm::Client,
}

impl SdkSsm {
    /// The client with SSM's endpoint (the standard one when None), in
    /// `region` (the shared one when None); makes no network call.
    pub fn connect(
        shared: &Shared,
        endpoint: Option<&str>,
        region: Option<&str>,
    ) -> Result<SdkSsm, AwsError> {
        let mut conf = shared.for_endpoint(endpoint)?;
        if let Some(r) = region {
            conf = conf
                .to_builder()
                .region(aws_config::Region::new(r.to_string()))
                .build();
        }
        Ok(SdkSsm {
            client: aws_sdk_ssm::Client::new(&conf),
        })
    }
}

/// How long one call may keep being throttled before its error stands.
const BUDGET: Duration = Duration::from_secs(60);

/// Sends `send()` again while SSM throttles it (1 s first, ×1.5, capped at
/// 10 s, within [`BUDGET`]); errors keep SSM's code.
async fn retried<T, E, R, Fut>(action: &'static str, send: impl Fn() -> Fut) -> Result<T, SsmError>
where
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let backoff = Backoff::starting(Duration::from_secs(1), Duration::from_secs(10));
    while_throttled(
        backoff,
        BUDGET,
        |e: &SsmError| e.code.as_deref(),
        || async { send().await.map_err(|e| api_err(action, e)) },
    )
    .await
}

fn api_err<E, R>(action: &'static str, e: SdkError<E, R>) -> SsmError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = e.code().map(str::to_string);
    let message = match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => DisplayErrorContext(&e).to_string(),
    };
    SsmError {
        action,
        code,
        message,
    }
}

fn seconds(t: Option<&aws_smithy_types::DateTime>) -> Option<i64> {
    t.map(|t| t.secs())
}

#[async_trait::async_trait]
impl SsmApi for SdkSsm {
    async fn put_image_parameter(
        &self,
        name: &str,
        value: &str,
        description: &str,
    ) -> Result<i64, SsmError> {
        let mut req = self
            .client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .data_type(IMAGE_DATA_TYPE)
            .overwrite(true);
        if !description.is_empty() {
            req = req.description(description);
        }
        let out = retried("PutParameter", || req.clone().send()).await?;
        Ok(out.version)
    }

    async fn get_parameter(&self, name: &str) -> Result<Option<Parameter>, SsmError> {
        let req = self.client.get_parameter().name(name);
        match retried("GetParameter", || req.clone().send()).await {
            Ok(out) => Ok(out.parameter.map(|p| Parameter {
                last_modified: seconds(p.last_modified_date.as_ref()),
                name: p.name.unwrap_or_default(),
                value: p.value.unwrap_or_default(),
                version: p.version,
                data_type: p.data_type.unwrap_or_default(),
            })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_parameter_history(&self, name: &str) -> Result<Vec<Parameter>, SsmError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        // SSM keeps at most 100 versions; 50 a page.
        for _ in 0..10 {
            let req = self
                .client
                .get_parameter_history()
                .name(name)
                .max_results(50)
                .set_next_token(token.clone());
            let page = match retried("GetParameterHistory", || req.clone().send()).await {
                Ok(p) => p,
                Err(e) if e.is_not_found() => return Ok(vec![]),
                Err(e) => return Err(e),
            };
            out.extend(
                page.parameters
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| Parameter {
                        last_modified: seconds(p.last_modified_date.as_ref()),
                        name: p.name.unwrap_or_default(),
                        value: p.value.unwrap_or_default(),
                        version: p.version,
                        data_type: p.data_type.unwrap_or_default(),
                    }),
            );
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        out.sort_by_key(|p| p.version);
        Ok(out)
    }

    async fn delete_parameter(&self, name: &str) -> Result<bool, SsmError> {
        let req = self.client.delete_parameter().name(name);
        match retried("DeleteParameter", || req.clone().send()).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}
