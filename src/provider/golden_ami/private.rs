//! What the resource keeps in Terraform's private state: facts about the
//! object that are no attribute, carried from one operation to the next.

use crate::ec2::facts::Fact;
use crate::ec2::pace::Window;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Private {
    /// Made by `terraform import` and not applied since: its inputs are
    /// unknown, so the plan adopts the configuration instead of reading every
    /// configured attribute as a change.
    #[serde(default, skip_serializing_if = "is_false")]
    pub imported: bool,
    /// Refresh found the image deregistered out of band: the next plan
    /// replaces it, and the replacement deletes the snapshots it left.
    #[serde(default, skip_serializing_if = "is_false")]
    pub image_gone: bool,
    /// How long this image's build instance type took to change state, as
    /// learned by the bakes: Terraform keeps it wherever it keeps the state,
    /// so the next bake on any machine waits as a warm one would.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub learned: BTreeMap<String, Window>,
    /// Account facts the bake used (the VPC it launched in), for the same
    /// reason: a fresh machine need not ask EC2 for them again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, Fact>,
    /// This stack's holder id (`ec2::holders`): made by the first create and
    /// carried across rebakes, so the images this resource keeps are known
    /// as its own from any machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Private {
    /// Reads what an earlier operation kept; anything unreadable (or the
    /// empty bytes of a resource that has none) reads as nothing kept.
    pub fn read(bytes: &[u8]) -> Private {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub fn bytes(&self) -> Vec<u8> {
        if *self == Private::default() {
            return Vec::new();
        }
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::Private;

    #[test]
    fn round_trips_and_reads_nothing_from_nothing() {
        assert_eq!(Private::read(b""), Private::default());
        assert_eq!(Private::read(b"garbage"), Private::default());
        assert!(Private::default().bytes().is_empty());
        let p = Private {
            imported: true,
            ..Private::default()
        };
        assert_eq!(p.bytes(), br#"{"imported":true}"#);
        assert_eq!(Private::read(&p.bytes()), p);
    }
}
