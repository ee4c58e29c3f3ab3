//! Waits for SSH on the build instance and logs in with the temporary key.

use super::{Step, StepFuture};
use crate::bake::spec::{HostKeyCheck, Interface};
use crate::bake::{BakeContext, BakeError};
use crate::ec2::wait::Poll;
use crate::ssh::keys::{PrivateKey, PublicKey};
use crate::ssh::{HostKeyPolicy, SshSession, SshTarget, Trust};

pub struct Connect;

/// The address to dial: the override, or the chosen interface of the instance.
fn address(cx: &BakeContext<'_>) -> Result<String, BakeError> {
    if let Some(h) = &cx.spec.ssh.host {
        return Ok(h.clone());
    }
    let i = cx
        .instance
        .as_ref()
        .ok_or_else(|| BakeError::Internal("no build instance".into()))?;
    let pick = match cx.spec.ssh.interface {
        Some(Interface::PublicIp) => i.public_ip.clone(),
        Some(Interface::PrivateIp) => i.private_ip.clone(),
        Some(Interface::PublicDns) => i.public_dns.clone(),
        Some(Interface::PrivateDns) => i.private_dns.clone(),
        // Behind a bastion the private address is the one that works.
        None if cx.spec.ssh.bastion.is_some() => i.private_ip.clone(),
        None => i.public_ip.clone().or_else(|| i.private_ip.clone()),
    };
    pick.ok_or_else(|| {
        BakeError::Invalid(format!(
            "build instance {} has no address for ssh.interface",
            i.id
        ))
    })
}

/// What to trust, per `ssh.host_key_check`. With `generated` (the default
/// without `ssh.host_key`), exactly the key the bake made and handed to
/// cloud-init; with `console`, the fingerprints cloud-init prints to the
/// instance's console, read through the EC2 API, as an operator would.
async fn trust(cx: &BakeContext<'_>) -> Result<Trust, BakeError> {
    match cx.spec.ssh.host_key_check {
        HostKeyCheck::None => Ok(Trust::FirstSeen),
        // The key the launch gave cloud-init: sshd presents it from its first start.
        HostKeyCheck::Generated => cx
            .build_host_key
            .as_ref()
            .map(|k| Trust::Key(k.public_key()))
            .ok_or_else(|| BakeError::Internal("no generated host key".into())),
        HostKeyCheck::Pinned => {
            let k = cx.spec.ssh.host_key.as_deref().unwrap_or_default();
            let key = PublicKey::parse(k)
                .map_err(|e| BakeError::Invalid(format!("ssh.host_key: {e}")))?;
            Ok(Trust::Key(key))
        }
        HostKeyCheck::Console => {
            let id = cx
                .instance
                .as_ref()
                .map(|i| i.id.clone())
                .unwrap_or_default();
            let prints = cx
                .ec2
                .wait_console_output(
                    &id,
                    "the host key fingerprints on the instance console",
                    cx.spec.ssh.timeout,
                    &cx.cancel,
                    |text| match console_fingerprints(text) {
                        p if p.is_empty() => Poll::Pending("no fingerprint block yet".into()),
                        p => Poll::Ready(p),
                    },
                )
                .await?;
            tracing::info!(fingerprints = ?prints, "host key fingerprints from the console");
            Ok(Trust::Fingerprints(prints))
        }
    }
}

const BEGIN: &str = "-----BEGIN SSH HOST KEY FINGERPRINTS-----";
const END: &str = "-----END SSH HOST KEY FINGERPRINTS-----";

/// The SHA-256 fingerprints of the LAST complete fingerprint block cloud-init
/// printed (its `write-ssh-key-fingerprints` helper, piped through
/// `logger -t ec2 --stderr`): a `BEGIN` line, one `ssh-keygen -l` line per
/// host key, an `END` line. A block without its `END` (cut off, or text that
/// only looks like one) counts for nothing, blocks are never combined, and
/// inside the block only lines in `ssh-keygen -l`'s format count: a stray
/// `SHA256:` word that user data echoes to the console adds nothing.
pub fn console_fingerprints(console: &str) -> Vec<String> {
    let mut open: Option<Vec<String>> = None;
    let mut last = Vec::new();
    for line in console.lines() {
        match payload(line) {
            Some(BEGIN) => open = Some(Vec::new()),
            Some(END) => {
                if let Some(block) = open.take() {
                    last = block;
                }
            }
            Some(p) => {
                if let (Some(block), Some(print)) = (open.as_mut(), keygen_line(p)) {
                    block.push(print.to_string());
                }
            }
            None => {}
        }
    }
    last
}

