//! SFTP uploads: streamed (never whole in memory), many writes in flight,
//! file modes kept, directories recursive.

use super::{SshError, SshSession};
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::FileAttributes;
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// The file type bits of a mode, and the types downloads tell apart.
const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

/// How deep a downloaded directory may nest.
const MAX_DEPTH: usize = 64;

/// Files uploaded at once by the whole process. Each upload keeps up to a
/// few MiB on their way (the read buffer and the writes in flight): fifty
/// bakes uploading together would hold fifty times that, for no more speed
/// than the link gives eight.
static UPLOAD_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

fn local_err(path: &Path) -> impl FnOnce(std::io::Error) -> SshError + '_ {
    move |source| SshError::Local {
        path: path.display().to_string(),
        source,
    }
}

impl SshSession {
    /// Opens an SFTP session on a new channel of this connection.
    pub async fn sftp(&self) -> Result<Sftp, SshError> {
        let channel = self.handle.channel_open_session().await?;
        channel.request_subsystem(true, "sftp").await?;
        let cfg = russh_sftp::client::Config {
            // Enough writes in flight to fill the server's window on slow links.
            max_concurrent_writes: 64,
            request_timeout_secs: 120,
            ..Default::default()
        };
        let session = SftpSession::new_with_config(channel.into_stream(), cfg).await?;
        Ok(Sftp { session })
    }
}

pub struct Sftp {
    session: SftpSession,
}

impl Sftp {
    /// Writes `data` to `remote` with `mode`, which applies from the moment the
    /// file exists (a secrets file is never readable by others, even briefly).
    pub async fn write_bytes(&self, data: &[u8], remote: &str, mode: u32) -> Result<(), SshError> {
        use russh_sftp::protocol::OpenFlags;
        let mut attrs = FileAttributes::empty();
        attrs.permissions = Some(mode);
        let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE;
        let mut f = self
            .session
            .open_with_flags_and_attributes(remote, flags, attrs)
            .await?;
        f.write_all(data)
            .await
            .map_err(|e| SshError::Other(format!("{remote}: {e}")))?;
        f.shutdown()
            .await
            .map_err(|e| SshError::Other(format!("{remote}: {e}")))?;
        self.chmod(remote, mode).await
    }

    /// Uploads a file or, recursively, a directory. A directory source with a
    /// trailing slash uploads its contents into `remote` (Packer's rule);
    /// without one, the directory itself lands inside `remote`.
    pub async fn upload(
        &self,
        source: &Path,
        remote: &str,
        contents_only: bool,
    ) -> Result<u64, SshError> {
        let meta = tokio::fs::metadata(source)
            .await
            .map_err(local_err(source))?;
        if !meta.is_dir() {
            return self.upload_file(source, remote, &meta).await;
        }
        let target = if contents_only {
            remote.trim_end_matches('/').to_string()
        } else {
            let name = source
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            format!("{}/{}", remote.trim_end_matches('/'), name)
        };
        Box::pin(self.upload_dir(source, &target)).await
    }

    async fn upload_dir(&self, dir: &Path, remote: &str) -> Result<u64, SshError> {
        if dir.components().count() > 256 {
            return Err(SshError::Other(format!(
                "{}: nested too deep (a symlink loop?)",
                dir.display()
            )));
        }
        self.mkdir_p(remote).await?;
        let mut total = 0;
        let mut entries = tokio::fs::read_dir(dir).await.map_err(local_err(dir))?;
        while let Some(e) = entries.next_entry().await.map_err(local_err(dir))? {
            let path = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            let meta = tokio::fs::metadata(&path).await.map_err(local_err(&path))?;
            let dest = format!("{remote}/{name}");
            total += if meta.is_dir() {
                Box::pin(self.upload_dir(&path, &dest)).await?
            } else {
                self.upload_file(&path, &dest, &meta).await?
            };
        }
        Ok(total)
    }

    async fn upload_file(
        &self,
        source: &Path,
        remote: &str,
        meta: &std::fs::Metadata,
    ) -> Result<u64, SshError> {
        use std::os::unix::fs::PermissionsExt;
        let _slot = UPLOAD_SLOTS
            .acquire()
            .await
            .map_err(|e| SshError::Other(format!("upload slots: {e}")))?;
        let file = tokio::fs::File::open(source)
            .await
            .map_err(local_err(source))?;
        let mut reader = tokio::io::BufReader::with_capacity(256 * 1024, file);
        let mut remote_file = self
            .session
            .create(remote)
            .await
            .map_err(|e| SshError::Other(format!("cannot create {remote}: {e}")))?;
        let n = tokio::io::copy_buf(&mut reader, &mut remote_file)
            .await
            .map_err(|e| {
                SshError::Other(format!("uploading {} to {remote}: {e}", source.display()))
            })?;
        remote_file
            .shutdown()
            .await
            .map_err(|e| SshError::Other(format!("{remote}: {e}")))?;
        self.chmod(remote, meta.permissions().mode() & 0o7777)
            .await?;
        tracing::debug!(source = %source.display(), remote, bytes = n, "uploaded");
        Ok(n)
    }

