//! Running a command with its output streamed line by line.

use super::{SshError, SshSession};
use russh::ChannelMsg;
use std::collections::VecDeque;
use tokio_util::sync::CancellationToken;

/// The first stderr line of every command: the process group, and the
/// session it leads, to end on cancel.
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

/// The command that ends a cancelled command: its process group, and every
/// process of the session it leads (what left the group: a job under
/// `set -m`, GNU `timeout`, `make`), politely then with SIGKILL; as the login
/// user, and through `sudo -n` where that works without a password, for
/// what runs as root (the login user may not signal those). `pid` is above 1.
fn stop_script(pid: u32) -> String {
    format!(
        "S=; if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then S='sudo -n'; fi; \
         end() {{ kill -$1 -- -{pid} 2>/dev/null || kill -$1 {pid} 2>/dev/null; \
         pkill -$1 -s {pid} 2>/dev/null; [ -z \"$S\" ] || $S pkill -$1 -s {pid} 2>/dev/null; }}; \
         end TERM; sleep 1; end KILL; true"
    )
}

/// How many trailing output lines a failure report keeps.
const TAIL_LINES: usize = 30;
/// And how many bytes: older lines are dropped past this, though the newest
/// line is always kept whole (it is at most [`MAX_LINE`] bytes).
pub const TAIL_BYTES: usize = 16 * 1024;
/// Output lines longer than this are cut into pieces of at most this many
/// bytes (a command printing a whole file without a newline must not grow a
/// buffer without bound).
pub const MAX_LINE: usize = 64 * 1024;

/// One line of a command's output (or a piece of one longer than [`MAX_LINE`]).
pub enum OutputLine<'a> {
    Stdout(&'a str),
    Stderr(&'a str),
}

/// How a command ended.
#[derive(Debug, Default)]
pub struct ExecResult {
    pub exit_status: Option<u32>,
    pub exit_signal: Option<String>,
    /// The last lines of stdout and stderr, interleaved as they came: at most
    /// [`TAIL_LINES`], and at most [`TAIL_BYTES`] except for the newest line.
    pub tail: Vec<String>,
}

/// The last lines of output, bounded in lines and bytes.
#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl Tail {
    fn push(&mut self, line: &str) {
        self.bytes += line.len();
        self.lines.push_back(line.to_string());
        while self.lines.len() > TAIL_LINES || (self.bytes > TAIL_BYTES && self.lines.len() > 1) {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len();
            }
        }
    }
}

/// Splits a byte stream into lines: at `\n` (a `\r` before it dropped), or
/// every [`MAX_LINE`] bytes when a line is longer, cut on a UTF-8 character
/// boundary where the bytes are UTF-8. Each byte is scanned once; invalid
/// UTF-8 is shown lossily.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

/// Where to cut a full buffer so that no UTF-8 sequence is split: before
/// an incomplete sequence at its end, if there is one.
fn utf8_cut(buf: &[u8]) -> usize {
    let len = buf.len();
    for back in 1..=3.min(len) {
        let b = buf[len - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the lead
        }
        let need = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if need > back && back < len {
            len - back
        } else {
            len
        };
    }
    len
}

impl Lines {
    fn feed(&mut self, mut data: &[u8], mut emit: impl FnMut(&str)) {
        while !data.is_empty() {
            let room = MAX_LINE.saturating_sub(self.partial.len());
            // A newline right after a full buffer still ends that line.
            let window = &data[..data.len().min(room + 1)];
            if let Some(pos) = window.iter().position(|b| *b == b'\n') {
                self.partial.extend_from_slice(&data[..pos]);
                data = &data[pos + 1..];
                let line = String::from_utf8_lossy(&self.partial);
                emit(line.strip_suffix('\r').unwrap_or(&line));
                self.partial.clear();
            } else if data.len() <= room {
                self.partial.extend_from_slice(data);
                return;
            } else {
                // Full without a newline: emit what fits, keep the rest going.
                self.partial.extend_from_slice(&data[..room]);
                data = &data[room..];
                let cut = utf8_cut(&self.partial);
                emit(&String::from_utf8_lossy(&self.partial[..cut]));
                self.partial.drain(..cut);
            }
        }
    }

