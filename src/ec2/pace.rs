//! Learned transition times. An instance of a given type in a given region
//! takes about as long to start, stop or terminate as it did last time, and an
//! image about as long to become available; so a wait first looks when the
//! change is due, instead of polling blindly from zero. That keeps both the
//! delay before a change is noticed and the number of calls small. What was
//! learned is kept in a small JSON file beside the leftover journal, so the
//! next `terraform apply` in the same directory starts informed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Learned durations, in seconds, by "region/instance type/transition".
#[derive(Debug, Default)]
pub struct Pacer {
    file: Option<PathBuf>,
    learned: Mutex<Option<HashMap<String, f64>>>,
}

/// Names one transition for the pacer.
pub struct Pace<'a> {
    pub pacer: &'a Pacer,
    pub key: String,
}

/// How far below its last sighting an estimate moves when the first look
/// already found the change done: the change may have come much earlier, and
/// one look too early costs a call, while one too late costs the whole gap.
const PROBE_DOWN: f64 = 0.9;
/// Estimates beyond this are not trusted: a first look at half the estimate
/// bounds the delay when this run is much faster than the last.
pub const LONG: Duration = Duration::from_secs(20);

impl Pacer {
    pub fn at(file: Option<PathBuf>) -> Pacer {
        Pacer {
            file,
            learned: Mutex::new(None),
        }
    }

    pub fn pace(&self, region: &str, instance_type: &str, transition: &str) -> Pace<'_> {
        Pace {
            pacer: self,
            key: format!("{region}/{instance_type}/{transition}"),
        }
    }

    async fn load(&self) {
        if self.learned.lock().map(|l| l.is_some()).unwrap_or(true) {
            return;
        }
        let map = match &self.file {
            Some(f) => tokio::fs::read(f)
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<HashMap<String, f64>>(&b).ok())
                .unwrap_or_default(),
            None => HashMap::new(),
        };
        if let Ok(mut l) = self.learned.lock() {
            l.get_or_insert(map);
        }
    }

    /// When the transition is due, if it was seen before.
    pub async fn expected(&self, key: &str) -> Option<Duration> {
        self.load().await;
        let secs = self.learned.lock().ok()?.as_ref()?.get(key).copied()?;
        (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
    }

    /// Learns from one wait: the change happened after the last look that
    /// found it pending and no later than the look that found it done.
    pub async fn record(&self, key: &str, last_pending: Option<Duration>, done: Duration) {
        self.load().await;
        let estimate = match last_pending {
            Some(p) => (p.as_secs_f64() + done.as_secs_f64()) / 2.0,
            None => done.as_secs_f64() * PROBE_DOWN,
        };
        let snapshot = {
            let Ok(mut l) = self.learned.lock() else {
                return;
            };
            let map = l.get_or_insert_with(HashMap::new);
            map.insert(key.to_string(), estimate);
            map.clone()
        };
        tracing::debug!(key, estimate_s = estimate, "transition time learned");
        if let Some(f) = &self.file {
            save_json(f, &snapshot).await;
        }
    }
}

/// Written whole to a temporary file and renamed over, so concurrent bakes
/// and a crash never leave half a file. A failure only costs the learning.
pub(crate) async fn save_json<T: serde::Serialize>(file: &PathBuf, value: &T) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn learns_the_midpoint_and_probes_down_when_first_look_is_late() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("timings.json");
        let p = Pacer::at(Some(file.clone()));
        assert_eq!(p.expected("r/t/run").await, None);
        p.record(
            "r/t/run",
            Some(Duration::from_secs(4)),
            Duration::from_secs(6),
        )
        .await;
        assert_eq!(p.expected("r/t/run").await, Some(Duration::from_secs(5)));
        p.record("r/t/run", None, Duration::from_secs(5)).await;
        let e = p.expected("r/t/run").await.unwrap().as_secs_f64();
        assert!((e - 4.5).abs() < 1e-9, "{e}");
        // A new process in the same directory starts from what was learned.
        let again = Pacer::at(Some(file));
        let e2 = again.expected("r/t/run").await.unwrap().as_secs_f64();
        assert!((e2 - 4.5).abs() < 1e-9, "{e2}");
    }

    #[tokio::test]
    async fn a_damaged_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("timings.json");
        std::fs::write(&file, b"{not json").unwrap();
        let p = Pacer::at(Some(file));
        assert_eq!(p.expected("r/t/stop").await, None);
        p.record("r/t/stop", None, Duration::from_secs(1)).await;
        assert!(p.expected("r/t/stop").await.is_some());
    }
}
