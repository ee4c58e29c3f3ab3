//! A small map kept in a JSON file, read on first use and rewritten whole on
//! each change: what `pace` learns and what `facts` remembers outlive the
//! provider process this way. Losing or damaging the file only costs what it
//! held.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Debug)]
pub struct Stored<V> {
    file: Option<PathBuf>,
    map: Mutex<Option<HashMap<String, V>>>,
}

/// In memory only.
impl<V> Default for Stored<V> {
    fn default() -> Self {
        Stored {
            file: None,
            map: Mutex::new(None),
        }
    }
}

impl<V: Clone + Serialize + DeserializeOwned> Stored<V> {
    /// Kept in `file`, or only in memory without one.
    pub fn at(file: Option<PathBuf>) -> Stored<V> {
        Stored {
            file,
            map: Mutex::new(None),
        }
    }

    async fn load(&self) {
        if self.map.lock().map(|m| m.is_some()).unwrap_or(true) {
            return;
        }
        let read = match &self.file {
            Some(f) => tokio::fs::read(f)
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<HashMap<String, V>>(&b).ok())
                .unwrap_or_default(),
            None => HashMap::new(),
        };
        if let Ok(mut m) = self.map.lock() {
            m.get_or_insert(read);
        }
    }

    pub async fn get(&self, key: &str) -> Option<V> {
        self.load().await;
        self.map.lock().ok()?.as_ref()?.get(key).cloned()
    }

    /// The entries whose key starts with `prefix`.
    pub async fn with_prefix(&self, prefix: &str) -> BTreeMap<String, V> {
        self.load().await;
        let Ok(m) = self.map.lock() else {
            return BTreeMap::new();
        };
        m.iter()
            .flatten()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Adds the entries the map lacks (what is known here already is at
    /// least as fresh); writes only when something was added.
    pub async fn add_missing(&self, entries: BTreeMap<String, V>) {
        self.load().await;
        let fresh: Vec<(String, V)> = {
            let Ok(m) = self.map.lock() else { return };
            entries
                .into_iter()
                .filter(|(k, _)| !m.as_ref().is_some_and(|m| m.contains_key(k)))
                .collect()
        };
        if !fresh.is_empty() {
            self.update(|map| map.extend(fresh)).await;
        }
    }

    /// Changes the map with `change`, then writes it out.
    pub async fn update(&self, change: impl FnOnce(&mut HashMap<String, V>)) {
        self.load().await;
        let snapshot = {
            let Ok(mut m) = self.map.lock() else {
                return;
            };
            let map = m.get_or_insert_with(HashMap::new);
            change(map);
            map.clone()
        };
        if let Some(f) = &self.file {
            save(f, &snapshot).await;
        }
    }
}

/// Written whole to a temporary file and renamed over, so concurrent bakes
/// and a crash never leave half a file. A failure only costs the memory.
async fn save<T: Serialize>(file: &PathBuf, value: &T) {
    let Ok(body) = serde_json::to_vec(value) else {
        return;
    };
    let tmp = file.with_extension(format!("json.{}.tmp", rand::random::<u32>()));
    let r = async {
        if let Some(dir) = file.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::write(&tmp, body).await?;
        tokio::fs::rename(&tmp, file).await
    }
    .await;
    if let Err(e) = r {
        tracing::debug!(file = %file.display(), error = %e, "could not save what was learned");
        let _ = tokio::fs::remove_file(&tmp).await;
    }
}