    fn finish(&mut self, mut emit: impl FnMut(&str)) {
        if !self.partial.is_empty() {
            emit(&String::from_utf8_lossy(&self.partial));
            self.partial.clear();
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
        let mut out = Lines::default();
        let mut err = Lines::default();
        let mut tail = Tail::default();
        let mut result = ExecResult::default();
        let keep = |line: &str, tail: &mut Tail| tail.push(line);
        loop {
            let msg = tokio::select! {
                _ = cancel.cancelled() => {
                    // Without a PTY, closing the channel leaves the command running
                    // on the instance: end its whole process group first.
                    if let Some(pid) = group {
                        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.run_quietly(&stop_script(pid))).await;
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
                            .filter(|p: &u32| *p > 1)
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
        result.tail = tail.lines.into_iter().collect();
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::{Lines, MAX_LINE, TAIL_BYTES, TAIL_LINES, Tail};

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::default();
        let mut out = Vec::new();
        for c in chunks {
            lines.feed(c, |l| out.push(l.to_string()));
        }
        lines.finish(|l| out.push(l.to_string()));
        out
    }

    #[test]
    fn lines_split_across_chunks() {
        assert_eq!(
            split(&[b"one\ntw", b"o\n", b"\nthree"]),
            ["one", "two", "", "three"]
        );
    }

    #[test]
    fn crlf_is_one_line_break_even_across_chunks() {
        assert_eq!(split(&[b"a\r\nb\r", b"\nc\rd\n"]), ["a", "b", "c\rd"]);
    }

    #[test]
    fn a_long_line_is_cut_at_the_bound_and_the_buffer_stays_small() {
        let mut lines = Lines::default();
        let mut sizes = Vec::new();
        let chunk = vec![b'a'; 10_000];
        for _ in 0..100 {
            lines.feed(&chunk, |l| sizes.push(l.len()));
            assert!(lines.partial.len() <= MAX_LINE);
            assert!(lines.partial.capacity() <= 2 * MAX_LINE);
        }
        lines.feed(b"\nnext\n", |l| sizes.push(l.len()));
        let total: usize = sizes.iter().sum();
        assert_eq!(total, 1_000_000 + 4);
        assert!(sizes.iter().all(|s| *s <= MAX_LINE), "{sizes:?}");
        assert_eq!(sizes[0], MAX_LINE);
        assert_eq!(sizes.last(), Some(&4));
    }

    #[test]
    fn a_line_of_exactly_the_bound_is_one_line() {
        let exact = vec![b'x'; MAX_LINE];
        let out = split(&[&exact, b"\n", b"y\n"]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(out[1], "y");
        // The same with a CR before the newline, the CR past the bound.
        let out = split(&[&exact, b"\r\n"]);
        assert_eq!(out.len(), 2, "the CR past the bound ends as an empty line");
    }

    #[test]
    fn a_cut_never_splits_a_utf8_character() {
        // 'é' is two bytes: an odd prefix puts one across the bound.
        let mut text = vec![b'a'];
        text.extend("é".repeat(MAX_LINE).as_bytes());
        let out = split(&[&text]);
        assert!(out.iter().all(|l| !l.contains('\u{FFFD}')), "no lossy char");
        assert_eq!(out.concat().len(), text.len());
        assert_eq!(out.concat().as_bytes(), &text[..]);
    }

    #[test]
    fn invalid_utf8_is_shown_lossily() {
        let out = split(&[b"ok \xff\xfe bytes\n\x80"]);
        assert_eq!(out, ["ok \u{FFFD}\u{FFFD} bytes", "\u{FFFD}"]);
        // A long binary line is cut and shown, without a panic.
        let binary: Vec<u8> = (0..3 * MAX_LINE).map(|i| (i % 251) as u8 | 0x80).collect();
        let out = split(&[&binary]);
        assert!(out.len() >= 3);
    }

    #[test]
    fn the_tail_is_bounded_in_lines_and_bytes() {
        let mut t = Tail::default();
        for i in 0..100 {
            t.push(&format!("line {i}"));
        }
        assert_eq!(t.lines.len(), TAIL_LINES);
        assert_eq!(t.lines.back().map(String::as_str), Some("line 99"));
        let big = "b".repeat(MAX_LINE);
        for _ in 0..5 {
            t.push(&big);
        }
        assert_eq!(t.lines.len(), 1, "only the newest long line");
        t.push("short");
        assert!(t.bytes <= TAIL_BYTES + MAX_LINE);
        assert_eq!(t.lines.back().map(String::as_str), Some("short"));
        assert_eq!(t.bytes, t.lines.iter().map(String::len).sum::<usize>());
    }
}