/// What a console line says once the logger's framing is off: cloud-init's
/// lines are bare, `ec2: ...`, or `<14>Dec  5 10:10:57 ec2: ...` (an RFC 3164
/// header, as util-linux `logger --stderr` prints it). Anything else (kernel
/// messages, other services' output interleaved with the block) is None.
fn payload(line: &str) -> Option<&str> {
    let line = line.trim_end_matches('\r').trim_end();
    let Some((head, rest)) = line.split_once("ec2: ") else {
        return Some(line);
    };
    (head.is_empty() || syslog_header(head)).then_some(rest)
}

/// `<PRI>Mmm dd hh:mm:ss ` (the day space-padded), optionally without `<PRI>`.
fn syslog_header(head: &str) -> bool {
    let head = match head.strip_prefix('<') {
        Some(h) => match h.split_once('>') {
            Some((pri, rest)) if !pri.is_empty() && pri.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => return false,
        },
        None => head,
    };
    let b = head.as_bytes();
    let shape = b"Aaa dd dd:dd:dd ";
    b.len() == shape.len()
        && b.iter().zip(shape).enumerate().all(|(i, (c, s))| match s {
            b'A' => c.is_ascii_uppercase(),
            b'a' => c.is_ascii_lowercase(),
            // The day of the month is space-padded.
            b'd' if i == 4 => c.is_ascii_digit() || *c == b' ',
            b'd' => c.is_ascii_digit(),
            other => c == other,
        })
}

