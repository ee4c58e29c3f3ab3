//! Launches the build instance and waits until it runs; cleanup terminates
//! it and waits until it is gone.

use super::{Step, StepFuture};
use crate::bake::spec::HostKeyCheck;
use crate::bake::{BakeContext, BakeError};
use crate::choices::Choice;
use crate::ec2::instances::LaunchSpec;
use crate::ec2::tags::BUILD_ID_TAG;
use crate::ec2::volumes::BlockDevice;
use crate::ssh::keys::PrivateKey;
use std::time::Duration;

pub struct Launch;

/// A host key pair for cloud-init's `ssh_keys`, in OpenSSH formats.
pub struct HostKeyPair {
    /// Secret: it goes into the user data and nowhere else.
    pub private_openssh: String,
    pub public_openssh: String,
}

/// The build instance's user data: a timer that makes an abandoned build
/// instance end itself, the generated host key if any, and the user's own
/// user data, as parts of cloud-init's multipart format.
///
/// The timer (see `timer.rs`) powers the instance off (and, with shutdown
/// behaviour `terminate`, has it terminated) a little after the create
/// timeout, even if nothing is left to clean up after it, across reboots;
/// the stop step removes it before the image is made.
///
/// The host key goes to cloud-init's `ssh_keys` (module cc_ssh, which runs
/// before sshd starts), so sshd presents it from its first answer. cloud-init
/// merges the cloud-config parts; user data that sets `ssh_keys` itself
/// conflicts with it.
///
/// User data that is already multipart MIME becomes one nested part:
/// cloud-init walks nested multiparts.
pub fn build_user_data(
    user: Option<&str>,
    create_timeout: Duration,
    host_key: Option<&HostKeyPair>,
) -> String {
    let timer = super::timer::install_script(super::timer::seconds_left(create_timeout));
    let user = user.filter(|u| !u.trim().is_empty());
    if user.is_none() && host_key.is_none() {
        return timer;
    }
    let mut parts = vec![part("text/x-shellscript", &timer)];
    if let Some(k) = host_key {
        let private: String = k
            .private_openssh
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect();
        parts.push(part(
            "text/cloud-config",
            &format!(
                "#cloud-config\nssh_keys:\n  ed25519_private: |\n{private}  ed25519_public: {}\n",
                k.public_openssh.trim()
            ),
        ));
    }
    if let Some(user) = user {
        let head = user.trim_start();
        if head
            .to_ascii_lowercase()
            .starts_with("content-type: multipart")
            || head.to_ascii_lowercase().starts_with("mime-version:")
        {
            // Its own headers make it a part as it stands.
            parts.push(format!("{user}\n"));
        } else {
            let kind = if head.starts_with("#cloud-config") {
                "text/cloud-config"
            } else {
                "text/x-shellscript"
            };
            parts.push(part(kind, user));
        }
    }
    let mut out = String::from(
        "Content-Type: multipart/mixed; boundary=\"==golden==\"\nMIME-Version: 1.0\n\n",
    );
    for p in parts {
        out += "--==golden==\n";
        out += &p;
    }
    out += "--==golden==--\n";
    out
}

fn part(kind: &str, body: &str) -> String {
    format!("Content-Type: {kind}; charset=\"us-ascii\"\n\n{body}\n")
}

/// The host key pair for `host_key_check = "generated"`.
fn generated_host_key(cx: &mut BakeContext<'_>) -> Result<Option<HostKeyPair>, BakeError> {
    if cx.spec.ssh.host_key_check != HostKeyCheck::Generated {
        return Ok(None);
    }
    let key = cx
        .build_host_key
        .get_or_insert_with(PrivateKey::generate_ed25519)
        .clone();
    let bad = |e: crate::ssh::keys::KeyError| BakeError::Key(format!("generated host key: {e}"));
    Ok(Some(HostKeyPair {
        private_openssh: key.private_openssh().map_err(bad)?,
        public_openssh: key.public_openssh().map_err(bad)?,
    }))
}

