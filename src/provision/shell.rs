//! Shell steps: inline commands or local scripts, uploaded and run, with the
//! environment passed through a file that is sourced and removed, never on
//! the command line.

use super::error::ProvisionError;
use super::mask::Masker;
use crate::ssh::SshSession;
use crate::ssh::exec::{OutputLine, sh_quote};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct ShellStep {
    pub inline: Vec<String>,
    pub scripts: Vec<PathBuf>,
    pub environment: BTreeMap<String, String>,
    pub valid_exit_codes: Vec<u32>,
    /// Defaults for these come from the resource's attribute definitions.
    pub inline_shebang: String,
    pub remote_folder: String,
    /// `{{ .Path }}` and `{{ .Vars }}` are replaced as in Packer.
    pub execute_command: String,
    /// Wait this long before the step starts (Packer's `pause_before`).
    pub pause_before: Duration,
    /// Run the step again this many times when it fails.
    pub max_retries: u32,
    /// Bound on one attempt; the remote command is ended when it passes.
    pub timeout: Option<Duration>,
    /// Keep the uploaded scripts on the instance.
    pub skip_clean: bool,
    /// A reboot step: the connection dropping is success; the next step reconnects.
    pub expect_disconnect: bool,
    /// Exact path for the uploaded script (Packer's `remote_path`).
    pub remote_path: Option<String>,
}

impl ShellStep {
    /// The scripts to run, in order: the inline commands as one script, then the files.
    async fn bodies(&self) -> Result<Vec<(String, Vec<u8>)>, ProvisionError> {
        let mut out = Vec::new();
        if !self.inline.is_empty() {
            let mut s = format!("#!{}\n", self.inline_shebang);
            for line in &self.inline {
                s.push_str(line);
                s.push('\n');
            }
            out.push(("inline commands".to_string(), s.into_bytes()));
        }
        for p in &self.scripts {
            let body = tokio::fs::read(p)
                .await
                .map_err(|source| ProvisionError::Local {
                    path: p.display().to_string(),
                    source,
                })?;
            out.push((p.display().to_string(), body));
        }
        Ok(out)
    }