/// The fingerprint of one `ssh-keygen -l` line, `<bits> SHA256:<base64>
/// <comment> (<TYPE>)`: bits a number, the hash 43 characters of unpadded
/// base64 (32 bytes), the comment anything (`no comment` included), the type
/// in upper case in parentheses at the end.
fn keygen_line(line: &str) -> Option<&str> {
    let mut words = line.split(' ');
    let bits = words.next()?;
    let print = words.next()?;
    let rest = words.collect::<Vec<_>>();
    let kind = rest.last()?;
    let hash = print.strip_prefix("SHA256:")?;
    let kind_ok = kind.len() > 2
        && kind.starts_with('(')
        && kind.ends_with(')')
        && kind[1..kind.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    let ok = !bits.is_empty()
        && bits.bytes().all(|b| b.is_ascii_digit())
        && hash.len() == 43
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        && rest.len() >= 2
        && kind_ok;
    ok.then_some(print)
}

fn bastion(b: &crate::bake::BastionSpec) -> Result<crate::ssh::Bastion, BakeError> {
    let key = PrivateKey::parse(&b.private_key)
        .map_err(|e| BakeError::Key(format!("ssh.bastion.private_key: {e}")))?;
    let trust = match &b.host_key {
        Some(k) => Trust::Key(
            PublicKey::parse(k)
                .map_err(|e| BakeError::Invalid(format!("ssh.bastion.host_key: {e}")))?,
        ),
        None => Trust::FirstSeen,
    };
    Ok(crate::ssh::Bastion {
        host: b.host.clone(),
        port: b.port,
        username: b.username.clone(),
        key,
        host_key: HostKeyPolicy::new(trust),
    })
}

impl Step for Connect {
    fn name(&self) -> &'static str {
        "connect"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            let key = cx
                .key
                .clone()
                .ok_or_else(|| BakeError::Internal("no temporary key".into()))?;
            cx.host_key = HostKeyPolicy::new(trust(cx).await?);
            let target = SshTarget {
                host: address(cx)?,
                port: cx.spec.ssh.port,
                username: cx.spec.ssh.username.clone(),
                key,
                timeout: cx.spec.ssh.timeout,
                bastion: cx.spec.ssh.bastion.as_ref().map(bastion).transpose()?,
            };
            let session = SshSession::connect(&target, &cx.host_key, &cx.cancel).await?;
            cx.ssh = Some(session);
            cx.ssh_target = Some(target);
            Ok(())
        })
    }
    fn cleanup<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            if let Some(s) = cx.ssh.take() {
                s.close().await;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::console_fingerprints;

    const ED: &str = "SHA256:Nw6mYsl6YcYpV1rHgBnZUd7qyPRuHpLHL0NV/aWnJzE";
    const EC: &str = "SHA256:2ykDq5S2w5tfZDzjPO5BUB5CeCYVsrOsx4h08bsVTYQ";
    const FORGED: &str = "SHA256:Zm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9";

    /// What cloud-init prints on an Amazon Linux console (`ec2:` lines).
    fn block(prefix: &str, prints: &[(&str, &str)]) -> String {
        let mut s = format!(
            "{prefix}\n{prefix}#############################################################\n\
             {prefix}-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
        );
        for (p, kind) in prints {
            s += &format!("{prefix}256 {p} root@ip-172-31-5-9 ({kind})\n");
        }
        s += &format!(
            "{prefix}-----END SSH HOST KEY FINGERPRINTS-----\n\
             {prefix}#############################################################\n"
        );
        s
    }

    #[test]
    fn reads_cloud_init_fingerprint_block() {
        let console = format!(
            "[    5.123456] cloud-init[1234]: Cloud-init v. 22.2.2 running 'modules:config'\n{}\
             {ED} outside\n",
            block("ec2: ", &[(EC, "ECDSA"), (ED, "ED25519")])
        );
        assert_eq!(console_fingerprints(&console), vec![EC, ED]);
        assert!(console_fingerprints("no block").is_empty());
    }

    #[test]
    fn reads_bare_and_syslog_framed_lines() {
        assert_eq!(
            console_fingerprints(&block("", &[(ED, "ED25519")])),
            vec![ED]
        );
        let ubuntu = block("<14>Dec  5 10:10:57 ec2: ", &[(ED, "ED25519")]);
        assert_eq!(console_fingerprints(&ubuntu), vec![ED]);
        // ssh-keygen prints "no comment" for a key without one; RSA keys have other bit counts.
        let c = format!(
            "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\nec2: 3072 {ED} no comment (RSA)\n\
             ec2: -----END SSH HOST KEY FINGERPRINTS-----\n"
        );
        assert_eq!(console_fingerprints(&c), vec![ED]);
    }

    #[test]
    fn a_block_without_end_counts_for_nothing() {
        let cut = "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\n\
                   ec2: 256 SHA256:Nw6mYsl6YcYpV1rHgBnZUd7qyPRuHpLHL0NV/aWnJzE root@x (ED25519)\n";
        assert!(console_fingerprints(cut).is_empty());
    }

    #[test]
    fn only_the_last_complete_block_counts() {
        // An earlier boot (or an earlier instance's text) listed another key.
        let c = format!(
            "{}{}",
            block("ec2: ", &[(FORGED, "ED25519")]),
            block("ec2: ", &[(ED, "ED25519")])
        );
        assert_eq!(console_fingerprints(&c), vec![ED]);
    }

    #[test]
    fn user_data_cannot_add_a_fingerprint() {
        // User data echoes a line that looks like one outside any block, a
        // partial block of its own, and a bare SHA256 word: none of it counts.
        let c = format!(
            "ec2: 256 {FORGED} root@x (ED25519)\n\
             -----BEGIN SSH HOST KEY FINGERPRINTS-----\n\
             256 {FORGED} evil (ED25519)\n\
             {}",
            block("ec2: ", &[(ED, "ED25519")])
        );
        assert_eq!(console_fingerprints(&c), vec![ED]);
        // A partial block opened just before the real one: the real BEGIN starts afresh.
        let inside = format!(
            "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 {FORGED} x (ED25519)\n{}",
            block("ec2: ", &[(ED, "ED25519")])
        );
        assert_eq!(console_fingerprints(&inside), vec![ED]);
        // Inside the block, only ssh-keygen -l lines count.
        let words = format!(
            "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\nec2: see {FORGED} here\n\
             ec2: {FORGED}\nec2: 256 {ED} root@x (ED25519)\nec2: -----END SSH HOST KEY FINGERPRINTS-----\n"
        );
        assert_eq!(console_fingerprints(&words), vec![ED]);
    }
}