impl Step for Launch {
    fn name(&self) -> &'static str {
        "launch"
    }
    fn run<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            let source = cx.source.as_ref().map(|s| s.id.clone()).unwrap_or_default();
            let host_key = generated_host_key(cx)?;
            let launch = LaunchSpec {
                image_id: source,
                instance_type: cx.spec.instance_type.clone(),
                key_name: cx.launch_key_name.clone().unwrap_or_default(),
                // The temporary group, or the user's own (never both).
                security_group_ids: cx
                    .security_group_id
                    .iter()
                    .chain(&cx.network.security_group_ids)
                    .cloned()
                    .collect(),
                subnet_id: cx.network.subnet_id.clone(),
                options: cx.spec.launch.clone(),
                block_devices: launch_devices(
                    &cx.spec.launch_block_devices,
                    cx.spec
                        .encrypt_boot
                        .then_some(cx.spec.kms_key_id.as_deref()),
                    cx.source
                        .as_ref()
                        .and_then(|s| s.root_device_name.as_deref()),
                ),
                user_data: Some(build_user_data(
                    cx.spec.user_data.as_deref(),
                    cx.spec.create_timeout,
                    host_key.as_ref(),
                )),
                associate_public_ip: cx.spec.associate_public_ip,
                instance_tags: cx.run_tags("instance"),
                volume_tags: cx.volume_tags(),
                client_token: format!("golden-{}", cx.spec.build_id),
                http_tokens: cx.spec.metadata.http_tokens.as_str().to_string(),
                http_endpoint: cx.spec.metadata.http_endpoint.as_str().to_string(),
                http_put_response_hop_limit: cx.spec.metadata.http_put_response_hop_limit,
                spot: None,
            };
            let id = super::spot::launch_instance(cx, launch).await?;
            tracing::info!(instance = %id, "build instance launched");
            cx.instance = Some(crate::ec2::instances::InstanceInfo {
                id: id.clone(),
                ..Default::default()
            });
            cx.check_cancel()?;
            let info = cx
                .ec2
                .wait_instance_running(&id, cx.pace("run"), cx.spec.create_timeout, &cx.cancel)
                .await?;
            cx.spot_request_id = info.spot_request_id.clone();
            if let Some(r) = &cx.spot_request_id {
                let lifecycle = info.lifecycle.as_deref().unwrap_or("on-demand");
                tracing::info!(instance = %id, spot_request = %r, %lifecycle, "build instance launched by a spot request");
            }
            cx.instance = Some(info);
            Ok(())
        })
    }
    fn cleanup<'a, 'b: 'a>(&'a self, cx: &'a mut BakeContext<'b>) -> StepFuture<'a> {
        Box::pin(async move {
            // A one-time request closes with its instance anyway, and the
            // expiry sweep cancels a tagged one left open: not worth keeping
            // the instance alive for.
            if let Err(e) = super::spot::cancel_spot_requests(cx).await {
                tracing::warn!(error = %e, "could not cancel the spot request");
            }
            // Not recorded means RunInstances failed, perhaps after EC2 acted on it
            // (a lost response): look for anything launched with our build id.
            let ids = match cx.instance.take() {
                // Told to terminate by the release already.
                None if cx.released_instance.is_some() => {
                    cx.released_instance.take().into_iter().collect()
                }
                Some(inst) => {
                    // Launched by this bake: a not-found may only mean "not visible yet".
                    let never = tokio_util::sync::CancellationToken::new();
                    cx.ec2
                        .terminate_new_instances(std::slice::from_ref(&inst.id), &never)
                        .await?;
                    vec![inst.id]
                }
                None => {
                    let found = cx
                        .ec2
                        .instances_tagged(BUILD_ID_TAG, &cx.spec.build_id)
                        .await?;
                    cx.ec2.terminate_instances(&found).await?;
                    found
                }
            };
            if cx.security_group_id.is_some() {
                // EC2 refuses to delete the temporary group while an instance still
                // holds it: that deletion is the cheapest wait for the end.
                cx.terminating = ids;
                return Ok(());
            }
            let pace = Some(cx.pace("terminate"));
            cx.ec2
                .wait_instances_terminated(&ids, pace, Duration::from_secs(540))
                .await?;
            for id in ids {
                tracing::info!(instance = %id, "build instance terminated");
            }
            Ok(())
        })
    }
}

