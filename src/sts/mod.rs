//! STS behind a narrow seam: the one call the provider makes itself (who
//! are these credentials?). Assuming roles is the credential chain's job
//! (`crate::aws`), not a call of ours.

mod api;
#[cfg(test)]
pub mod fake;
mod sdk;

pub use api::StsApi;
#[cfg(test)]
pub use api::{Identity, StsError};
pub use sdk::SdkSts;
