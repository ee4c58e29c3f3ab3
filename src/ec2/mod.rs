//! EC2 behind one seam. [`api::Ec2Api`] lists the calls we make; the real
//! client ([`sdk`]) and, in tests, an in-memory fake implement it. [`Ec2`]
//! holds the seam beside what outlives a call (learned timings, account
//! facts, recent source lookups) and adds the policy every caller shares:
//! deletes are idempotent, lookups by id may miss, waits are paced and named
//! per object (`waiters`), removals wait out EC2's dependencies (`removal`).

pub mod api;
pub mod error;
pub mod expiry;
pub mod facts;
#[cfg(test)]
pub mod fake;
pub mod holders;
pub mod images;
pub mod instances;
pub mod model;
pub mod network;
pub mod pace;
pub mod placement;
pub mod regions;
pub mod removal;
pub mod sdk;
pub mod spot;
pub mod stored;
pub mod tags;
#[cfg(test)]
mod tests;
pub mod volumes;
pub mod wait;
pub mod waiters;

pub use error::Ec2Error;

use std::path::PathBuf;
use std::sync::Arc;

pub use crate::aws::AwsSettings;

/// The EC2 seam every bake of one provider shares, with what it remembers.
#[derive(Clone, Debug)]
pub struct Ec2 {
    pub api: Arc<dyn api::Ec2Api>,
    pub region: String,
    /// The custom endpoint, if any: leftovers are only swept where they were made.
    pub endpoint: Option<String>,
    /// The named profile, if any, recorded so a later sweep can reconnect.
    pub profile: Option<String>,
    /// The provider block's credentials, named (`AwsSettings::credentials_label`):
    /// leftovers made with them are swept only by a provider configured alike.
    pub credentials: Option<String>,
    /// How long transitions took before, so waits look when a change is due.
    pub pacer: Arc<pace::Pacer>,
    /// Account facts that outlive a bake (VPCs), so each bake need not ask.
    pub facts: Arc<facts::Facts>,
    /// How long a "not found" for something this bake created a moment ago
    /// is taken for EC2's eventual consistency, not for "already gone".
    pub fresh_not_found: std::time::Duration,
    /// Clients for the account's other regions (`regions`).
    pub regions: regions::Regions,
}

/// A short digest of the environment variables that choose ambient AWS
/// credentials (empty when none is set): two accounts used one after the
/// other in one directory do not share what the directory remembers.
fn ambient_identity() -> String {
    use sha2::{Digest, Sha256};
    let vars = ["AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_ROLE_ARN"];
    let seen: Vec<String> = vars
        .iter()
        .filter_map(|v| std::env::var(v).ok().map(|x| format!("{v}={x}")))
        .collect();
    if seen.is_empty() {
        return String::new();
    }
    let digest = Sha256::digest(seen.join("\n").as_bytes());
    format!("|{:x}", digest)[..13].to_string()
}

impl Ec2 {
    /// Where this client reaches, as facts remembered in the directory are
    /// keyed: region, endpoint, profile and credentials, and for credentials
    /// from the environment a digest of the variables naming them (never the
    /// values themselves). Another account's answers are not taken for this one's.
    fn scope(&self) -> String {
        format!(
            "{}|{}|{}|{}{}",
            self.region,
            self.endpoint.as_deref().unwrap_or(""),
            self.profile.as_deref().unwrap_or(""),
            self.credentials.as_deref().unwrap_or(""),
            ambient_identity()
        )
    }

    /// The real client, built through the standard AWS chain; makes no
    /// network call.
    pub async fn connect(s: &AwsSettings) -> Result<Ec2, crate::aws::AwsError> {
        Ec2::from_shared(&crate::aws::load(s).await?, s)
    }

    /// The real client on an SDK configuration other seams share.
    pub fn from_shared(
        shared: &crate::aws::Shared,
        s: &AwsSettings,
    ) -> Result<Ec2, crate::aws::AwsError> {
        let conf = shared.for_endpoint(s.ec2_endpoint.as_deref())?;
        let client = sdk::SdkEc2::on(&conf, None);
        let mut ec2 = Ec2::with_api(Arc::new(client), shared.region());
        ec2.regions = regions::Regions::new(Arc::new(move |region: &str| {
            Arc::new(sdk::SdkEc2::on(&conf, Some(region))) as Arc<dyn api::Ec2Api>
        }));
        ec2.endpoint = s.ec2_endpoint.clone();
        ec2.profile = s.profile.clone();
        ec2.credentials = s.credentials_label();
        Ok(ec2)
    }

    /// Any implementation of the seam, remembering in memory only.
    pub fn with_api(api: Arc<dyn api::Ec2Api>, region: String) -> Ec2 {
        Ec2 {
            api,
            region,
            endpoint: None,
            profile: None,
            credentials: None,
            pacer: Default::default(),
            facts: Default::default(),
            fresh_not_found: removal::FRESH_NOT_FOUND,
            regions: Default::default(),
        }
    }

    /// Keeps learned transition times and account facts in `dir` across runs.
    pub fn remembering(mut self, dir: PathBuf) -> Ec2 {
        self.pacer = Arc::new(pace::Pacer::at(Some(dir.join("timings.json"))));
        self.facts = Arc::new(facts::Facts::at(Some(dir.join("facts.json"))));
        self
    }
}