/// The build instance's devices: the user's, and with `encrypt_boot` the
/// source's root device encrypted (unless its own block says otherwise), so
/// the image's root snapshot comes out encrypted without a copy.
/// `encrypt`: `Some(key)` with `encrypt_boot` (the key may be the default).
fn launch_devices(
    user: &[BlockDevice],
    encrypt: Option<Option<&str>>,
    root: Option<&str>,
) -> Vec<BlockDevice> {
    let mut devices = user.to_vec();
    let (Some(key), Some(root)) = (encrypt, root) else {
        return devices;
    };
    let key = key.map(str::to_string);
    match devices.iter_mut().find(|d| d.device_name == root) {
        Some(d) => {
            d.encrypted.get_or_insert(true);
            if d.kms_key_id.is_none() {
                d.kms_key_id = key;
            }
        }
        None => devices.push(BlockDevice {
            device_name: root.to_string(),
            encrypted: Some(true),
            kms_key_id: key,
            ..Default::default()
        }),
    }
    devices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypt_boot_encrypts_the_source_root_unless_its_block_says_otherwise() {
        let root = Some("/dev/xvda");
        let added = launch_devices(&[], Some(Some("alias/k")), root);
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].device_name, "/dev/xvda");
        assert_eq!(added[0].encrypted, Some(true));
        assert_eq!(added[0].kms_key_id.as_deref(), Some("alias/k"));
        let user = [BlockDevice {
            device_name: "/dev/xvda".into(),
            volume_size: Some(30),
            kms_key_id: Some("alias/mine".into()),
            ..Default::default()
        }];
        let merged = launch_devices(&user, Some(None), root);
        assert_eq!(
            merged.len(),
            1,
            "the user's root block is completed, not doubled"
        );
        assert_eq!(merged[0].volume_size, Some(30));
        assert_eq!(merged[0].encrypted, Some(true));
        assert_eq!(merged[0].kms_key_id.as_deref(), Some("alias/mine"));
        assert_eq!(launch_devices(&user, None, root), user.to_vec());
        assert_eq!(
            launch_devices(&[], Some(None), None),
            vec![],
            "no root known: nothing to do"
        );
    }

    fn pair() -> HostKeyPair {
        HostKeyPair {
            private_openssh: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\nNzaC1r\n-----END OPENSSH PRIVATE KEY-----\n".into(),
            public_openssh: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey".into(),
        }
    }

    #[test]
    fn self_destruct_follows_the_create_timeout_and_keeps_user_data() {
        let plain = build_user_data(None, Duration::from_secs(3600), None);
        assert_eq!(plain, super::super::timer::install_script(3660));
        assert!(plain.contains("+ 3660 ))"), "{plain}");
        let mixed = build_user_data(
            Some("#cloud-config\npackages: [nginx]"),
            Duration::from_secs(60),
            None,
        );
        assert!(mixed.contains("+ 120 ))"), "{mixed}");
        assert!(mixed.contains("Content-Type: text/cloud-config"), "{mixed}");
        assert!(mixed.contains("packages: [nginx]"), "{mixed}");
        assert!(!mixed.contains("ssh_keys"), "{mixed}");
    }

    #[test]
    fn the_generated_host_key_goes_to_cloud_init_ssh_keys() {
        let ud = build_user_data(None, Duration::from_secs(60), Some(&pair()));
        let want = "Content-Type: text/cloud-config; charset=\"us-ascii\"\n\n#cloud-config\nssh_keys:\n  \
                    ed25519_private: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    b3Blbn\n    NzaC1r\n    \
                    -----END OPENSSH PRIVATE KEY-----\n  ed25519_public: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey\n";
        assert!(ud.starts_with("Content-Type: multipart/mixed;"), "{ud}");
        assert!(ud.contains(want), "{ud}");
        assert!(ud.contains("+ 120 ))"), "{ud}");
        assert!(ud.ends_with("--==golden==--\n"), "{ud}");
    }

    #[test]
    fn multipart_user_data_is_nested_beside_the_key_and_the_timer() {
        let user = "Content-Type: multipart/mixed; boundary=\"u\"\nMIME-Version: 1.0\n\n--u\n\
                    Content-Type: text/x-shellscript\n\n#!/bin/sh\necho hi\n--u--\n";
        let ud = build_user_data(Some(user), Duration::from_secs(60), Some(&pair()));
        assert!(
            ud.contains(&format!("--==golden==\n{user}\n--==golden==--\n")),
            "{ud}"
        );
        assert!(ud.contains("ssh_keys:"), "{ud}");
        assert!(ud.contains("+ 120 ))"), "{ud}");
    }
}
