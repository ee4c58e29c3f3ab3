//! An in-memory Parameter Store for unit tests: every region of one
//! account in one store (`in_region` gives another region's view), the
//! versions SSM would keep, the calls counted, and a fault knob.

use super::api::{Parameter, SsmApi, SsmError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

type Store = BTreeMap<(String, String), Vec<Parameter>>;

#[derive(Debug, Clone, Default)]
pub struct FakeSsm {
    pub region: String,
    store: Arc<Mutex<Store>>,
    /// "Action" → how many calls, over all regions.
    calls: Arc<Mutex<BTreeMap<&'static str, usize>>>,
    /// Actions that fail with this code (e.g. "PutParameter" → "AccessDeniedException").
    faults: Arc<Mutex<BTreeMap<&'static str, String>>>,
}

impl FakeSsm {
    pub fn new(region: &str) -> FakeSsm {
        FakeSsm {
            region: region.into(),
            ..Default::default()
        }
    }

    /// The same store seen from `region`.
    pub fn in_region(&self, region: &str) -> FakeSsm {
        FakeSsm {
            region: region.into(),
            ..self.clone()
        }
    }

    pub fn calls(&self, action: &str) -> usize {
        self.calls.lock().unwrap().get(action).copied().unwrap_or(0)
    }

    pub fn fail(&self, action: &'static str, code: &str) {
        self.faults.lock().unwrap().insert(action, code.into());
    }

    /// Every version of `name` in this region, oldest first.
    pub fn versions(&self, name: &str) -> Vec<Parameter> {
        self.store
            .lock()
            .unwrap()
            .get(&(self.region.clone(), name.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// Names of the parameters in this region.
    pub fn names(&self) -> Vec<String> {
        self.store
            .lock()
            .unwrap()
            .keys()
            .filter(|(r, _)| *r == self.region)
            .map(|(_, n)| n.clone())
            .collect()
    }

    fn enter(&self, action: &'static str) -> Result<(), SsmError> {
        *self.calls.lock().unwrap().entry(action).or_default() += 1;
        match self.faults.lock().unwrap().get(action) {
            Some(code) => Err(SsmError {
                action,
                code: Some(code.clone()),
                message: format!("{code} (injected)"),
            }),
            None => Ok(()),
        }
    }

    fn key(&self, name: &str) -> (String, String) {
        (self.region.clone(), name.to_string())
    }
}

#[async_trait::async_trait]
impl SsmApi for FakeSsm {
    async fn put_image_parameter(
        &self,
        name: &str,
        value: &str,
        _description: &str,
    ) -> Result<i64, SsmError> {
        self.enter("PutParameter")?;
        let mut store = self.store.lock().unwrap();
        let versions = store.entry(self.key(name)).or_default();
        let version = versions.last().map_or(1, |p| p.version + 1);
        versions.push(Parameter {
            name: name.into(),
            value: value.into(),
            version,
            data_type: super::api::IMAGE_DATA_TYPE.into(),
            last_modified: Some(version),
        });
        Ok(version)
    }

    async fn get_parameter(&self, name: &str) -> Result<Option<Parameter>, SsmError> {
        self.enter("GetParameter")?;
        let (base, version) = match name.rsplit_once(':') {
            Some((b, v)) => (b, v.parse::<i64>().ok()),
            None => (name, None),
        };
        let store = self.store.lock().unwrap();
        let Some(versions) = store.get(&self.key(base)) else {
            return Ok(None);
        };
        Ok(match version {
            Some(v) => versions.iter().find(|p| p.version == v).cloned(),
            None => versions.last().cloned(),
        })
    }

    async fn get_parameter_history(&self, name: &str) -> Result<Vec<Parameter>, SsmError> {
        self.enter("GetParameterHistory")?;
        Ok(self.versions(name))
    }

    async fn delete_parameter(&self, name: &str) -> Result<bool, SsmError> {
        self.enter("DeleteParameter")?;
        Ok(self.store.lock().unwrap().remove(&self.key(name)).is_some())
    }
}

/// Shortcuts for tests: what someone did by hand, and what is there now.
impl FakeSsm {
    pub fn put_now(&self, name: &str, value: &str) {
        let mut store = self.store.lock().unwrap();
        let versions = store.entry(self.key(name)).or_default();
        let version = versions.last().map_or(1, |p| p.version + 1);
        versions.push(Parameter {
            name: name.into(),
            value: value.into(),
            version,
            data_type: super::api::IMAGE_DATA_TYPE.into(),
            last_modified: Some(version),
        });
    }

    pub fn get_parameter_now(&self, name: &str) -> Option<Parameter> {
        self.versions(name).last().cloned()
    }

    pub fn delete_now(&self, name: &str) {
        self.store.lock().unwrap().remove(&self.key(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fake keeps SSM's rules the channel relies on: versions count up
    /// per region, `name:N` reads an old one, deletes say whether anything
    /// was there.
    #[tokio::test]
    async fn versions_count_up_per_region_and_old_ones_stay_readable() {
        let home = FakeSsm::new("us-east-1");
        let other = home.in_region("eu-west-1");
        assert_eq!(
            home.put_image_parameter("/c/x", "ami-1", "").await.unwrap(),
            1
        );
        assert_eq!(
            home.put_image_parameter("/c/x", "ami-2", "").await.unwrap(),
            2
        );
        assert_eq!(
            other
                .put_image_parameter("/c/x", "ami-9", "")
                .await
                .unwrap(),
            1
        );
        let now = home.get_parameter("/c/x").await.unwrap().unwrap();
        assert_eq!((now.value.as_str(), now.version), ("ami-2", 2));
        assert_eq!(now.data_type, crate::ssm::IMAGE_DATA_TYPE);
        let first = home.get_parameter("/c/x:1").await.unwrap().unwrap();
        assert_eq!(first.value, "ami-1");
        assert_eq!(home.get_parameter("/c/x:7").await.unwrap(), None);
        assert_eq!(home.get_parameter_history("/c/x").await.unwrap().len(), 2);
        assert!(home.delete_parameter("/c/x").await.unwrap());
        assert!(!home.delete_parameter("/c/x").await.unwrap());
        assert_eq!(other.names(), vec!["/c/x".to_string()]);
        home.fail("GetParameter", "AccessDeniedException");
        let e = home.get_parameter("/c/x").await.unwrap_err();
        assert!(!e.is_not_found() && e.code.as_deref() == Some("AccessDeniedException"));
        assert_eq!(home.calls("GetParameter"), 4);
    }
}
