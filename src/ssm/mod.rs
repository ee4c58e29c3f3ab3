//! SSM Parameter Store behind a narrow seam ([`SsmApi`]): the real client
//! (`sdk`) and, in tests, an in-memory fake. [`Ssm`] is the seam in the
//! provider's region plus the way to reach the same account in another
//! region, where an image's copies get their parameters.

mod api;
#[cfg(test)]
pub mod fake;
mod sdk;

pub use api::{IMAGE_DATA_TYPE, SsmApi, SsmError};
pub use sdk::SdkSsm;

use std::sync::Arc;

/// Makes the seam for another region (same credentials and endpoint).
pub type Regional = Arc<dyn Fn(&str) -> Result<Arc<dyn SsmApi>, SsmError> + Send + Sync>;

/// The SSM seam of one provider, in its region, and the way to other regions.
#[derive(Clone)]
pub struct Ssm {
    pub api: Arc<dyn SsmApi>,
    pub region: String,
    regional: Regional,
}

impl std::fmt::Debug for Ssm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssm")
            .field("api", &self.api)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Ssm {
    /// The real client on the shared SDK configuration with SSM's endpoint
    /// (the standard one when None); makes no network call.
    pub fn from_shared(
        shared: &crate::aws::Shared,
        endpoint: Option<&str>,
    ) -> Result<Ssm, crate::aws::AwsError> {
        let home = SdkSsm::connect(shared, endpoint, None)?;
        let region = shared.region();
        let shared = shared.clone();
        let endpoint = endpoint.map(str::to_string);
        let regional: Regional = Arc::new(move |region: &str| {
            SdkSsm::connect(&shared, endpoint.as_deref(), Some(region))
                .map(|c| Arc::new(c) as Arc<dyn SsmApi>)
                .map_err(|e| SsmError {
                    action: "connect",
                    code: None,
                    message: e.to_string(),
                })
        });
        Ok(Ssm::with_api(Arc::new(home), region, regional))
    }

    /// Any implementation of the seam, with its way to other regions.
    pub fn with_api(api: Arc<dyn SsmApi>, region: String, regional: Regional) -> Ssm {
        Ssm {
            api,
            region,
            regional,
        }
    }

    /// The seam in `region`: this one when it is the provider's region.
    pub fn in_region(&self, region: &str) -> Result<Ssm, SsmError> {
        if region == self.region {
            return Ok(self.clone());
        }
        Ok(Ssm {
            api: (self.regional)(region)?,
            region: region.to_string(),
            regional: self.regional.clone(),
        })
    }
}

#[cfg(test)]
impl Ssm {
    /// Over the fake, every region in one store.
    pub fn fake(f: &fake::FakeSsm) -> Ssm {
        let f2 = f.clone();
        Ssm::with_api(
            Arc::new(f.clone()),
            f.region.clone(),
            Arc::new(move |r: &str| Ok(Arc::new(f2.in_region(r)) as Arc<dyn SsmApi>)),
        )
    }
}
