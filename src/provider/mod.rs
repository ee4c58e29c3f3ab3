//! The Terraform face, protocol-neutral: provider configuration and the
//! resource types, working on [`Value`]s and returning [`Diagnostics`].

mod accounts;
mod config;
mod context;
pub mod data_ami;
mod duration;
pub mod golden_ami;
pub mod golden_channel;
pub mod schema;
mod tag_policy;

use crate::protocol::diag::{Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use config::ProviderConfig;
pub use context::{Configured, Lifecycle, PlanOutcome, StateOutcome};
use schema::Schema;
use std::sync::Arc;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub struct Provider {
    configured: RwLock<Option<Arc<Configured>>>,
    /// Cancelled by StopProvider: every in-flight bake cleans up and returns.
    stop: CancellationToken,
    /// In-flight bakes, so shutdown can wait for their cleanup.
    tasks: TaskTracker,
    /// Set when Terraform went away: nobody will record a finished image.
    abandoned: Arc<std::sync::atomic::AtomicBool>,
    /// The sweep started with the plugin, which configure waits for instead of
    /// sweeping the same entries a second time.
    startup_sweep: std::sync::Mutex<Option<tokio::task::JoinHandle<Vec<String>>>>,
    /// Set once this process started its sweep of expired leftovers.
    expiry_swept: std::sync::atomic::AtomicBool,
    /// Whether this Terraform keeps write-only values out of state (1.11+).
    write_only_allowed: std::sync::atomic::AtomicBool,
}

impl Default for Provider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider {
    pub fn new() -> Provider {
        Provider {
            configured: RwLock::new(None),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            abandoned: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            startup_sweep: std::sync::Mutex::new(None),
            expiry_swept: std::sync::atomic::AtomicBool::new(false),
            write_only_allowed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn lifecycle(&self) -> Lifecycle<'_> {
        Lifecycle {
            stop: &self.stop,
            tasks: &self.tasks,
            abandoned: &self.abandoned,
        }
    }

    pub fn schema() -> Schema {
        config::schema()
    }

    pub fn resource_types() -> Vec<&'static str> {
        Resource::ALL.iter().map(|r| r.name()).collect()
    }

    pub fn resource_schema(type_name: &str) -> Option<Schema> {
        Resource::named(type_name).ok().map(Resource::schema)
    }

    /// The data sources, beside the resource types.
    pub fn data_source_types() -> Vec<&'static str> {
        vec![data_ami::TYPE_NAME]
    }

    pub fn data_source_schema(type_name: &str) -> Option<Schema> {
        (type_name == data_ami::TYPE_NAME).then(data_ami::schema)
    }

    fn unknown_data_source(type_name: &str) -> Diagnostic {
        Diagnostic::error(
            "Unknown data source",
            format!("This provider has no data source {type_name:?}."),
        )
    }

    pub fn validate_data_source(&self, type_name: &str, cfg: &Value) -> Diagnostics {
        match type_name {
            data_ami::TYPE_NAME => data_ami::validate(cfg),
            _ => Self::unknown_data_source(type_name).into(),
        }
    }

    pub async fn read_data_source(&self, type_name: &str, config: Value) -> StateOutcome {
        if type_name != data_ami::TYPE_NAME {
            return StateOutcome::err(config, Self::unknown_data_source(type_name));
        }
        match self.client().await {
            Ok(c) => data_ami::read(&c, config).await,
            Err(d) => StateOutcome::err(config, d),
        }
    }

    pub fn stop(&self) {
        tracing::info!("stop requested: cancelling in-flight bakes");
        self.stop.cancel();
    }

    /// Terraform is gone (killed): cancel everything, and keep no image,
    /// since no state will record it.
    pub fn abandon(&self) {
        self.abandoned
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.stop();
    }

    /// Starts the start-up sweep of interrupted bakes' leftovers, tracked so
    /// a shutdown waits for it.
    pub fn sweep_in_background(&self) {
        let handle = self.tasks.spawn(crate::bake::leftovers::sweep_orphans());
        *self.startup_sweep.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    }

    /// Starts, once per process, the sweep of expired temporary resources
    /// (`ec2::expiry`): in the background, so no request waits for it, and
    /// tracked, so the process ends only once it is done (or killed: what
    /// remains is the next run's). Terraform's stop does not end it early:
    /// it is cleanup, bounded by its own call budget.
    fn sweep_expired_in_background(&self, ec2: &crate::ec2::Ec2) {
        if self
            .expiry_swept
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let ec2 = ec2.clone();
        self.tasks.spawn(async move {
            let Some(r) = ec2
                .sweep_expired_once(
                    std::time::SystemTime::now(),
                    crate::ec2::expiry::MAX_CALLS_PER_RUN,
                )
                .await
            else {
                return;
            };
            if !r.removed.is_empty() {
                tracing::info!(removed = ?r.removed, "expired temporary resources removed");
            }
        });
    }

    /// Cancels every bake and waits, at most `limit`, for their cleanups.
    pub async fn drain(&self, limit: std::time::Duration) {
        self.stop();
        self.tasks.close();
        if tokio::time::timeout(limit, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::error!(
                pending = self.tasks.len(),
                "bakes still cleaning up at exit"
            );
        }
    }

    pub fn validate_config(&self, cfg: &Value) -> Diagnostics {
        ProviderConfig::from_value(cfg).1
    }

    pub async fn configure(
        &self,
        cfg: &Value,
        terraform_version: &str,
        write_only_allowed: bool,
    ) -> Diagnostics {
        self.write_only_allowed
            .store(write_only_allowed, std::sync::atomic::Ordering::SeqCst);
        let (pc, mut diags) = ProviderConfig::from_value(cfg);
        if diags.has_errors() {
            return diags;
        }
        tracing::debug!(terraform_version, "configuring");
        // Settings that depend on resources not yet created: plan with unknowns,
        // Terraform configures again with known values before applying.
        let Some(pc) = pc else {
            tracing::info!("provider settings not known yet; planning without EC2");
            return diags;
        };
        match pc.connect().await {
            Ok(c) => {
                // Leftovers of bakes whose process was killed, found through the journal:
                // what the start-up sweep removed, then (with this provider's own
                // credentials) whatever it could not. The journal keeps them apart.
                let startup = self
                    .startup_sweep
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                let limit = std::time::Duration::from_secs(120);
                let mut removed = match startup {
                    Some(h) => tokio::time::timeout(limit, h)
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                removed.extend(
                    tokio::time::timeout(limit, crate::bake::leftovers::sweep(&c.ec2))
                        .await
                        .unwrap_or_default(),
                );
                if !removed.is_empty() {
                    diags.push(Diagnostic::warning(
                        "Removed what an interrupted bake left behind",
                        format!("A previous bake in this directory was killed before it could clean up; removed: {}.", removed.join(", ")),
                    ));
                }
                if pc.sweep_expired {
                    self.sweep_expired_in_background(&c.ec2);
                }
                *self.configured.write().await = Some(Arc::new(c));
            }
            Err(d) => diags.push(d),
        }
        diags
    }

    /// The configured provider, once its account guard has passed.
    async fn client(&self) -> Result<Arc<Configured>, Diagnostic> {
        let c = self.configured.read().await.clone().ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "The golden provider was used before Terraform configured it; this is a bug in Terraform or the provider.",
            )
        })?;
        c.check_account().await?;
        Ok(c)
    }

    pub fn validate_resource(&self, type_name: &str, cfg: &Value) -> Diagnostics {
        match Resource::named(type_name) {
            Ok(Resource::Ami) => golden_ami::validate(cfg),
            Ok(Resource::Channel) => golden_channel::validate(cfg),
            Err(d) => d.into(),
        }
    }

    pub fn upgrade_state(
        &self,
        type_name: &str,
        version: i64,
        raw_json: &[u8],
    ) -> (Value, Diagnostics) {
        let r = match Resource::named(type_name) {
            Ok(r) => r,
            Err(d) => return (Value::Null, d.into()),
        };
        let (mut state, diags) = match r {
            Resource::Ami => golden_ami::upgrade_state(version, raw_json),
            Resource::Channel => golden_channel::upgrade_state(version, raw_json),
        };
        // A state written by a Terraform older than 1.11 holds write-only values,
        // which 1.11+ refuses to read back.
        if self
            .write_only_allowed
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            r.schema().block.null_write_only(&mut state);
        }
        (state, diags)
    }

    pub async fn read(&self, type_name: &str, state: Value, private: Vec<u8>) -> StateOutcome {
        let r = match Resource::named(type_name) {
            Ok(r) => r,
            Err(d) => return StateOutcome::err(state, d),
        };
        match (self.client().await, r) {
            (Ok(c), Resource::Ami) => golden_ami::read(&c, state, private).await,
            (Ok(c), Resource::Channel) => golden_channel::read(&c, state, private).await,
            (Err(d), _) => StateOutcome::err(state, d),
        }
    }

    pub async fn plan(
        &self,
        type_name: &str,
        prior: Value,
        proposed: Value,
        config: Value,
        private: Vec<u8>,
        write_only_allowed: bool,
    ) -> PlanOutcome {
        let r = match Resource::named(type_name) {
            Ok(r) => r,
            Err(d) => {
                return PlanOutcome {
                    planned: proposed,
                    requires_replace: vec![],
                    private,
                    diags: d.into(),
                };
            }
        };
        // Unconfigured (settings not known yet) plans without EC2; a refused
        // account stops the plan before anything is looked up or made.
        let client = match self.client().await {
            Ok(c) => Some(c),
            Err(d) if self.configured.read().await.is_some() => {
                return PlanOutcome {
                    planned: proposed,
                    requires_replace: vec![],
                    private,
                    diags: d.into(),
                };
            }
            Err(_) => None,
        };
        match r {
            Resource::Ami => {
                golden_ami::plan(
                    client.as_deref(),
                    prior,
                    proposed,
                    config,
                    private,
                    write_only_allowed,
                )
                .await
            }
            Resource::Channel => {
                golden_channel::plan(client.as_deref(), prior, proposed, config, private).await
            }
        }
    }

    pub async fn apply(
        &self,
        type_name: &str,
        prior: Value,
        planned: Value,
        config: Value,
        private: Vec<u8>,
    ) -> StateOutcome {
        let r = match Resource::named(type_name) {
            Ok(r) => r,
            Err(d) => return StateOutcome::err(prior, d),
        };
        match (self.client().await, r) {
            (Ok(c), Resource::Ami) => {
                golden_ami::apply(&c, self.lifecycle(), prior, planned, config, private).await
            }
            (Ok(c), Resource::Channel) => golden_channel::apply(&c, prior, planned).await,
            (Err(d), _) => StateOutcome::err(prior, d),
        }
    }

    pub async fn import(&self, type_name: &str, id: &str) -> StateOutcome {
        let r = match Resource::named(type_name) {
            Ok(r) => r,
            Err(d) => return StateOutcome::err(Value::Null, d),
        };
        match (self.client().await, r) {
            (Ok(c), Resource::Ami) => golden_ami::import(&c, id).await,
            (Ok(c), Resource::Channel) => golden_channel::import(&c, id).await,
            (Err(d), _) => StateOutcome::err(Value::Null, d),
        }
    }
}

