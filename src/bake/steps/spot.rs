//! Which RunInstances requests the launch makes: a spot build instance's
//! types in turn, then on demand if asked; and the spot request's end.

use crate::bake::spec::{SpotAllocationStrategy, SpotSpec};
use crate::bake::{BakeContext, BakeError};
use crate::ec2::model::SpotMarket;
use crate::ec2::spot::is_no_spot_capacity;
use crate::ec2::tags::BUILD_ID_TAG;

/// One RunInstances request of the launch: a type, spot or on demand.
#[derive(Debug, Clone, PartialEq)]
struct Attempt {
    instance_type: String,
    spot: bool,
}

/// The launches to try in turn. On demand: `instance_type` alone. Spot:
/// each of `spot_types` (already ordered) as spot, then, with
/// `fallback_on_demand`, `instance_type` on demand.
fn attempts(instance_type: &str, spot: Option<&SpotSpec>, spot_types: &[String]) -> Vec<Attempt> {
    let on_demand = Attempt {
        instance_type: instance_type.to_string(),
        spot: false,
    };
    let Some(spot) = spot else {
        return vec![on_demand];
    };
    let mut out: Vec<Attempt> = spot_types
        .iter()
        .map(|t| Attempt {
            instance_type: t.clone(),
            spot: true,
        })
        .collect();
    if spot.fallback_on_demand {
        out.push(on_demand);
    }
    out
}

/// The spot types in the order to try them: `spot_instance_types` as
/// written (the user's priority), or `instance_type` alone. The price-led
/// strategies (`lowest-price`, `price-capacity-optimized`) put the cheapest
/// current spot price first (ties, and types without a price, keep their
/// place); the others keep the written order: one RunInstances request
/// names one type, so "capacity" can only be learned by asking, type by
/// type, and a type without capacity makes way for the next.
fn spot_order(
    instance_type: &str,
    spot: &SpotSpec,
    prices: &std::collections::BTreeMap<String, f64>,
) -> Vec<String> {
    let mut types = if spot.instance_types.is_empty() {
        vec![instance_type.to_string()]
    } else {
        spot.instance_types.clone()
    };
    if by_price(spot) {
        // Stable: equal prices keep the written order.
        types.sort_by(|a, b| {
            let p = |t: &String| prices.get(t).copied().unwrap_or(f64::INFINITY);
            p(a).total_cmp(&p(b))
        });
    }
    types
}

fn by_price(spot: &SpotSpec) -> bool {
    matches!(
        spot.strategy,
        Some(SpotAllocationStrategy::LowestPrice | SpotAllocationStrategy::PriceCapacityOptimized)
    )
}