    async fn chmod(&self, remote: &str, mode: u32) -> Result<(), SshError> {
        let mut attrs = FileAttributes::empty();
        attrs.permissions = Some(mode);
        self.session.set_metadata(remote, attrs).await?;
        Ok(())
    }

    /// Downloads a remote file, or a directory recursively, to `local`;
    /// streamed, never whole in memory.
    ///
    /// The instance is trusted no further than it must be: file modes are
    /// kept without the set-id and sticky bits (`& 0o777`), and a file has its
    /// final mode from the moment it exists locally. `remote` itself is
    /// followed if it is a symbolic link (the user named it; `/etc/os-release`
    /// is one), but a symbolic link inside a downloaded directory is refused
    /// with an error rather than followed or recreated: following one reads
    /// whatever it points to on the instance (or loops), and a recreated link
    /// would let a later download write through it outside its destination.
    /// Only regular files and directories are downloaded (a device such as
    /// `/dev/zero` would never end), at most [`MAX_DEPTH`] levels deep.
    pub async fn download(&self, remote: &str, local: &Path) -> Result<u64, SshError> {
        let meta = self.session.metadata(remote).await?;
        self.download_entry(remote, local, meta, 0).await
    }

    async fn download_entry(
        &self,
        remote: &str,
        local: &Path,
        meta: FileAttributes,
        depth: usize,
    ) -> Result<u64, SshError> {
        let mode = meta.permissions.unwrap_or(0o644);
        match mode & S_IFMT {
            S_IFDIR => Box::pin(self.download_dir(remote, local, depth)).await,
            S_IFREG => self.download_file(remote, local, mode).await,
            S_IFLNK => {
                let target = self.session.read_link(remote).await.unwrap_or_default();
                Err(SshError::Other(format!(
                    "refusing to download {remote}: {remote} is a symbolic link (to {target:?}); \
                     name its target as a source instead"
                )))
            }
            _ => Err(SshError::Other(format!(
                "refusing to download {remote}: {remote} is not a regular file or a directory"
            ))),
        }
    }

    async fn download_dir(
        &self,
        remote: &str,
        local: &Path,
        depth: usize,
    ) -> Result<u64, SshError> {
        if depth >= MAX_DEPTH {
            return Err(SshError::Other(format!(
                "refusing to download {remote}: nested more than {MAX_DEPTH} levels deep"
            )));
        }
        tokio::fs::create_dir_all(local)
            .await
            .map_err(local_err(local))?;
        let mut total = 0;
        for entry in self.session.read_dir(remote).await? {
            let name = entry.file_name();
            if name == "." || name == ".." {
                continue;
            }
            // A name from the instance must not lead outside the destination.
            if name.contains('/') || name.is_empty() {
                return Err(SshError::Other(format!(
                    "refusing the remote name {name:?} in {remote}"
                )));
            }
            let from = format!("{}/{name}", remote.trim_end_matches('/'));
            // lstat: a link is seen as a link, never as what it points to.
            let meta = self.session.symlink_metadata(from.clone()).await?;
            total += self
                .download_entry(&from, &local.join(&name), meta, depth + 1)
                .await?;
        }
        Ok(total)
    }

    async fn download_file(&self, remote: &str, local: &Path, mode: u32) -> Result<u64, SshError> {
        use std::os::unix::fs::PermissionsExt;
        if let Some(parent) = local.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(local_err(parent))?;
        }
        let mut from = self.session.open(remote).await?;
        let mode = mode & 0o777;
        // Created with its final mode; a file that was already there gets it
        // before a byte is written (the umask and the old mode do not count).
        let mut to = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(local)
            .await
            .map_err(local_err(local))?;
        to.set_permissions(std::fs::Permissions::from_mode(mode))
            .await
            .map_err(local_err(local))?;
        let n = tokio::io::copy(&mut from, &mut to)
            .await
            .map_err(local_err(local))?;
        to.flush().await.map_err(local_err(local))?;
        Ok(n)
    }

    /// Creates `remote` and its parents, like `mkdir -p`.
    pub async fn mkdir_p(&self, remote: &str) -> Result<(), SshError> {
        let mut path = String::new();
        for part in remote.split('/').filter(|p| !p.is_empty()) {
            path.push('/');
            path.push_str(part);
            if self.session.metadata(path.clone()).await.is_err() {
                self.session.create_dir(path.clone()).await?;
            }
        }
        Ok(())
    }

    pub async fn remove_file(&self, remote: &str) -> Result<(), SshError> {
        self.session.remove_file(remote).await?;
        Ok(())
    }

    pub async fn close(&self) {
        let _ = self.session.close().await;
    }
}
