//! SSH to the build instance over russh: connect with retry and a host key
//! check, run commands with streamed output, and SFTP transfers.

mod exec;
mod sftp;

pub use exec::OutputLine;

use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where and as whom to log in.
#[derive(Clone)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub key: Arc<PrivateKey>,
    /// How long to keep trying to connect.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("could not connect to {addr} within {secs}s; last error: {last}")]
    ConnectTimeout {
        addr: String,
        secs: u64,
        last: String,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("SSH: {0}")]
    Russh(#[from] russh::Error),
    #[error("SFTP: {0}")]
    Sftp(#[from] russh_sftp::client::error::Error),
    #[error("{path}: {source}")]
    Local {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// Checks the server's host key against the pinned one.
struct HostKeyCheck {
    pinned: Arc<Mutex<Option<PublicKey>>>,
    mismatch: Arc<Mutex<Option<String>>>,
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match offered {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                *self.mismatch.lock().unwrap_or_else(|p| p.into_inner()) = Some(
                    "the server offered a host certificate; pin its key with ssh.host_key".into(),
                );
                return Ok(false);
            }
        };
        let seen = key.fingerprint(HashAlg::Sha256).to_string();
        let mut pinned = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
        match pinned.as_ref() {
            Some(p) if p.key_data() == key.key_data() => Ok(true),
            Some(p) => {
                let want = p.fingerprint(HashAlg::Sha256).to_string();
                *self.mismatch.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!(
                    "host key mismatch: expected {want}, server offered {seen}"
                ));
                Ok(false)
            }
            None => {
                tracing::info!(fingerprint = %seen, "trusting the build instance's host key for this bake");
                *pinned = Some(key.clone());
                Ok(true)
            }
        }
    }
}

/// An authenticated SSH connection, reused by every provisioning step.
pub struct SshSession {
    handle: client::Handle<HostKeyCheck>,
}

fn config() -> Arc<client::Config> {
    Arc::new(client::Config {
        inactivity_timeout: Some(Duration::from_secs(3600)),
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 4,
        nodelay: true,
        window_size: 8 << 20,
        maximum_packet_size: 256 * 1024,
        ..Default::default()
    })
}

/// Keeps the host key pinned across reconnects within one bake.
#[derive(Default, Clone)]
pub struct HostKeyPin(Arc<Mutex<Option<PublicKey>>>);

impl HostKeyPin {
    pub fn new(initial: Option<PublicKey>) -> Self {
        HostKeyPin(Arc::new(Mutex::new(initial)))
    }
}

impl SshSession {
    /// Connects and logs in, retrying with backoff until the target's timeout.
    pub async fn connect(
        target: &SshTarget,
        pin: &HostKeyPin,
        cancel: &CancellationToken,
    ) -> Result<SshSession, SshError> {
        use crate::ec2::wait::{Backoff, sleep_or_cancel};
        let addr = format!("{}:{}", target.host, target.port);
        let deadline = tokio::time::Instant::now() + target.timeout;
        let mut backoff = Backoff::starting(Duration::from_millis(100), Duration::from_secs(2));
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = tokio::select! {
                _ = cancel.cancelled() => return Err(SshError::Cancelled),
                r = tokio::time::timeout(Duration::from_secs(20), Self::try_once(target, pin)) => match r {
                    Ok(Ok(s)) => {
                        tracing::info!(%addr, attempt, "SSH connected");
                        return Ok(s);
                    }
                    Ok(Err(e)) => e,
                    Err(_) => "connect attempt timed out after 20s".to_string(),
                },
            };
            tracing::debug!(%addr, attempt, error = %last, "SSH not ready yet");
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(SshError::ConnectTimeout {
                    addr,
                    secs: target.timeout.as_secs(),
                    last,
                });
            }
            if !sleep_or_cancel(backoff.next_delay().min(deadline - now), cancel).await {
                return Err(SshError::Cancelled);
            }
        }
    }

    async fn try_once(target: &SshTarget, pin: &HostKeyPin) -> Result<SshSession, String> {
        let mismatch = Arc::new(Mutex::new(None));
        let handler = HostKeyCheck {
            pinned: pin.0.clone(),
            mismatch: mismatch.clone(),
        };
        let addr = (target.host.as_str(), target.port);
        let mut handle = match client::connect(config(), addr, handler).await {
            Ok(h) => h,
            Err(e) => {
                let why = mismatch.lock().unwrap_or_else(|p| p.into_inner()).take();
                return Err(why.unwrap_or_else(|| e.to_string()));
            }
        };
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .map_err(|e| e.to_string())?
            .flatten();
        let key = PrivateKeyWithHashAlg::new(target.key.clone(), hash);
        let auth = handle
            .authenticate_publickey(target.username.clone(), key)
            .await
            .map_err(|e| e.to_string())?;
        if !auth.success() {
            return Err(format!(
                "authentication as {:?} rejected (the key is not authorized yet)",
                target.username
            ));
        }
        Ok(SshSession { handle })
    }

    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "bake done", "en")
            .await;
    }
}
