//! Running a command with its output streamed line by line.

use super::{SshError, SshSession};
use russh::ChannelMsg;
use std::collections::VecDeque;
use tokio_util::sync::CancellationToken;

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
    /// Runs `command`, calling `on_line` for each output line, until it exits.
    /// On cancel the channel is closed and `SshError::Cancelled` returned.
    pub async fn exec(
        &self,
        command: &str,
        cancel: &CancellationToken,
        mut on_line: impl FnMut(OutputLine<'_>),
    ) -> Result<ExecResult, SshError> {
        let mut channel = self.handle.channel_open_session().await?;
        channel.exec(true, command).await?;
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
                    let _ = channel.signal(russh::Sig::TERM).await;
                    let _ = channel.close().await;
                    return Err(SshError::Cancelled);
                }
                m = channel.wait() => m,
            };
            match msg {
                Some(ChannelMsg::Data { data }) => out.feed(&data, |l| {
                    on_line(OutputLine::Stdout(l));
                    keep(l, &mut tail);
                }),
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => err.feed(&data, |l| {
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