/// Launches the build instance: on demand in one request, or as a spot
/// instance, trying each type in turn.
///
/// Why RunInstances with `InstanceMarketOptions` and not Packer's way
/// (a temporary launch template and a CreateFleet of type `instant` with an
/// override per type): RunInstances makes a one-time spot request that is
/// either fulfilled at once or refused at once (`InsufficientInstanceCapacity`,
/// `SpotMaxPriceTooLow`), so no request is left open waiting for capacity and
/// no wait for fulfilment is needed; it closes by itself when the instance
/// terminates. No launch template to create and delete, and the same call
/// (and the same leftover sweep) as an on-demand launch. The price of it:
/// EC2 cannot weigh the pools of several types in one request, so the
/// types are tried in turn (see `spot_order`). The spot request carries the
/// temporary tags and `spot_tags` from its creation, and the cleanup
/// cancels it.
pub(super) async fn launch_instance(
    cx: &mut BakeContext<'_>,
    base: crate::ec2::instances::LaunchSpec,
) -> Result<String, BakeError> {
    let spot = cx.spec.spot.as_ref();
    let types = match spot {
        None => vec![],
        Some(s) => {
            let mut prices = Default::default();
            if by_price(s) && s.instance_types.len() > 1 {
                let zone = cx.spec.launch.availability_zone.as_deref();
                match cx.ec2.current_spot_prices(&s.instance_types, zone).await {
                    Ok(p) => prices = p,
                    // Prices only order the attempts: without them, the written order.
                    Err(e) => {
                        tracing::warn!(error = %e, "no spot prices; trying the types in the written order")
                    }
                }
            }
            spot_order(&cx.spec.instance_type, s, &prices)
        }
    };
    let market = spot.map(|s| SpotMarket {
        max_price: s.max_price.clone(),
        request_tags: {
            let mut t = s.tags.clone();
            t.extend(cx.temporary_tags());
            t
        },
    });
    let mut refused: Vec<String> = vec![];
    let mut last = None;
    for (n, a) in attempts(&cx.spec.instance_type, spot, &types)
        .into_iter()
        .enumerate()
    {
        cx.check_cancel()?;
        let mut launch = base.clone();
        // The client token makes a retried request return the same instance;
        // each attempt is a request of its own.
        if n > 0 {
            launch.client_token = format!("{}-{n}", base.client_token);
        }
        launch.instance_type = a.instance_type.clone();
        launch.spot = if a.spot { market.clone() } else { None };
        if !a.spot && spot.is_some() {
            tracing::warn!(instance_type = %a.instance_type, "no spot capacity: launching on demand");
        }
        match cx.ec2.run_instance(&launch).await {
            Ok(id) => return Ok(id),
            Err(e) if a.spot && is_no_spot_capacity(&e) => {
                tracing::warn!(instance_type = %a.instance_type, error = %e, "no spot capacity");
                refused.push(a.instance_type);
                last = Some(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    match last {
        Some(source) => Err(BakeError::NoSpotCapacity {
            types: refused.join(", "),
            source,
        }),
        None => Err(BakeError::Internal("no launch to try".into())),
    }
}

/// Cancels the bake's spot request: the recorded one, or, when the launch's
/// answer never came, any still open or active that carries the build id.
/// Cancelling leaves the instance to the termination below.
pub(super) async fn cancel_spot_requests(cx: &mut BakeContext<'_>) -> Result<(), BakeError> {
    if cx.spec.spot.is_none() {
        return Ok(());
    }
    let ids = match cx.spot_request_id.take() {
        Some(id) => vec![id],
        None => cx
            .ec2
            .live_spot_requests_tagged(BUILD_ID_TAG, &cx.spec.build_id)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect(),
    };
    for id in ids {
        cx.ec2.cancel_spot_request(&id).await?;
        tracing::info!(spot_request = %id, "spot request cancelled");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spot(types: &[&str], strategy: Option<SpotAllocationStrategy>, fallback: bool) -> SpotSpec {
        SpotSpec {
            instance_types: types.iter().map(|t| t.to_string()).collect(),
            strategy,
            fallback_on_demand: fallback,
            ..Default::default()
        }
    }

    #[test]
    fn spot_order_follows_the_strategy() {
        let prices = std::collections::BTreeMap::from([
            ("b.large".to_string(), 0.02),
            ("c.large".to_string(), 0.01),
            ("d.large".to_string(), 0.02),
        ]);
        let types = ["a.large", "b.large", "c.large", "d.large"];
        let order = |s: Option<SpotAllocationStrategy>| {
            spot_order("x.large", &spot(&types, s, false), &prices)
        };
        // Price-led: cheapest first, equal prices and unpriced types keep their place.
        for s in [
            SpotAllocationStrategy::LowestPrice,
            SpotAllocationStrategy::PriceCapacityOptimized,
        ] {
            assert_eq!(order(Some(s)), ["c.large", "b.large", "d.large", "a.large"]);
        }
        for s in [
            None,
            Some(SpotAllocationStrategy::CapacityOptimized),
            Some(SpotAllocationStrategy::CapacityOptimizedPrioritized),
            Some(SpotAllocationStrategy::Diversified),
        ] {
            assert_eq!(order(s), types);
        }
        assert_eq!(
            spot_order("x.large", &spot(&[], None, false), &prices),
            ["x.large"]
        );
    }

    #[test]
    fn attempts_end_on_demand_only_with_the_fallback() {
        let a = |t: &str, spot: bool| Attempt {
            instance_type: t.into(),
            spot,
        };
        let types = vec!["a.large".to_string(), "b.large".to_string()];
        assert_eq!(attempts("x.large", None, &types), [a("x.large", false)]);
        assert_eq!(
            attempts("x.large", Some(&spot(&[], None, false)), &types),
            [a("a.large", true), a("b.large", true)]
        );
        assert_eq!(
            attempts("x.large", Some(&spot(&[], None, true)), &types),
            [a("a.large", true), a("b.large", true), a("x.large", false)]
        );
    }
}
