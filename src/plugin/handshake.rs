//! go-plugin's handshake: the magic cookie Terraform sets, the protocol
//! version it accepts, and the line the plugin prints to say where it listens.

use std::net::SocketAddr;

const COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// The plugin protocol this provider speaks (tfplugin6).
pub const APP_PROTOCOL_VERSION: u32 = 6;
/// go-plugin's own handshake protocol version.
const CORE_PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error(
        "This binary is a plugin. These are not meant to be executed directly.\n\
         Please execute the program that consumes these plugins (terraform), which will\n\
         load any plugins automatically."
    )]
    NoCookie,
    #[error(
        "Terraform offers plugin protocol versions {0:?}; this provider needs version 6 (Terraform 1.0 or later)"
    )]
    Version(String),
}

/// Checks that Terraform started us and that it speaks protocol 6.
pub fn check_env() -> Result<(), HandshakeError> {
    if std::env::var(COOKIE_KEY).ok().as_deref() != Some(COOKIE_VALUE) {
        return Err(HandshakeError::NoCookie);
    }
    if let Ok(versions) = std::env::var("PLUGIN_PROTOCOL_VERSIONS") {
        let ok = versions
            .split(',')
            .any(|v| v.trim().parse::<u32>().ok() == Some(APP_PROTOCOL_VERSION));
        if !ok {
            return Err(HandshakeError::Version(versions));
        }
    }
    Ok(())
}

/// The line go-plugin reads from our stdout: where to dial and which
/// certificate to trust (raw DER, unpadded standard base64).
pub fn line(addr: SocketAddr, server_cert_der: Option<&[u8]>) -> String {
    use base64::Engine;
    let cert = server_cert_der
        .map(|d| base64::engine::general_purpose::STANDARD_NO_PAD.encode(d))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|tcp|{addr}|grpc|{cert}")
}
