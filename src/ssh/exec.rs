//! Running a command with its output streamed line by line.

use super::{SshError, SshSession};
use russh::ChannelMsg;
use std::collections::VecDeque;
use tokio_util::sync::CancellationToken;

/// The first stderr line of every command: the process group to kill on cancel.
const PGID_MARK: &str = "golden-pgid:";

/// Single-quotes a string for POSIX sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Wraps `command` so it runs in its own session and process group and
/// reports that group's id first, so a cancelled command can be ended with
/// everything it started (`setsid` where the instance has it).
fn killable(command: &str) -> String {
    let inner = format!("echo \"{PGID_MARK}$$\" >&2; exec sh -c \"$1\"");
    let outer = format!(
        "if setsid -w true >/dev/null 2>&1; then exec setsid -w sh -c {} golden \"$1\"; else {inner}; fi",
        sh_quote(&inner)
    );
    format!("sh -c {} golden {}", sh_quote(&outer), sh_quote(command))
}

/// How many trailing output lines a failure report keeps.
const TAIL_LINES: usize = 30;

/// One line of a command's output.
pub enum OutputLine<'a> {
    Stdout(&'a str),
    Stderr(&'a str),
}

/// How a command ended.
#[derive(Debug, Default)]
pub struct ExecResult {
    pub exit_status: Option<u32>,
    pub exit_signal: Option<String>,
    /// The last lines of stdout and stderr, interleaved as they came.
    pub tail: Vec<String>,
}

struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    fn feed(&mut self, data: &[u8], mut emit: impl FnMut(&str)) {
        self.partial.extend_from_slice(data);
        while let Some(pos) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            let s = String::from_utf8_lossy(&line[..line.len() - 1]);
            emit(s.trim_end_matches('\r'));
        }
    }
    fn finish(&mut self, mut emit: impl FnMut(&str)) {
        if !self.partial.is_empty() {
            let s = String::from_utf8_lossy(&self.partial).to_string();
            self.partial.clear();
            emit(&s);
        }
    }
}

impl SshSession {
    /// Runs a short housekeeping command, ignoring its output.
    async fn run_quietly(&self, command: &str) -> Result<(), SshError> {
        let mut channel = self.handle.channel_open_session().await?;
        channel.exec(true, command).await?;
        while channel.wait().await.is_some() {}
        Ok(())
    }

    /// Runs `command`, calling `on_line` for each output line, until it exits.
    /// On cancel the channel is closed and `SshError::Cancelled` returned.
    pub async fn exec(
        &self,
        command: &str,
        cancel: &CancellationToken,
        mut on_line: impl FnMut(OutputLine<'_>),
    ) -> Result<ExecResult, SshError> {
        let mut channel = self.handle.channel_open_session().await?;
        channel.exec(true, killable(command)).await?;
        // Nothing comes on stdin: a command that reads it (a prompt) sees EOF
        // instead of hanging until the step's timeout.
        channel.eof().await?;
        let mut group: Option<u32> = None;
        let mut out = Lines {
            partial: Vec::new(),
        };
        let mut err = Lines {
            partial: Vec::new(),
        };
        let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES + 1);
        let mut result = ExecResult::default();
        let keep = |line: &str, tail: &mut VecDeque<String>| {
            tail.push_back(line.to_string());
            if tail.len() > TAIL_LINES {
                tail.pop_front();
            }
        };
        loop {
            let msg = tokio::select! {
                _ = cancel.cancelled() => {
                    // Without a PTY, closing the channel leaves the command running
                    // on the instance: end its whole process group first.
                    if let Some(pid) = group {
                        let stop = format!("kill -TERM -- -{pid} 2>/dev/null || kill -TERM {pid}; sleep 1; kill -KILL -- -{pid} 2>/dev/null; true");
                        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.run_quietly(&stop)).await;
                    }
                    let _ = channel.close().await;
                    return Err(crate::retry::Cancelled.into());
                }
                m = channel.wait() => m,
            };
            match msg {
                Some(ChannelMsg::Data { data }) => out.feed(&data, |l| {
                    on_line(OutputLine::Stdout(l));
                    keep(l, &mut tail);
                }),
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => err.feed(&data, |l| {
                    if group.is_none()
                        && let Some(pid) = l
                            .strip_prefix(PGID_MARK)
                            .and_then(|p| p.trim().parse().ok())
                    {
                        group = Some(pid);
                        return;
                    }
                    on_line(OutputLine::Stderr(l));
                    keep(l, &mut tail);
                }),
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    result.exit_status = Some(exit_status)
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    result.exit_signal = Some(format!("{signal_name:?}"))
                }
                Some(ChannelMsg::Failure) => {
                    return Err(SshError::Other(format!(
                        "the server refused to run {command:?}"
                    )));
                }
                Some(_) => {}
                None => break,
            }
        }
        out.finish(|l| {
            on_line(OutputLine::Stdout(l));
            keep(l, &mut tail);
        });
        err.finish(|l| {
            on_line(OutputLine::Stderr(l));
            keep(l, &mut tail);
        });
        result.tail = tail.into_iter().collect();
        Ok(result)
    }
}
