//! Stops the build instance so the image is consistent.

use super::{Step, StepFuture};
use crate::bake::{BakeContext, BakeError};
use crate::ssh::exec::sh_quote;

pub struct Stop;

/// Removes the bake's public key from the login user's authorized_keys, so
/// the image does not trust a key that only existed for the build (Packer
/// leaves it there). Matches the key's base64 body, whatever the comment;
/// rewrites in place to keep the file's owner and mode.
async fn forget_temporary_key(
    cx: &BakeContext<'_>,
    ssh: &crate::ssh::SshSession,
) -> Result<(), BakeError> {
    // The user's own key stays: it is theirs to keep or not.
    let (Some(key), Some(_)) = (&cx.key, &cx.key_pair_name) else {
        return Ok(());
    };
    let public = key
        .public_openssh()
        .map_err(|e| BakeError::Key(e.to_string()))?;
    let Some(blob) = public.split_whitespace().nth(1) else {
        return Ok(());
    };
    let script = format!(
        "f=\"$HOME/.ssh/authorized_keys\"; if [ -f \"$f\" ] && grep -qF '{blob}' \"$f\"; then \
         grep -vF '{blob}' \"$f\" > \"$f.golden\"; cat \"$f.golden\" > \"$f\"; rm -f \"$f.golden\"; fi"
    );
    let r = ssh.exec(&script, &cx.cancel, |_| {}).await?;
    if r.exit_status != Some(0) {
        tracing::warn!(status = ?r.exit_status, "could not remove the temporary key from authorized_keys");
    }
    Ok(())
}

/// Where cloud-init writes the host keys it is given, on every distribution.
const HOST_KEY_DIR: &str = "/etc/ssh";

/// A command that removes, from `dir`, the host key files whose public key
/// is `public` (`ssh-ed25519 AAAA...`, compared by type and base64 body, the
/// comment aside) and the private key beside each, and prints each path it
/// removed. Nothing else is touched: not the image's other host keys, not a
/// file of another name, whatever it holds. The files are root's: it goes
/// through sudo when not run as root.
pub fn host_key_removal_command(dir: &str, public: &str) -> String {
    let want: Vec<&str> = public.split_whitespace().take(2).collect();
    let want = sh_quote(&want.join(" "));
    let dir = sh_quote(dir);
    let script = sh_quote(&format!(
        "want={want}\n\
         for pub in {dir}/ssh_host_*_key.pub; do\n\
         \x20 [ -f \"$pub\" ] || continue\n\
         \x20 t=; b=; read -r t b _ < \"$pub\" || true\n\
         \x20 [ \"$t $b\" = \"$want\" ] || continue\n\
         \x20 rm -f -- \"${{pub%.pub}}\" \"$pub\" && echo \"${{pub%.pub}}\"\n\
         done\n"
    ));
    format!("if [ \"$(id -u)\" = 0 ]; then sh -c {script}; else sudo -n sh -c {script}; fi")
}

/// Removes the generated host key (`host_key_check = "generated"`) that
/// cloud-init installed from the user data, so the image does not carry a
/// private key that was handed around in user data. Only the files holding
/// exactly that key go. An instance launched from the image gets new host
/// keys anyway: cloud-init's ssh module deletes the host keys it finds
/// (`ssh_deletekeys`) and makes new ones on each new instance.
async fn forget_build_host_key(
    cx: &BakeContext<'_>,
    ssh: &crate::ssh::SshSession,
) -> Result<(), BakeError> {
    let Some(key) = &cx.build_host_key else {
        return Ok(());
    };
    let public = key
        .public_openssh()
        .map_err(|e| BakeError::Key(e.to_string()))?;
    let command = host_key_removal_command(HOST_KEY_DIR, &public);
    let mut removed = Vec::new();
    let r = ssh
        .exec(&command, &cx.cancel, |line| {
            if let crate::ssh::exec::OutputLine::Stdout(l) = line {
                removed.push(l.to_string());
            }
        })
        .await?;
    if r.exit_status == Some(0) {
        tracing::info!(
            ?removed,
            "generated host key files removed from {HOST_KEY_DIR}"
        );
    } else {
        tracing::warn!(status = ?r.exit_status, output = ?r.tail, "could not remove the generated host key from {HOST_KEY_DIR}; new instances replace it at first boot");
    }
    Ok(())
}

