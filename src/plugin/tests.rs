//! The accept path: a client that connects and never speaks is dropped after
//! the handshake bound, and other clients are served meanwhile.

use super::accept_loop;
use super::io::PluginConn;
use super::tls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Trusts whatever server certificate it is shown: the test checks the
/// accept path, not certificate checks (Terraform pins the one we announce).
#[derive(Debug)]
struct AnyServer(rustls::crypto::WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// Terraform's side: a client certificate (its PEM, for the server) and a
/// TLS client presenting it.
fn terraform_client() -> (String, tokio_rustls::TlsConnector) {
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap_or_else(|e| panic!("{e}"));
    let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let algs = provider.signature_verification_algorithms;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(algs)))
        .with_client_auth_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let mut config = config;
    config.alpn_protocols = vec![b"h2".to_vec()];
    (
        cert.pem(),
        tokio_rustls::TlsConnector::from(Arc::new(config)),
    )
}

#[tokio::test]
async fn a_silent_connection_is_dropped_after_the_handshake_bound_and_others_are_served() {
    let bound = Duration::from_millis(200);
    let (pem, connector) = terraform_client();
    let mtls = tls::from_client_cert_pem(&pem).unwrap_or_else(|e| panic!("{e}"));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (tx, mut rx) = mpsc::channel::<std::io::Result<PluginConn>>(4);
    let shutdown = CancellationToken::new();
    let acceptor = tokio_rustls::TlsAcceptor::from(mtls.config.clone());
    tokio::spawn(accept_loop(
        listener,
        Some(acceptor),
        tx,
        shutdown.clone(),
        bound,
    ));

    // Connects and never says a word.
    let mut silent = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let opened = Instant::now();

    // Terraform, meanwhile, is served.
    let tcp = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let name = ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}"));
    let client = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp)).await;
    assert!(matches!(client, Ok(Ok(_))), "the real client's handshake");
    let served = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert!(
        matches!(served, Ok(Some(Ok(_)))),
        "the real client reaches the server"
    );

    // The silent one is closed by the server within the bound (plus slack).
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(bound * 5, silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the silent connection is still open after {:?}: {read:?}",
        opened.elapsed()
    );
    assert!(opened.elapsed() >= bound, "closed before the bound");
    shutdown.cancel();
}
