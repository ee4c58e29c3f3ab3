//! The one seam between the bake and EC2: exactly the calls the bake, the
//! leftover sweep and the plan make, one method per EC2 action, in plain
//! types. The real client (`sdk::SdkEc2`) turns each into one SDK
//! request; the in-memory fake (`ec2::fake`, tests only) lets the
//! branches that matter for "nothing leaks" (a lost answer, a not-found
//! right after a create, cleanup order) run in milliseconds.
//!
//! Methods report EC2's answers as they are: a missing resource is an
//! [`Ec2Error`] with a `*.NotFound` code, not a `None`. What to make of it
//! (idempotent deletes, lookups that may miss) is decided once, above the
//! seam, in `ec2::Ec2`.

use super::error::Ec2Error;
use super::model::{
    CopyRequest, Filters, GroupInfo, ImageInfo, InstanceInfo, KeyPairInfo, LaunchSpec,
    SnapshotInfo, SpotRequestInfo, SubnetInfo, TagInfo, VolumeInfo, VpcInfo,
};
use super::volumes::BlockDevice;
use std::collections::BTreeMap;

pub type Tags = BTreeMap<String, String>;

#[async_trait::async_trait]
pub trait Ec2Api: Send + Sync + std::fmt::Debug {
    // Images.
    /// DescribeImages by owners (empty: any) and filters.
    async fn describe_images(
        &self,
        owners: &[String],
        filters: &Filters,
    ) -> Result<Vec<ImageInfo>, Ec2Error>;
    /// DescribeImages of these ids (deregistered images included, as EC2
    /// does); an id EC2 does not know fails the whole call, as EC2's does.
    async fn describe_images_by_id(&self, ids: &[String]) -> Result<Vec<ImageInfo>, Ec2Error>;
    /// CreateImage, tagging the image (`tags`) and the snapshots it makes
    /// (`snapshot_tags`, none when empty) at creation; the new image's id.
    async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: Option<&str>,
        tags: &Tags,
        snapshot_tags: &Tags,
        devices: &[BlockDevice],
    ) -> Result<String, Ec2Error>;
    /// CopyImage into this client's region; the copy's id (it is pending:
    /// wait for it, a copy may also end `failed`).
    async fn copy_image(&self, req: &CopyRequest) -> Result<String, Ec2Error>;
    /// ModifyImageAttribute: the description.
    async fn modify_image_description(&self, id: &str, description: &str) -> Result<(), Ec2Error>;
    /// ModifyImageAttribute: launch permissions; `all` is the public group.
    async fn modify_launch_permissions(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Ec2Error>;
    /// DescribeImageAttribute: who may launch (user ids, `all` when public).
    async fn describe_launch_permissions(&self, id: &str) -> Result<Vec<String>, Ec2Error>;
    /// ModifySnapshotAttribute: createVolumePermission for account ids, `all`
    /// for the public group.
    async fn modify_snapshot_permissions(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), Ec2Error>;
    /// DescribeSnapshotAttribute: who may create volumes from the snapshot.
    async fn describe_snapshot_permissions(&self, id: &str) -> Result<Vec<String>, Ec2Error>;
    /// EnableImageDeprecation at an RFC 3339 time.
    async fn enable_image_deprecation(&self, id: &str, at: &str) -> Result<(), Ec2Error>;
    async fn disable_image_deprecation(&self, id: &str) -> Result<(), Ec2Error>;
    /// EnableImageDeregistrationProtection; with cooldown, protection lasts
    /// 24 hours past its disabling.
    async fn enable_image_deregistration_protection(
        &self,
        id: &str,
        with_cooldown: bool,
    ) -> Result<(), Ec2Error>;
    async fn disable_image_deregistration_protection(&self, id: &str) -> Result<(), Ec2Error>;
    async fn deregister_image(&self, id: &str) -> Result<(), Ec2Error>;
    async fn delete_snapshot(&self, id: &str) -> Result<(), Ec2Error>;
    /// DescribeSnapshots of these ids, with their tags; an unknown id fails
    /// the whole call with `InvalidSnapshot.NotFound`, as EC2 does.
    async fn describe_snapshots(&self, ids: &[String]) -> Result<Vec<SnapshotInfo>, Ec2Error>;
    /// DescribeSnapshots of this account's snapshots (`OwnerIds=self`) by filters.
    async fn describe_own_snapshots(
        &self,
        filters: &Filters,
    ) -> Result<Vec<SnapshotInfo>, Ec2Error>;

    // Instances.
    /// RunInstances of one instance; its id.
    async fn run_instance(&self, spec: &LaunchSpec) -> Result<String, Ec2Error>;
    /// DescribeInstances of one id; None when EC2 answers with no reservation.
    async fn describe_instance(&self, id: &str) -> Result<Option<InstanceInfo>, Ec2Error>;
    /// DescribeInstances by filters, in any state.
    async fn describe_instances(&self, filters: &Filters) -> Result<Vec<InstanceInfo>, Ec2Error>;
    /// GetConsoleOutput, decoded; None before the instance has any. With
    /// `latest`, the live output (`Latest=true`), which only Nitro instance
    /// types offer: on others EC2 refuses the request.
    async fn console_output(&self, id: &str, latest: bool) -> Result<Option<String>, Ec2Error>;
    async fn stop_instance(&self, id: &str) -> Result<(), Ec2Error>;
    /// ModifyInstanceAttribute `EnaSupport` (the instance must be stopped).
    async fn modify_instance_ena_support(&self, id: &str, enabled: bool) -> Result<(), Ec2Error>;
    /// ModifyInstanceAttribute `SriovNetSupport` (`simple`; stopped instance).
    async fn modify_instance_sriov_net_support(
        &self,
        id: &str,
        value: &str,
    ) -> Result<(), Ec2Error>;
    async fn terminate_instance(&self, id: &str) -> Result<(), Ec2Error>;

    // Spot requests (made by a spot launch).
    /// DescribeSpotInstanceRequests by filters, in any state.
    async fn describe_spot_requests(
        &self,
        filters: &Filters,
    ) -> Result<Vec<SpotRequestInfo>, Ec2Error>;
    /// DescribeSpotPriceHistory from now (the current prices) of these
    /// types for Linux/UNIX, in one zone or all: (type, price) pairs.
    async fn describe_spot_prices(
        &self,
        types: &[String],
        zone: Option<&str>,
    ) -> Result<Vec<(String, String)>, Ec2Error>;
    /// CancelSpotInstanceRequests of one request (its instance runs on).
    async fn cancel_spot_request(&self, id: &str) -> Result<(), Ec2Error>;

    // Volumes (the build instance's, tagged at launch).
    /// DescribeVolumes by filters, with their states and tags.
    async fn describe_volumes(&self, filters: &Filters) -> Result<Vec<VolumeInfo>, Ec2Error>;
    async fn delete_volume(&self, id: &str) -> Result<(), Ec2Error>;

    // Key pairs.
    async fn import_key_pair(
        &self,
        name: &str,
        public_key_openssh: &str,
        tags: &Tags,
    ) -> Result<(), Ec2Error>;
    /// DescribeKeyPairs by name: the names found.
    async fn describe_key_pairs(&self, name: &str) -> Result<Vec<String>, Ec2Error>;
    /// DescribeKeyPairs by filters: the key pairs, with their tags.
    async fn describe_key_pairs_by(&self, filters: &Filters) -> Result<Vec<KeyPairInfo>, Ec2Error>;
    async fn delete_key_pair(&self, name: &str) -> Result<(), Ec2Error>;

    // Security groups.
    /// CreateSecurityGroup, tagged at creation; the new group's id.
    async fn create_security_group(
        &self,
        name: &str,
        vpc_id: &str,
        tags: &Tags,
    ) -> Result<String, Ec2Error>;
    /// DescribeSecurityGroups by filters: the groups, with their tags.
    async fn describe_security_groups(&self, filters: &Filters)
    -> Result<Vec<GroupInfo>, Ec2Error>;
    /// AuthorizeSecurityGroupIngress: TCP `port` from `cidrs`.
    async fn authorize_ingress(
        &self,
        group_id: &str,
        port: u16,
        cidrs: &[String],
    ) -> Result<(), Ec2Error>;
    async fn delete_security_group(&self, id: &str) -> Result<(), Ec2Error>;

    // Network.
    /// DescribeSubnets of one id: the VPC it is in.
    async fn subnet_vpc(&self, subnet_id: &str) -> Result<Option<String>, Ec2Error>;
    /// DescribeVpcs of one id, or of the default VPC with None.
    async fn describe_vpc(&self, vpc_id: Option<&str>) -> Result<Option<VpcInfo>, Ec2Error>;

    /// DescribeVpcs by filters.
    async fn describe_vpcs(&self, filters: &Filters) -> Result<Vec<VpcInfo>, Ec2Error>;
    /// DescribeSubnets by filters (`subnet-id`, `vpc-id`, `tag:KEY`...).
    async fn describe_subnets(&self, filters: &Filters) -> Result<Vec<SubnetInfo>, Ec2Error>;

    /// ModifyImageAttribute: `ImdsSupport` (only `v2.0` can be set).
    async fn modify_image_imds_support(&self, id: &str, value: &str) -> Result<(), Ec2Error>;

    // Tags.
    async fn create_tags(&self, ids: &[String], tags: &Tags) -> Result<(), Ec2Error>;
    async fn delete_tags(&self, ids: &[String], keys: &[String]) -> Result<(), Ec2Error>;
    /// DescribeTags of one key, every page: which resources of any type
    /// carry it, and its value on each.
    async fn describe_tags_with_key(&self, key: &str) -> Result<Vec<TagInfo>, Ec2Error>;
}
