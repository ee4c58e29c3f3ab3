//! The real EC2 client: aws-sdk-ec2 behind the `Ec2Api` seam. Building
//! the client and turning SDK types and errors into ours live here; the
//! calls themselves in `calls`.

mod calls;
mod convert;
mod devices;
mod launch;
mod throttle;

use super::error::Ec2Error;
use aws_sdk_ec2::error::SdkError;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata};

/// aws-sdk-ec2's client, one per provider.
#[derive(Clone, Debug)]
pub struct SdkEc2 {
    client: aws_sdk_ec2::Client,
}

impl SdkEc2 {
    /// The client on the shared SDK configuration for EC2's endpoint
    /// (`Shared::for_endpoint`: credentials chain, retries, HTTP client), in
    /// `region` instead of its own when given; makes no network call.
    pub fn on(conf: &aws_config::SdkConfig, region: Option<&str>) -> SdkEc2 {
        let mut b = aws_sdk_ec2::config::Builder::from(conf);
        if let Some(r) = region {
            b = b.region(aws_sdk_ec2::config::Region::new(r.to_string()));
        }
        SdkEc2 {
            client: aws_sdk_ec2::Client::from_conf(b.build()),
        }
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
