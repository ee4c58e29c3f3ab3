//! The golden_ami data source, each attribute defined once: the selectors
//! (exactly one of `channel`, `input_digest`, `name`/`name_prefix`), what
//! refines them, and what is read back from the image found.

use crate::define_block;
use crate::provider::schema::{BlockDef, Schema};
use std::collections::BTreeMap;

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: DataAmi::block(),
    }
}

define_block! {
    /// A golden_ami data source object: configuration or state.
    pub struct DataAmi: "Finds an image baked by this provider's `golden_ami` resource (in any stack), so other stacks can launch it without reading the baking stack's state. Set exactly one of `channel`, `input_digest`, or `name` / `name_prefix`. A deprecated image (its deprecation time has passed) or a revoked one (disabled in EC2) is never returned unless `include_deprecated = true`; images not made by this provider (no `golden:build-id` tag) never are. No match, or several with `most_recent = false`, fails the plan and says what was searched." {
        pub channel: Option<String> => optional("Name of a channel (e.g. `web/prod`): the image the channel's SSM parameter (`channel_path_prefix` + name) points at in the searched region.")
            .check(Check::SsmRelativeName),
        pub channel_version: Option<i64> => optional("With `channel`: the parameter version to read (an earlier promotion, for a rollback); default: the latest.")
            .check(Check::Whole { min: 1, max: 100_000, what: "a parameter version" }),
        pub input_digest: Option<String> => optional_computed("Finds the image baked from exactly these inputs (the `input_digest` of a `golden_ami`); read back from the image found otherwise."),
        pub name: Option<String> => optional_computed("Finds the image with exactly this name; read back from the image found otherwise.")
            .check(Check::AmiName { min: 3, max: 128 }),
        pub name_prefix: Option<String> => optional("Finds images whose name starts with this prefix (a `golden_ami`'s `name_prefix`).")
            .check(Check::AmiName { min: 1, max: 128 }),
        pub tags: BTreeMap<String, String> => optional_computed("With `input_digest`, `name` or `name_prefix`: only images carrying each of these tags with exactly this value. Read back: the image's tags but the provider's own `golden:*`."),
        pub most_recent: bool => optional("With `input_digest`, `name` or `name_prefix`: when several images match, take the newest; `false` makes several matches an error that lists them.")
            .default(true),
        pub include_deprecated: bool => optional("Also consider images whose deprecation time has passed and revoked (disabled) ones.")
            .default(false),
        pub region: Option<String> => optional_computed("Region to search; default: the provider's."),
        pub id: Option<String> => computed("The AMI id, in `region`."),
        pub creation_date: Option<String> => computed("When EC2 created the image."),
        pub source_ami_id: Option<String> => computed("The AMI the image was baked from."),
        pub build_id: Option<String> => computed("Id of the bake that made the image (its `golden:build-id` tag)."),
        pub snapshot_ids: Vec<String> => computed("EBS snapshots backing the image."),
        pub region_ami_ids: BTreeMap<String, String> => computed("The image's id in each region it was copied to (its `golden:copy-regions` tag), `region` included: region → AMI id."),
        pub deprecation_time: Option<String> => computed("When EC2 deprecates (or deprecated) the image, as EC2 shows it; null when never."),
    }
}