/// Removes the instance's own timer (see `timer.rs`) so the image does not
/// carry it: an image with a past deadline would power off every instance
/// launched from it, so a removal that cannot be confirmed fails the bake.
async fn disarm_timer(cx: &BakeContext<'_>, ssh: &crate::ssh::SshSession) -> Result<(), BakeError> {
    let mut confirmed = false;
    let r = ssh
        .exec(&super::timer::removal_command(), &cx.cancel, |line| {
            if let crate::ssh::exec::OutputLine::Stdout(l) = line {
                confirmed |= l.trim() == "golden-timer-removed";
            }
        })
        .await?;
    if r.exit_status != Some(0) || !confirmed {
        return Err(BakeError::Invalid(format!(
            "could not remove the build instance's self-destruct timer (exit {:?}; the login \
             user needs root or passwordless sudo): {}",
            r.exit_status,
            r.tail.join("\n")
        )));
    }
    tracing::info!("self-destruct timer removed from the build instance");
    Ok(())
}

impl Step for Stop {
    fn name(&self) -> &'static str {
        "stop"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            cx.ensure_connected().await?;
            if let Some(s) = cx.ssh.take() {
                disarm_timer(cx, &s).await?;
                forget_temporary_key(cx, &s).await?;
                forget_build_host_key(cx, &s).await?;
                s.close().await;
            }
            let id = cx
                .instance
                .as_ref()
                .map(|i| i.id.clone())
                .ok_or_else(|| BakeError::Internal("no build instance".into()))?;
            cx.cancellable(cx.ec2.stop_instance(&id)).await?;
            cx.ec2
                .wait_instance_stopped(&id, cx.pace("stop"), cx.spec.create_timeout, &cx.cancel)
                .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::host_key_removal_command;
    use std::path::Path;

    const OURS: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOursOursOursOursOursOursOursOursOursOurs";
    const THEIRS: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITheirsTheirsTheirsTheirsTheirsTheirsTheir";

    fn write(dir: &Path, name: &str, body: &str) {
        if let Err(e) = std::fs::write(dir.join(name), body) {
            panic!("{name}: {e}")
        }
    }

    #[test]
    fn removes_only_the_host_key_files_holding_the_generated_key() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("no temp dir")
        };
        let d = tmp.path();
        // What cloud-init wrote from our user data (its own comment on it).
        write(d, "ssh_host_ed25519_key", "PRIVATE OURS");
        write(
            d,
            "ssh_host_ed25519_key.pub",
            &format!("{OURS} root@build\n"),
        );
        // The image's other host keys, and files of other names holding our key.
        write(d, "ssh_host_ecdsa_key", "PRIVATE THEIRS");
        write(d, "ssh_host_ecdsa_key.pub", &format!("{THEIRS}\n"));
        write(d, "ssh_host_rsa_key.pub", &format!("{OURS}x\n"));
        write(d, "authorized_keys", &format!("{OURS}\n"));
        write(d, "ssh_host_ed25519_key.pub.bak", &format!("{OURS}\n"));
        let script = host_key_removal_command(&d.display().to_string(), &format!("{OURS} comment"));
        let Ok(out) = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
        else {
            panic!("cannot run sh")
        };
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            d.join("ssh_host_ed25519_key").display().to_string()
        );
        let mut left: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        left.sort();
        assert_eq!(
            left,
            [
                "authorized_keys",
                "ssh_host_ecdsa_key",
                "ssh_host_ecdsa_key.pub",
                "ssh_host_ed25519_key.pub.bak",
                "ssh_host_rsa_key.pub"
            ]
        );
    }

    #[test]
    fn a_directory_without_host_keys_is_fine() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("no temp dir")
        };
        let script = host_key_removal_command(&tmp.path().display().to_string(), OURS);
        let Ok(out) = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
        else {
            panic!("cannot run sh")
        };
        assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    }
}
