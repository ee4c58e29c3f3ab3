//! Facts about an account that do not change between bakes (which VPC a
//! subnet is in, the default VPC and its CIDR), remembered for a day in a
//! small JSON file beside the leftover journal, so each bake does not ask
//! EC2 again. A fact that turns out stale is forgotten by its user and asked
//! anew.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEEP: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Fact {
    at: u64,
    value: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Facts {
    file: Option<PathBuf>,
    known: Mutex<Option<HashMap<String, Fact>>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Facts {
    pub fn at(file: Option<PathBuf>) -> Facts {
        Facts {
            file,
            known: Mutex::new(None),
        }
    }

    async fn load(&self) {
        if self.known.lock().map(|k| k.is_some()).unwrap_or(true) {
            return;
        }
        let map = match &self.file {
            Some(f) => tokio::fs::read(f)
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<HashMap<String, Fact>>(&b).ok())
                .unwrap_or_default(),
            None => HashMap::new(),
        };
        if let Ok(mut k) = self.known.lock() {
            k.get_or_insert(map);
        }
    }

    /// The fact, if learned within the last day.
    pub async fn get(&self, key: &str) -> Option<Vec<String>> {
        self.load().await;
        let k = self.known.lock().ok()?;
        let f = k.as_ref()?.get(key)?;
        (now().saturating_sub(f.at) < KEEP.as_secs()).then(|| f.value.clone())
    }

    pub async fn put(&self, key: &str, value: Option<Vec<String>>) {
        self.load().await;
        let snapshot = {
            let Ok(mut k) = self.known.lock() else {
                return;
            };
            let map = k.get_or_insert_with(HashMap::new);
            let at = now();
            map.retain(|_, f| at.saturating_sub(f.at) < KEEP.as_secs());
            match value {
                Some(value) => map.insert(key.to_string(), Fact { at, value }),
                None => map.remove(key),
            };
            map.clone()
        };
        if let Some(f) = &self.file {
            crate::ec2::pace::save_json(f, &snapshot).await;
        }
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
}
