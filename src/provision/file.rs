//! File steps: upload local files, directories or inline content, or
//! download from the instance (a manifest, an SBOM) to this machine.

use super::error::ProvisionError;
use crate::ssh::SshSession;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct FileStep {
    /// Local paths when uploading, remote paths when downloading.
    pub sources: Vec<String>,
    pub content: Option<String>,
    pub destination: String,
    pub download: bool,
}

/// Where one source lands: inside `destination` when that ends in `/` (or
/// several sources share it), at `destination` itself otherwise.
fn target(source: &str, destination: &str, several: bool) -> String {
    if destination.ends_with('/') || several {
        let name = Path::new(source.trim_end_matches('/'))
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        format!("{}/{name}", destination.trim_end_matches('/'))
    } else {
        destination.to_string()
    }
}

impl FileStep {
    pub async fn run(&self, ssh: &SshSession) -> Result<(), ProvisionError> {
        let sftp = ssh.sftp().await?;
        if let Some(content) = &self.content {
            sftp.write_bytes(content.as_bytes(), &self.destination, 0o644)
                .await?;
        }
        let several = self.sources.len() > 1;
        for source in &self.sources {
            // A trailing slash means "the contents of", as in Packer and rsync.
            let contents_only = source.ends_with('/');
            if self.download {
                let dest = if contents_only {
                    self.destination.clone()
                } else {
                    target(source, &self.destination, several)
                };
                let bytes = sftp.download(source, Path::new(&dest)).await?;
                tracing::info!(source, destination = %dest, bytes, "downloaded");
                continue;
            }
            let local = PathBuf::from(source);
            let is_dir = tokio::fs::metadata(&local)
                .await
                .map_err(|e| ProvisionError::Local {
                    path: source.clone(),
                    source: e,
                })?
                .is_dir();
            let dest = if is_dir {
                self.destination.clone()
            } else {
                target(source, &self.destination, several)
            };
            let t0 = std::time::Instant::now();
            let bytes = sftp.upload(&local, &dest, contents_only).await?;
            let elapsed_ms = t0.elapsed().as_millis() as u64;
            let mib_per_s = bytes as f64 / 1048576.0 / t0.elapsed().as_secs_f64().max(1e-6);
            tracing::info!(source, destination = %dest, bytes, elapsed_ms, mib_per_s = format!("{mib_per_s:.1}"), "uploaded");
        }
        sftp.close().await;
        Ok(())
    }
}
