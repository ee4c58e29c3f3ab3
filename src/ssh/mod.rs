//! SSH to the build instance over russh: connect with retry and a host key
//! check, run commands with streamed output, and SFTP transfers.

pub mod exec;
pub mod keys;
mod sftp;

use crate::retry::{Backoff, Cancelled, sleep_or_cancel};
use keys::{PrivateKey, PublicKey};
use russh::client;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A jump host in front of the instance (private subnets).
#[derive(Clone)]
pub struct Bastion {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub key: PrivateKey,
    pub host_key: HostKeyPolicy,
}

impl Bastion {
    fn as_target(&self, timeout: Duration) -> SshTarget {
        SshTarget {
            host: self.host.clone(),
            port: self.port,
            username: self.username.clone(),
            key: self.key.clone(),
            timeout,
            bastion: None,
        }
    }
}

/// Where and as whom to log in.
#[derive(Clone)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub key: PrivateKey,
    /// How long to keep trying to connect.
    pub timeout: Duration,
    pub bastion: Option<Bastion>,
}

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("could not connect to {addr} within {secs}s; last error: {last}")]
    ConnectTimeout {
        addr: String,
        secs: u64,
        last: String,
    },
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    #[error("refusing {addr}: {why}")]
    HostKey { addr: String, why: String },
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

impl SshError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, SshError::Cancelled(_))
    }
}

/// Which host keys the bake accepts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Exactly this key (`ssh.host_key`, or the key accepted on first connect).
    Key(PublicKey),
    /// A key whose SHA-256 fingerprint the instance printed on its console.
    Fingerprints(Vec<String>),
    /// Whatever answers first (`host_key_check = "none"`), then only that key.
    FirstSeen,
}

/// The host key policy of one bake, shared by its reconnects: once a key is
/// accepted it is the only one accepted.
#[derive(Clone)]
pub struct HostKeyPolicy(Arc<Mutex<Trust>>);

impl Default for HostKeyPolicy {
    fn default() -> Self {
        HostKeyPolicy::new(Trust::FirstSeen)
    }
}

impl HostKeyPolicy {
    pub fn new(trust: Trust) -> Self {
        HostKeyPolicy(Arc::new(Mutex::new(trust)))
    }

    /// Accepts or refuses `key`; on refusal, says why.
    fn check(&self, key: &russh::keys::PublicKey) -> Result<(), String> {
        let seen = key.fingerprint(HashAlg::Sha256).to_string();
        let mut trust = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &*trust {
            Trust::Key(k) if k.0.key_data() == key.key_data() => return Ok(()),
            Trust::Key(k) => {
                let want = k.0.fingerprint(HashAlg::Sha256);
                return Err(format!(
                    "host key mismatch: expected {want}, server offered {seen}"
                ));
            }
            Trust::Fingerprints(list) if !list.contains(&seen) => {
                return Err(format!(
                    "host key {seen} is not among the fingerprints the instance printed on its console ({})",
                    list.join(", ")
                ));
            }
            Trust::Fingerprints(_) => {
                tracing::info!(fingerprint = %seen, "host key matches the console output")
            }
            Trust::FirstSeen => {
                tracing::warn!(fingerprint = %seen, "host key accepted unverified (host_key_check = \"none\")")
            }
        }
        *trust = Trust::Key(PublicKey(key.clone()));
        Ok(())
    }
}

struct HostKeyCheck {
    policy: HostKeyPolicy,
    refusal: Arc<Mutex<Option<String>>>,
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let verdict = match offered {
            PublicKeyOrCertificate::PublicKey { key, .. } => self.policy.check(key),
            PublicKeyOrCertificate::Certificate(_) => Err(
                "the server offered a host certificate; pin its key with ssh.host_key".to_string(),
            ),
        };
        match verdict {
            Ok(()) => Ok(true),
            Err(why) => {
                *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                Ok(false)
            }
        }
    }
}

