//! An in-memory STS for unit tests: answers with a fixed account and
//! counts the calls.

use super::api::{Identity, StsApi, StsError};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Default)]
pub struct FakeSts {
    pub account: String,
    pub calls: AtomicUsize,
}

impl FakeSts {
    pub fn new(account: &str) -> FakeSts {
        FakeSts {
            account: account.into(),
            calls: AtomicUsize::new(0),
        }
    }
}

#[async_trait::async_trait]
impl StsApi for FakeSts {
    async fn get_caller_identity(&self) -> Result<Identity, StsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Identity {
            account: self.account.clone(),
            arn: format!("arn:aws:iam::{}:user/fake", self.account),
        })
    }
}
