//! The user's launch options onto a RunInstances request: one place maps each
//! `LaunchOptions` field to the SDK, so adding an option touches this file only.

use crate::choices::Choice;
use crate::ec2::model::{LaunchOptions, SpotMarket};
use crate::ec2::volumes::BlockDevice;
use aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder;
use aws_sdk_ec2::types::{
    CapacityReservationPreference, CapacityReservationSpecification, CapacityReservationTarget,
    CreditSpecificationRequest, EnclaveOptionsRequest, IamInstanceProfileSpecification,
    InstanceInterruptionBehavior, InstanceMarketOptionsRequest, MarketType, Placement,
    ResourceType, SpotInstanceType, SpotMarketOptions, Tenancy,
};

/// Sets every option the user gave; absent ones are left to EC2's defaults.
pub(super) fn apply(
    mut req: RunInstancesFluentBuilder,
    o: &LaunchOptions,
    devices: &[BlockDevice],
) -> RunInstancesFluentBuilder {
    req = req.set_ebs_optimized(o.ebs_optimized);
    if !devices.is_empty() {
        req = req
            .set_block_device_mappings(Some(devices.iter().map(super::devices::mapping).collect()));
    }
    if let Some(p) = &o.iam_instance_profile {
        req = req.iam_instance_profile(IamInstanceProfileSpecification::builder().name(p).build());
    }
    if o.availability_zone.is_some() || o.tenancy.is_some() || o.placement_group.is_some() {
        req = req.placement(
            Placement::builder()
                .set_availability_zone(o.availability_zone.clone())
                .set_tenancy(o.tenancy.map(|t| Tenancy::from(t.as_str())))
                .set_group_name(o.placement_group.clone())
                .build(),
        );
    }
    if let Some(id) = &o.capacity_reservation_id {
        req = req.capacity_reservation_specification(
            CapacityReservationSpecification::builder()
                .capacity_reservation_target(
                    CapacityReservationTarget::builder()
                        .capacity_reservation_id(id)
                        .build(),
                )
                .build(),
        );
    } else if let Some(p) = o.capacity_reservation_preference {
        req = req.capacity_reservation_specification(
            CapacityReservationSpecification::builder()
                .capacity_reservation_preference(CapacityReservationPreference::from(p.as_str()))
                .build(),
        );
    }
    if let Some(unlimited) = o.enable_unlimited_credits {
        let credits = if unlimited { "unlimited" } else { "standard" };
        req = req.credit_specification(
            CreditSpecificationRequest::builder()
                .cpu_credits(credits)
                .build(),
        );
    }
    if let Some(enabled) = o.enable_nitro_enclave {
        req = req.enclave_options(EnclaveOptionsRequest::builder().enabled(enabled).build());
    }
    req
}

/// A spot launch: a one-time request (it ends with the instance, nothing to
/// renew it after an interruption), terminated on interruption, at most
/// `max_price` (none: up to the on-demand price), its request tagged.
pub(super) fn spot(req: RunInstancesFluentBuilder, m: &SpotMarket) -> RunInstancesFluentBuilder {
    req.instance_market_options(
        InstanceMarketOptionsRequest::builder()
            .market_type(MarketType::Spot)
            .spot_options(
                SpotMarketOptions::builder()
                    .set_max_price(m.max_price.clone())
                    .spot_instance_type(SpotInstanceType::OneTime)
                    .instance_interruption_behavior(InstanceInterruptionBehavior::Terminate)
                    .build(),
            )
            .build(),
    )
    .tag_specifications(super::convert::spec(
        ResourceType::SpotInstancesRequest,
        &m.request_tags,
    ))
}
