//! The tfplugin6 gRPC service: decodes each request, hands it to the
//! protocol-neutral provider, encodes the answer. No resource logic here.

use super::schema_pb::schema_to_pb;
use crate::protocol::diag::{Diagnostic, Diagnostics};
use crate::protocol::tfplugin6 as pb;
use crate::protocol::tfplugin6::provider_server::Provider as ProviderRpc;
use crate::protocol::value::Value;
use crate::protocol::{decode, diags_to_pb, encode, path_to_pb};
use crate::provider::Provider;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The gRPC face of [`Provider`].
pub struct ProviderService {
    provider: Arc<Provider>,
}

impl ProviderService {
    pub fn new(provider: Arc<Provider>) -> Self {
        ProviderService { provider }
    }
}

type Rpc<T> = Result<Response<T>, Status>;

/// Decodes a DynamicValue or turns the failure into a diagnostic.
fn value(dv: Option<&pb::DynamicValue>, what: &str, diags: &mut Diagnostics) -> Value {
    decode(dv).unwrap_or_else(|e| {
        diags.push(Diagnostic::error(
            format!("Cannot read the {what} sent by Terraform"),
            e.to_string(),
        ));
        Value::Null
    })
}

#[tonic::async_trait]
impl ProviderRpc for ProviderService {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Rpc<pb::get_metadata::Response> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: vec![],
            data_sources: Provider::data_source_types()
                .into_iter()
                .map(|t| pb::get_metadata::DataSourceMetadata {
                    type_name: t.to_string(),
                })
                .collect(),
            resources: Provider::resource_types()
                .into_iter()
                .map(|t| pb::get_metadata::ResourceMetadata {
                    type_name: t.to_string(),
                })
                .collect(),
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Rpc<pb::get_provider_schema::Response> {
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(schema_to_pb(&Provider::schema())),
            resource_schemas: Provider::resource_types()
                .into_iter()
                .filter_map(|t| {
                    Provider::resource_schema(t).map(|s| (t.to_string(), schema_to_pb(&s)))
                })
                .collect(),
            data_source_schemas: Provider::data_source_types()
                .into_iter()
                .filter_map(|t| {
                    Provider::data_source_schema(t).map(|s| (t.to_string(), schema_to_pb(&s)))
                })
                .collect(),
            diagnostics: vec![],
            provider_meta: None,
            server_capabilities: Some(capabilities()),
        }))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Rpc<pb::validate_provider_config::Response> {
        let mut diags = Diagnostics::default();
        let cfg = value(
            req.get_ref().config.as_ref(),
            "provider configuration",
            &mut diags,
        );
        if !diags.has_errors() {
            diags.extend(self.provider.validate_config(&cfg));
        }
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diags_to_pb(&diags),
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Rpc<pb::validate_resource_config::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::default();
        let cfg = value(req.config.as_ref(), "resource configuration", &mut diags);
        if !diags.has_errors() {
            diags.extend(self.provider.validate_resource(&req.type_name, &cfg));
        }
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: diags_to_pb(&diags),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Rpc<pb::validate_data_resource_config::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::default();
        let cfg = value(req.config.as_ref(), "data source configuration", &mut diags);
        if !diags.has_errors() {
            diags.extend(self.provider.validate_data_source(&req.type_name, &cfg));
        }
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: diags_to_pb(&diags),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let raw = req.raw_state.map(|r| r.json).unwrap_or_default();
        let (state, diags) = self
            .provider
            .upgrade_state(&req.type_name, req.version, &raw);
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: Some(encode(&state)),
            diagnostics: diags_to_pb(&diags),
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Rpc<pb::configure_provider::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::default();
        let cfg = value(req.config.as_ref(), "provider configuration", &mut diags);
        if !diags.has_errors() {
            let write_only = req
                .client_capabilities
                .is_some_and(|c| c.write_only_attributes_allowed);
            diags.extend(
                self.provider
                    .configure(&cfg, &req.terraform_version, write_only)
                    .await,
            );
        }
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diags_to_pb(&diags),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::default();
        let state = value(req.current_state.as_ref(), "current state", &mut diags);
        if diags.has_errors() {
            return Ok(Response::new(pb::read_resource::Response {
                new_state: req.current_state,
                diagnostics: diags_to_pb(&diags),
                private: req.private,
            }));
        }
        let out = self.provider.read(&req.type_name, state, req.private).await;
        Ok(Response::new(pb::read_resource::Response {
            new_state: Some(encode(&out.state)),
            diagnostics: diags_to_pb(&out.diags),
            private: out.private,
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::default();
        let prior = value(req.prior_state.as_ref(), "prior state", &mut diags);
        let proposed = value(
            req.proposed_new_state.as_ref(),
            "proposed state",
            &mut diags,
        );
        let config = value(req.config.as_ref(), "configuration", &mut diags);
        if diags.has_errors() {
            return Ok(Response::new(pb::plan_resource_change::Response {
                diagnostics: diags_to_pb(&diags),
                ..Default::default()
            }));
        }
        let write_only = req
            .client_capabilities
            .is_some_and(|c| c.write_only_attributes_allowed);
        let plan = self
            .provider
            .plan(
                &req.type_name,
                prior,
                proposed,
                config,
                req.prior_private,
                write_only,
            )
            .await;
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: Some(encode(&plan.planned)),
            requires_replace: plan.requires_replace.iter().map(path_to_pb).collect(),
            planned_private: plan.private,
            diagnostics: diags_to_pb(&plan.diags),
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::default();
        let prior = value(req.prior_state.as_ref(), "prior state", &mut diags);
        let planned = value(req.planned_state.as_ref(), "planned state", &mut diags);
        let config = value(req.config.as_ref(), "configuration", &mut diags);
        if diags.has_errors() {
            return Ok(Response::new(pb::apply_resource_change::Response {
                new_state: req.prior_state,
                private: req.planned_private,
                diagnostics: diags_to_pb(&diags),
            }));
        }
        let out = self
            .provider
            .apply(&req.type_name, prior, planned, config, req.planned_private)
            .await;
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state: Some(encode(&out.state)),
            private: out.private,
            diagnostics: diags_to_pb(&out.diags),
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let req = req.into_inner();
        let out = self.provider.import(&req.type_name, &req.id).await;
        let imported = if out.diags.has_errors() {
            vec![]
        } else {
            vec![pb::import_resource_state::ImportedResource {
                type_name: req.type_name.clone(),
                state: Some(encode(&out.state)),
                private: out.private,
            }]
        };
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: imported,
            diagnostics: diags_to_pb(&out.diags),
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let req = req.into_inner();
        let mut diags = Diagnostics::default();
        let cfg = value(req.config.as_ref(), "data source configuration", &mut diags);
        if diags.has_errors() {
            return Ok(Response::new(pb::read_data_source::Response {
                state: None,
                diagnostics: diags_to_pb(&diags),
            }));
        }
        let out = self.provider.read_data_source(&req.type_name, cfg).await;
        Ok(Response::new(pb::read_data_source::Response {
            state: Some(encode(&out.state)),
            diagnostics: diags_to_pb(&out.diags),
        }))
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Rpc<pb::stop_provider::Response> {
        self.provider.stop();
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> ProviderService {
        ProviderService::new(Arc::new(Provider::new()))
    }

    /// Terraform learns of the data source from both GetMetadata and
    /// GetProviderSchema, and its validation reaches the provider's rules.
    #[tokio::test]
    async fn the_data_source_is_served() {
        let s = service();
        let meta = s
            .get_metadata(Request::new(Default::default()))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner();
        let names: Vec<&str> = meta
            .data_sources
            .iter()
            .map(|d| d.type_name.as_str())
            .collect();
        assert_eq!(names, vec!["golden_ami"]);
        let schema = s
            .get_provider_schema(Request::new(Default::default()))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner();
        let block = schema.data_source_schemas["golden_ami"]
            .block
            .as_ref()
            .map(|b| {
                b.attributes
                    .iter()
                    .map(|a| a.name.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        assert!(block.contains(&"region_ami_ids".to_string()), "{block:?}");

        let cfg = Value::Map(Default::default());
        let out = s
            .validate_data_resource_config(Request::new(
                pb::validate_data_resource_config::Request {
                    type_name: "golden_ami".into(),
                    config: Some(encode(&cfg)),
                },
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner();
        assert_eq!(out.diagnostics.len(), 1);
        assert_eq!(out.diagnostics[0].summary, "No image selector");

        let out = s
            .read_data_source(Request::new(pb::read_data_source::Request {
                type_name: "golden_nope".into(),
                config: Some(encode(&cfg)),
                ..Default::default()
            }))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner();
        assert_eq!(out.diagnostics[0].summary, "Unknown data source");
    }
}
