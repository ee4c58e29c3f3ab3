//! Serving the provider as a go-plugin: handshake, AutoMTLS, health and
//! controller services, and a listener with TCP_NODELAY.

pub mod handshake;
mod io;
mod schema_pb;
mod server;
pub mod tls;

use crate::protocol::goplugin::Empty;
use crate::protocol::goplugin::grpc_controller_server::{GrpcController, GrpcControllerServer};
use crate::protocol::tfplugin6::provider_server::ProviderServer;
use crate::provider::Provider;
use io::PluginConn;
use server::ProviderService;
use std::io::Write;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Handshake(#[from] handshake::HandshakeError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(std::io::Error),
    #[error("cannot write the handshake to stdout: {0}")]
    Stdout(std::io::Error),
    #[error("gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
}

/// Serves until Terraform asks the controller to shut down, or goes away.
pub async fn serve(provider: Arc<Provider>) -> Result<(), ServeError> {
    handshake::check_env()?;
    let mtls = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !pem.trim().is_empty() => Some(tls::from_client_cert_pem(&pem)?),
        _ => None,
    };
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(ServeError::Listen)?;
    let addr = listener.local_addr().map_err(ServeError::Listen)?;

    let shutdown = CancellationToken::new();
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;

    let (tx, rx) = mpsc::channel::<std::io::Result<PluginConn>>(16);
    let acceptor = mtls
        .as_ref()
        .map(|m| tokio_rustls::TlsAcceptor::from(m.config.clone()));
    tokio::spawn(accept_loop(
        listener,
        acceptor,
        tx,
        shutdown.clone(),
        HANDSHAKE_TIMEOUT,
    ));

    {
        let line = handshake::line(addr, mtls.as_ref().map(|m| m.server_cert_der.as_slice()));
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .map_err(ServeError::Stdout)?;
    }
    tracing::debug!(%addr, tls = mtls.is_some(), "plugin server listening");
    provider.sweep_in_background();

    watch_parent(shutdown.clone(), provider.clone());
    let stop = shutdown.clone();
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(GrpcControllerServer::new(Controller {
            shutdown: shutdown.clone(),
            provider: provider.clone(),
        }))
        .add_service(
            ProviderServer::new(ProviderService::new(provider.clone()))
                .max_decoding_message_size(256 << 20),
        )
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            stop.cancelled_owned(),
        )
        .await?;
    // Bakes still running (Terraform went away mid-apply) finish their cleanup first.
    provider.drain(std::time::Duration::from_secs(600)).await;
    Ok(())
}

/// A killed Terraform never says goodbye: when our parent changes (we were
/// orphaned), stop serving so in-flight bakes cancel, clean up, and the
/// plugin exits instead of lingering.
fn watch_parent(shutdown: CancellationToken, provider: Arc<Provider>) {
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!("Terraform went away; cancelling bakes and exiting");
                // Bakes first: the server's graceful shutdown waits for their requests.
                provider.abandon();
                shutdown.cancel();
                return;
            }
        }
    });
}

/// How long a client may take to complete the TLS handshake after it
/// connects; one that stays silent longer is dropped.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    tx: mpsc::Sender<std::io::Result<PluginConn>>,
    shutdown: CancellationToken,
    handshake_timeout: std::time::Duration,
) {
    loop {
        let (sock, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => { tracing::warn!(error = %e, "accept failed"); continue; }
            },
        };
        // Without it, each small RPC waits ~40 ms on Nagle + delayed ACK.
        let _ = sock.set_nodelay(true);
        let tx = tx.clone();
        let acceptor = acceptor.clone();
        // Handshakes run beside the accept loop so a stalled client cannot block others.
        tokio::spawn(async move {
            let conn = match acceptor {
                // Bounded: a client that connects and never speaks is dropped
                // (its socket closed) instead of holding a task forever.
                Some(a) => match tokio::time::timeout(handshake_timeout, a.accept(sock)).await {
                    Ok(Ok(s)) => PluginConn::new(s),
                    Ok(Err(e)) => {
                        tracing::warn!(%peer, error = %e, "TLS handshake with Terraform failed");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!(%peer, timeout_ms = handshake_timeout.as_millis() as u64, "TLS handshake timed out; connection dropped");
                        return;
                    }
                },
                None => PluginConn::new(sock),
            };
            let _ = tx.send(Ok(conn)).await;
        });
    }
}

#[cfg(test)]
mod tests;

/// go-plugin's controller: Terraform's polite "we are done with you".
struct Controller {
    shutdown: CancellationToken,
    provider: Arc<Provider>,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(
        &self,
        _: tonic::Request<Empty>,
    ) -> Result<tonic::Response<Empty>, tonic::Status> {
        tracing::debug!("controller shutdown requested");
        self.provider.stop();
        self.shutdown.cancel();
        Ok(tonic::Response::new(Empty {}))
    }
}