/// The resource types this provider serves: each operation above looks
/// its type up here once and dispatches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Ami,
    Channel,
}

impl Resource {
    const ALL: [Resource; 2] = [Resource::Ami, Resource::Channel];

    fn name(self) -> &'static str {
        match self {
            Resource::Ami => golden_ami::TYPE_NAME,
            Resource::Channel => golden_channel::TYPE_NAME,
        }
    }

    fn schema(self) -> Schema {
        match self {
            Resource::Ami => golden_ami::schema(),
            Resource::Channel => golden_channel::schema(),
        }
    }

    fn named(type_name: &str) -> Result<Resource, Diagnostic> {
        Resource::ALL
            .into_iter()
            .find(|r| r.name() == type_name)
            .ok_or_else(|| {
                Diagnostic::error(
                    "Unknown resource type",
                    format!("This provider has no resource type {type_name:?}."),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::Provider;
    use crate::protocol::value::Value;

    /// Every type in the table has a schema and dispatches to its own rules;
    /// any other type is refused by name in every operation.
    #[tokio::test]
    async fn resource_types_dispatch_through_one_table() {
        assert_eq!(
            Provider::resource_types(),
            vec!["golden_ami", "golden_channel"]
        );
        for t in Provider::resource_types() {
            assert!(Provider::resource_schema(t).is_some(), "{t}");
        }
        assert!(Provider::resource_schema("golden_nope").is_none());
        let p = Provider::new();
        let cfg = Value::decode_json(br#"{"name":"web prod","ami_id":"ami-0123abcd"}"#).unwrap();
        let d = p.validate_resource("golden_channel", &cfg);
        assert_eq!(d.0.len(), 1);
        assert_eq!(d.0[0].summary, "Invalid name");
        let unknown = |d: &crate::protocol::diag::Diagnostics| {
            d.0.iter()
                .any(|d| d.summary == "Unknown resource type" && d.detail.contains("golden_nope"))
        };
        assert!(unknown(&p.validate_resource("golden_nope", &cfg)));
        assert!(unknown(&p.upgrade_state("golden_nope", 0, b"{}").1));
        assert!(unknown(
            &p.read("golden_nope", Value::Null, vec![]).await.diags
        ));
        assert!(unknown(&p.import("golden_nope", "x").await.diags));
        let planned = p
            .plan(
                "golden_nope",
                Value::Null,
                cfg.clone(),
                cfg.clone(),
                vec![],
                false,
            )
            .await;
        assert!(unknown(&planned.diags));
        assert!(unknown(
            &p.apply("golden_nope", Value::Null, cfg.clone(), cfg, vec![])
                .await
                .diags
        ));
    }
}