    /// Runs the step: after `pause_before`, up to `1 + max_retries`
    /// attempts, each bounded by `timeout`.
    pub async fn run(
        &self,
        index: usize,
        ssh: &SshSession,
        masker: &Masker,
        cancel: &CancellationToken,
    ) -> Result<(), ProvisionError> {
        if !self.pause_before.is_zero() {
            crate::retry::sleep_or_cancel(self.pause_before, cancel).await?;
        }
        let mut attempt = 0;
        loop {
            let attempt_cancel = cancel.child_token();
            let timer = self.timeout.map(|t| {
                let c = attempt_cancel.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(t).await;
                    c.cancel();
                })
            });
            let r = self.run_once(index, ssh, masker, &attempt_cancel).await;
            if let Some(t) = timer {
                t.abort();
            }
            let r = match r {
                // Our own timer, not the bake, stopped it.
                Err(e) if e.is_cancelled() && !cancel.is_cancelled() => Err(
                    ProvisionError::TimedOut(self.timeout.map(|t| t.as_secs()).unwrap_or_default()),
                ),
                other => other,
            };
            match r {
                Err(e) if attempt < self.max_retries && !cancel.is_cancelled() => {
                    attempt += 1;
                    tracing::warn!(step = index, attempt, error = %e, "step failed; retrying");
                }
                other => return other,
            }
        }
    }

    async fn run_once(
        &self,
        index: usize,
        ssh: &SshSession,
        masker: &Masker,
        cancel: &CancellationToken,
    ) -> Result<(), ProvisionError> {
        let sftp = ssh.sftp().await?;
        let folder = self.remote_folder.trim_end_matches('/');
        for (what, body) in self.bodies().await? {
            let script = match &self.remote_path {
                Some(p) => p.clone(),
                None => format!("{folder}/golden-script-{}.sh", unique_suffix()),
            };
            sftp.write_bytes(&body, &script, 0o755).await?;
            let mut vars = String::new();
            let mut env_file = None;
            if !self.environment.is_empty() {
                let path = format!("{folder}/golden-env-{}.sh", unique_suffix());
                let exports: String = self
                    .environment
                    .iter()
                    .map(|(k, v)| format!("export {k}={}\n", sh_quote(v)))
                    .collect();
                sftp.write_bytes(exports.as_bytes(), &path, 0o600).await?;
                vars = format!(". {0} && rm -f {0} &&", sh_quote(&path));
                env_file = Some(path);
            }
            let command = self
                .execute_command
                .replace("{{ .Path }}", &sh_quote(&script))
                .replace("{{ .Vars }}", &vars);
            tracing::info!(step = index, script = %what, "running");
            let result = ssh
                .exec(&command, cancel, |line| match line {
                    OutputLine::Stdout(l) => tracing::info!(step = index, "{}", masker.mask(l)),
                    OutputLine::Stderr(l) => {
                        tracing::info!(step = index, stream = "stderr", "{}", masker.mask(l))
                    }
                })
                .await;
            // The command removes the environment file; make sure, whatever happened.
            if let Some(path) = &env_file {
                let _ = sftp.remove_file(path).await;
            }
            if !self.skip_clean {
                let _ = sftp.remove_file(&script).await;
            }
            let result = match result {
                Ok(r) => r,
                Err(e) if self.expect_disconnect && !cancel.is_cancelled() => {
                    tracing::info!(step = index, error = %e, "connection dropped, as expected");
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
            if self.expect_disconnect && result.exit_status.is_none() {
                tracing::info!(step = index, "connection dropped, as expected");
                return Ok(());
            }
            let tail = tail_text(masker, &result.tail);
            match (result.exit_status, result.exit_signal) {
                (Some(s), _) if self.valid_exit_codes.contains(&s) => {}
                (Some(status), _) => {
                    return Err(ProvisionError::ExitStatus {
                        status,
                        allowed: self.valid_exit_codes.clone(),
                        tail,
                    });
                }
                (None, Some(signal)) => return Err(ProvisionError::Signal { signal, tail }),
                (None, None) => {
                    return Err(ProvisionError::Signal {
                        signal: "none (the connection closed without an exit status)".into(),
                        tail,
                    });
                }
            }
        }
        sftp.close().await;
        Ok(())
    }
}

/// A short random suffix for remote temporary names.
fn unique_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// The most of a failing command's last output a diagnostic shows, in bytes.
const DIAGNOSTIC_TAIL_BYTES: usize = 8 * 1024;

/// The last output lines for a diagnostic: masked first, then cut to their
/// last [`DIAGNOSTIC_TAIL_BYTES`] (so a cut never halves a secret).
fn tail_text(masker: &Masker, lines: &[String]) -> String {
    let text = masker.mask_lines(lines);
    if text.len() <= DIAGNOSTIC_TAIL_BYTES {
        return text;
    }
    let mut start = text.len() - DIAGNOSTIC_TAIL_BYTES;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("({start} bytes cut) …{}", &text[start..])
}

#[cfg(test)]
impl ShellStep {
    /// A step with the attribute defaults and nothing to run.
    pub fn for_test() -> ShellStep {
        ShellStep {
            inline: vec![],
            scripts: vec![],
            environment: BTreeMap::new(),
            valid_exit_codes: vec![0],
            inline_shebang: "/bin/sh".into(),
            remote_folder: "/tmp".into(),
            execute_command: "{{ .Path }}".into(),
            pause_before: Duration::ZERO,
            max_retries: 0,
            timeout: None,
            skip_clean: false,
            expect_disconnect: false,
            remote_path: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DIAGNOSTIC_TAIL_BYTES, tail_text};
    use crate::provision::Masker;
    use crate::ssh::exec::sh_quote;

    #[test]
    fn the_diagnostic_tail_is_masked_then_cut() {
        let m = Masker::new(["secret-value"]);
        let short = vec!["a".to_string(), "b secret-value".to_string()];
        assert_eq!(tail_text(&m, &short), "a\nb (sensitive value)");
        // A long line ending in a secret: the secret is masked before the cut.
        let long = vec![format!(
            "{}é-secret-value",
            "x".repeat(3 * DIAGNOSTIC_TAIL_BYTES)
        )];
        let t = tail_text(&m, &long);
        assert!(t.len() < DIAGNOSTIC_TAIL_BYTES + 64, "{}", t.len());
        assert!(t.ends_with("é-(sensitive value)"), "{t:.80}");
        assert!(t.starts_with('('), "{t:.80}");
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }
}
