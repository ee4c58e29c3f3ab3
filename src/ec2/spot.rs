//! Spot requests: finding a bake's, cancelling them, and telling "no spot
//! capacity" from other launch failures.

use super::Ec2;
use super::error::{Ec2Error, gone_is_ok};
use super::model::{self, SpotRequestInfo};

/// The error codes with which RunInstances says that no spot instance is to
/// be had now (EC2 API Reference, "Error codes": `InsufficientInstanceCapacity`
/// "There is no Spot capacity available that matches your request",
/// `SpotMaxPriceTooLow` when the maximum price is below the spot price,
/// `InsufficientCapacity`): another type, or on demand, may succeed.
const NO_SPOT: [&str; 3] = [
    "InsufficientInstanceCapacity",
    "InsufficientCapacity",
    "SpotMaxPriceTooLow",
];

/// Whether a spot launch failed only for want of spot capacity (or price).
pub fn is_no_spot_capacity(e: &Ec2Error) -> bool {
    NO_SPOT.iter().any(|c| e.has_code(c))
}

impl Ec2 {
    /// Spot requests carrying the tag that are still `open` or `active`.
    pub async fn live_spot_requests_tagged(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<SpotRequestInfo>, Ec2Error> {
        let found = self
            .api
            .describe_spot_requests(&model::tag_filter(key, value))
            .await?;
        Ok(found
            .into_iter()
            .filter(|r| {
                matches!(r.state.as_str(), "open" | "active")
                    && model::tagged_exactly(&r.tags, key, value)
            })
            .collect())
    }

    /// The current Linux/UNIX spot price of each type that has one (the
    /// lowest over zones when `zone` is None).
    pub async fn current_spot_prices(
        &self,
        types: &[String],
        zone: Option<&str>,
    ) -> Result<std::collections::BTreeMap<String, f64>, Ec2Error> {
        let mut out = std::collections::BTreeMap::<String, f64>::new();
        for (t, p) in self.api.describe_spot_prices(types, zone).await? {
            let Ok(p) = p.parse::<f64>() else { continue };
            out.entry(t)
                .and_modify(|have| *have = have.min(p))
                .or_insert(p);
        }
        Ok(out)
    }

    /// Cancels a spot request; already gone is success. Its instance, if
    /// any, runs on: terminating it is the launch step's job.
    pub async fn cancel_spot_request(&self, id: &str) -> Result<(), Ec2Error> {
        gone_is_ok(self.api.cancel_spot_request(id).await)
    }
}
