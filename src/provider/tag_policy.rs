//! `default_tags` and `ignore_tags`: what a created resource carries, and
//! what a refresh shows of what EC2 reports. The one place default tags
//! meet a resource's own.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct TagPolicy {
    pub defaults: BTreeMap<String, String>,
    pub ignore_keys: Vec<String>,
    pub ignore_prefixes: Vec<String>,
}

impl TagPolicy {
    /// The tags to put on a created resource: the defaults, then its own
    /// (which win on the same key).
    pub fn merged(&self, own: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut all = self.defaults.clone();
        all.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    pub fn ignores(&self, key: &str) -> bool {
        self.ignore_keys.iter().any(|k| k == key)
            || self
                .ignore_prefixes
                .iter()
                .any(|p| key.starts_with(p.as_str()))
    }

    /// What a refresh records of the tags EC2 reports, given the configured
    /// ones: ignored keys are left out, and so is a default tag with its
    /// default value unless the resource sets that key itself (as the AWS
    /// provider's `tags` does). A default tag changed outside Terraform
    /// stays, so it shows as drift.
    pub fn shown(
        &self,
        seen: &BTreeMap<String, String>,
        configured: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        seen.iter()
            .filter(|(k, v)| {
                !self.ignores(k)
                    && (configured.contains_key(*k) || self.defaults.get(*k) != Some(*v))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn policy() -> TagPolicy {
        TagPolicy {
            defaults: map(&[("team", "infra"), ("env", "prod")]),
            ignore_keys: vec!["owner".into()],
            ignore_prefixes: vec!["kubernetes.io/".into()],
        }
    }

    #[test]
    fn own_tags_win_over_defaults() {
        let all = policy().merged(&map(&[("env", "dev"), ("app", "web")]));
        assert_eq!(
            all,
            map(&[("team", "infra"), ("env", "dev"), ("app", "web")])
        );
    }

    #[test]
    fn refresh_hides_ignored_and_default_tags() {
        let seen = map(&[
            ("team", "infra"),
            ("env", "dev"),
            ("app", "web"),
            ("owner", "someone"),
            ("kubernetes.io/cluster/x", "owned"),
        ]);
        let configured = map(&[("env", "dev"), ("app", "web")]);
        assert_eq!(policy().shown(&seen, &configured), configured);
    }

    #[test]
    fn a_default_tag_changed_outside_shows_as_drift() {
        let seen = map(&[("team", "someone-else"), ("app", "web")]);
        let configured = map(&[("app", "web")]);
        assert_eq!(policy().shown(&seen, &configured), seen);
    }

    #[test]
    fn a_default_key_the_resource_sets_itself_stays() {
        let seen = map(&[("team", "infra")]);
        let configured = map(&[("team", "infra")]);
        assert_eq!(policy().shown(&seen, &configured), configured);
    }
}
