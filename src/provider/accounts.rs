//! `allowed_account_ids` / `forbidden_account_ids`: the account the
//! credentials belong to, asked of STS once, before anything is made.

use crate::protocol::diag::{AttrPath, Diagnostic};
use crate::sts::StsApi;

#[derive(Debug, Clone, Default)]
pub struct AccountRule {
    pub allowed: Vec<String>,
    pub forbidden: Vec<String>,
}

impl AccountRule {
    /// Whether there is anything to check (no STS call otherwise).
    pub fn is_set(&self) -> bool {
        !self.allowed.is_empty() || !self.forbidden.is_empty()
    }

    /// The verdict on `account`.
    pub fn judge(&self, account: &str) -> Result<(), Diagnostic> {
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a == account) {
            return Err(Diagnostic::error(
                "AWS account not allowed",
                format!(
                    "The credentials belong to account {account}, which is not in allowed_account_ids ({}). Nothing was changed.",
                    self.allowed.join(", ")
                ),
            )
            .at(AttrPath::root("allowed_account_ids")));
        }
        if self.forbidden.iter().any(|a| a == account) {
            return Err(Diagnostic::error(
                "AWS account forbidden",
                format!(
                    "The credentials belong to account {account}, which is in forbidden_account_ids. Nothing was changed."
                ),
            )
            .at(AttrPath::root("forbidden_account_ids")));
        }
        Ok(())
    }

    /// Asks STS who the credentials are and judges the account.
    pub async fn check(&self, sts: &dyn StsApi) -> Result<(), Diagnostic> {
        if !self.is_set() {
            return Ok(());
        }
        let who = sts.get_caller_identity().await.map_err(|e| {
            Diagnostic::error(
                "Cannot tell which AWS account the credentials belong to",
                format!(
                    "allowed_account_ids / forbidden_account_ids need STS GetCallerIdentity: {e}"
                ),
            )
        })?;
        tracing::debug!(account = %who.account, arn = %who.arn, "caller identity");
        self.judge(&who.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allowed: &[&str], forbidden: &[&str]) -> AccountRule {
        AccountRule {
            allowed: allowed.iter().map(|s| s.to_string()).collect(),
            forbidden: forbidden.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn allowed_accounts_admit_only_themselves() {
        let r = rule(&["111111111111"], &[]);
        assert!(r.judge("111111111111").is_ok());
        let e = r.judge("222222222222").unwrap_err();
        assert!(e.detail.contains("222222222222"), "{}", e.detail);
        assert_eq!(
            e.path.map(|p| p.to_string()).as_deref(),
            Some("allowed_account_ids")
        );
    }

    #[test]
    fn forbidden_accounts_are_refused() {
        let r = rule(&[], &["111111111111"]);
        assert!(r.judge("222222222222").is_ok());
        let e = r.judge("111111111111").unwrap_err();
        assert_eq!(
            e.path.map(|p| p.to_string()).as_deref(),
            Some("forbidden_account_ids")
        );
    }

    #[test]
    fn no_guard_asks_nothing() {
        #[derive(Debug)]
        struct Unreachable;
        #[async_trait::async_trait]
        impl StsApi for Unreachable {
            async fn get_caller_identity(
                &self,
            ) -> Result<crate::sts::Identity, crate::sts::StsError> {
                panic!("STS called without an account guard")
            }
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(rt.block_on(rule(&[], &[]).check(&Unreachable)).is_ok());
    }
}
