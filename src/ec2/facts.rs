//! Facts about an account that do not change between bakes (which VPC a
//! subnet is in, the default VPC and its CIDR), remembered for a day in a
//! small JSON file beside the leftover journal, so each bake does not ask
//! EC2 again. A fact that turns out stale is forgotten by its user and asked
//! anew.

use super::stored::Stored;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEEP: Duration = Duration::from_secs(24 * 3600);

/// One fact and when it was learned (seconds since the epoch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub at: u64,
    pub value: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Facts(Stored<Fact>);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn fresh(f: &Fact, now: u64) -> bool {
    now.saturating_sub(f.at) < KEEP.as_secs()
}

impl Facts {
    pub fn at(file: Option<PathBuf>) -> Facts {
        Facts(Stored::at(file))
    }

    /// The fact, if learned within the last day.
    pub async fn get(&self, key: &str) -> Option<Vec<String>> {
        let f = self.0.get(key).await?;
        fresh(&f, now()).then_some(f.value)
    }

    /// The fact, if learned less than `max` ago.
    pub async fn within(&self, key: &str, max: Duration) -> Option<Vec<String>> {
        let f = self.0.get(key).await?;
        (now().saturating_sub(f.at) < max.as_secs()).then_some(f.value)
    }

    /// The facts learned for one region within the last day: they travel
    /// with the resource's state, so a fresh machine does not ask again.
    pub async fn learned_for(&self, region: &str) -> BTreeMap<String, Fact> {
        let at = now();
        self.0
            .with_prefix(&format!("{region}|"))
            .await
            .into_iter()
            .filter(|(_, f)| fresh(f, at))
            .collect()
    }

    /// Takes what another machine learned where nothing is known here; a
    /// stale or future-dated fact is dropped.
    pub async fn absorb(&self, learned: BTreeMap<String, Fact>) {
        let at = now();
        let learned = learned
            .into_iter()
            .filter(|(_, f)| fresh(f, at) && f.at <= at)
            .collect();
        self.0.add_missing(learned).await;
    }

    /// Remembers `value` under `key`, or forgets the key with `None`.
    pub async fn put(&self, key: &str, value: Option<Vec<String>>) {
        self.0
            .update(|map| {
                let at = now();
                map.retain(|_, f| fresh(f, at));
                match value {
                    Some(value) => map.insert(key.to_string(), Fact { at, value }),
                    None => map.remove(key),
                };
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remembers_across_processes_and_forgets_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("facts.json");
        let a = Facts::at(Some(file.clone()));
        assert_eq!(a.get("vpc").await, None);
        a.put("vpc", Some(vec!["vpc-1".into(), "10.0.0.0/16".into()]))
            .await;
        let b = Facts::at(Some(file.clone()));
        assert_eq!(
            b.get("vpc").await,
            Some(vec!["vpc-1".to_string(), "10.0.0.0/16".to_string()])
        );
        b.put("vpc", None).await;
        assert_eq!(Facts::at(Some(file)).get("vpc").await, None);
    }

    #[tokio::test]
    async fn what_one_machine_learned_seeds_another() {
        let here = Facts::at(None);
        here.put(
            "r1|e||vpc of default",
            Some(vec!["vpc-1".into(), "10.0.0.0/16".into()]),
        )
        .await;
        here.put(
            "r2|e||vpc of default",
            Some(vec!["vpc-2".into(), "10.2.0.0/16".into()]),
        )
        .await;
        let travelling = here.learned_for("r1").await;
        assert_eq!(travelling.len(), 1, "{travelling:?}");
        let mut stale = travelling.clone();
        stale.insert(
            "r1|e||vpc of subnet-x".into(),
            Fact {
                at: 1,
                value: vec!["vpc-old".into(), "10.9.0.0/16".into()],
            },
        );
        let fresh_machine = Facts::at(None);
        fresh_machine.absorb(stale).await;
        assert_eq!(
            fresh_machine.get("r1|e||vpc of default").await,
            Some(vec!["vpc-1".to_string(), "10.0.0.0/16".to_string()])
        );
        assert_eq!(fresh_machine.get("r1|e||vpc of subnet-x").await, None);
    }
}