/// An authenticated SSH connection, reused by every provisioning step.
pub struct SshSession {
    handle: client::Handle<HostKeyCheck>,
    /// The jump host's connection, kept alive for as long as the tunnel.
    _bastion: Option<Box<SshSession>>,
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

/// Why one connection attempt failed.
enum Attempt {
    /// Not ready yet (refused, booting, key not installed): try again.
    Retry(String),
    /// The host key was refused: stop.
    Fatal(String),
}

impl SshSession {
    /// Connects and logs in, retrying with backoff until the target's timeout.
    pub async fn connect(
        target: &SshTarget,
        policy: &HostKeyPolicy,
        cancel: &CancellationToken,
    ) -> Result<SshSession, SshError> {
        let addr = format!("{}:{}", target.host, target.port);
        let deadline = tokio::time::Instant::now() + target.timeout;
        let mut backoff = Backoff::starting(Duration::from_millis(100), Duration::from_secs(2));
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = tokio::select! {
                _ = cancel.cancelled() => return Err(Cancelled.into()),
                r = tokio::time::timeout(Duration::from_secs(20), Self::try_once(target, policy)) => match r {
                    Ok(Ok(s)) => {
                        tracing::info!(%addr, attempt, "SSH connected");
                        return Ok(s);
                    }
                    Ok(Err(Attempt::Retry(e))) => e,
                    // A host key we refuse will not become acceptable by retrying.
                    Ok(Err(Attempt::Fatal(e))) => return Err(SshError::HostKey { addr, why: e }),
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
            sleep_or_cancel(backoff.next_delay().min(deadline - now), cancel).await?;
        }
    }

    async fn try_once(target: &SshTarget, policy: &HostKeyPolicy) -> Result<SshSession, Attempt> {
        let refusal = Arc::new(Mutex::new(None));
        let handler = HostKeyCheck {
            policy: policy.clone(),
            refusal: refusal.clone(),
        };
        let refused = |e: russh::Error| {
            let why = refusal.lock().unwrap_or_else(|p| p.into_inner()).take();
            why.map(Attempt::Fatal)
                .unwrap_or_else(|| Attempt::Retry(e.to_string()))
        };
        let (mut handle, bastion) = match &target.bastion {
            None => {
                let addr = (target.host.as_str(), target.port);
                (
                    client::connect(config(), addr, handler)
                        .await
                        .map_err(refused)?,
                    None,
                )
            }
            Some(b) => {
                // Through the bastion: a direct-tcpip channel to the instance, and
                // SSH to the instance inside it (Terraform's and Packer's jump host).
                let jump = Box::pin(Self::try_once(&b.as_target(target.timeout), &b.host_key))
                    .await
                    .map_err(|e| match e {
                        Attempt::Retry(m) => {
                            Attempt::Retry(format!("bastion {}:{}: {m}", b.host, b.port))
                        }
                        Attempt::Fatal(m) => {
                            Attempt::Fatal(format!("bastion {}:{}: {m}", b.host, b.port))
                        }
                    })?;
                let channel = jump
                    .handle
                    .channel_open_direct_tcpip(
                        target.host.clone(),
                        u32::from(target.port),
                        "127.0.0.1",
                        0,
                    )
                    .await
                    .map_err(|e| {
                        Attempt::Retry(format!(
                            "bastion cannot reach {}:{}: {e}",
                            target.host, target.port
                        ))
                    })?;
                let h = client::connect_stream(config(), channel.into_stream(), handler)
                    .await
                    .map_err(refused)?;
                (h, Some(Box::new(jump)))
            }
        };
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .map_err(|e| Attempt::Retry(e.to_string()))?
            .flatten();
        let key = PrivateKeyWithHashAlg::new(target.key.0.clone(), hash);
        let auth = handle
            .authenticate_publickey(target.username.clone(), key)
            .await
            .map_err(|e| Attempt::Retry(e.to_string()))?;
        if !auth.success() {
            return Err(Attempt::Retry(format!(
                "authentication as {:?} rejected (the key is not authorized yet)",
                target.username
            )));
        }
        Ok(SshSession {
            handle,
            _bastion: bastion,
        })
    }

    /// False once the connection dropped (a reboot, a network cut).
    pub fn is_open(&self) -> bool {
        !self.handle.is_closed()
    }

    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "bake done", "en")
            .await;
    }
}
