//! File steps: upload a local file, a directory, or inline content.

use super::ProvisionError;
use crate::ssh::SshSession;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct FileStep {
    pub source: Option<PathBuf>,
    pub content: Option<String>,
    pub destination: String,
}

impl FileStep {
    pub async fn run(&self, ssh: &SshSession) -> Result<(), ProvisionError> {
        let sftp = ssh.sftp().await?;
        if let Some(content) = &self.content {
            sftp.write_bytes(content.as_bytes(), &self.destination, 0o644)
                .await?;
        }
        if let Some(source) = &self.source {
            let contents_only = source.as_os_str().to_string_lossy().ends_with('/');
            let is_dir = tokio::fs::metadata(source)
                .await
                .map_err(|e| ProvisionError::Local {
                    path: source.display().to_string(),
                    source: e,
                })?
                .is_dir();
            // A file sent to "dir/" keeps its name, as with Packer and scp.
            let dest = if !is_dir && self.destination.ends_with('/') {
                let name = source
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                format!("{}{name}", self.destination)
            } else {
                self.destination.clone()
            };
            let bytes = sftp.upload(source, &dest, contents_only).await?;
            tracing::info!(source = %source.display(), destination = %dest, bytes, "uploaded");
        }
        sftp.close().await;
        Ok(())
    }
}
