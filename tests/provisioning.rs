//! The shell step's options, end to end on the real sshd.

mod support;

use std::time::{Duration, Instant};
use support::{Bed, TfVersion, flat};

on_both_terraforms!(
    shell_options_behave_as_in_packer,
    step_timeout_ends_the_remote_command,
    file_steps_upload_and_download,
    reboot_step_reconnects,
    own_key_pair,
    through_a_bastion,
);

/// The peak resident set (VmHWM, KiB) of the provider processes that are
/// children of `parent`, sampled until `parent` exits or `limit` passes
/// (then it is killed); other engineers' providers on this machine are not
/// counted.
fn run_measuring_provider_rss(
    mut cmd: std::process::Command,
    limit: Duration,
) -> (std::process::Output, u64, bool) {
    use std::process::Stdio;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let parent = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0u64;
            let mut providers: Vec<String> = Vec::new();
            let t0 = Instant::now();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for e in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Ok(st) = std::fs::read_to_string(e.path().join("status")) else {
                        continue;
                    };
                    let field = |k: &str| {
                        st.lines()
                            .find_map(|l| l.strip_prefix(k))
                            .map(|v| v.trim().to_string())
                    };
                    if !field("Name:").is_some_and(|n| n.starts_with("terraform-provi"))
                        || field("PPid:") != Some(parent.to_string())
                    {
                        continue;
                    }
                    let pid = e.file_name().to_string_lossy().to_string();
                    if !providers.contains(&pid) {
                        providers.push(pid);
                    }
                    if let Some(kib) = field("VmHWM:")
                        .and_then(|v| v.split_whitespace().next().map(str::to_string))
                        .and_then(|v| v.parse::<u64>().ok())
                    {
                        peak = peak.max(kib);
                    }
                }
                if t0.elapsed() > limit {
                    // Too slow: end the provider and terraform, and say so.
                    let _ = std::process::Command::new("kill")
                        .arg("-KILL")
                        .args(&providers)
                        .arg(parent.to_string())
                        .status();
                    return (peak, true);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (peak, false)
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (peak, killed) = sampler.join().unwrap();
    (out, peak, killed)
}

/// A command that prints 200 MB without a newline (`base64 -w0` of a large
/// file): the output is cut into bounded lines, so the bake finishes quickly
/// and the provider's memory stays small.
#[test]
fn a_huge_line_of_output_is_bounded() {
    let bed = Bed::start();
    let r = bed.remote_dir();
    let steps = format!(
        r#"  provision {{
    shell {{
      inline = ["mkdir -p {r}", "head -c 200000000 /dev/zero | tr '\\0' 'a'", "echo after > {r}/after"]
    }}
  }}
"#,
        r = r.display()
    );
    // The provider logs to Terraform's stderr pipe, as it does for users.
    let tf = bed.workspace("huge-line", &resource(&bed, &steps), TfVersion::Current);
    tf.init();
    let t0 = Instant::now();
    let (out, peak_kib, killed) = run_measuring_provider_rss(
        tf.command(&["apply", "-auto-approve", "-no-color", "-input=false"]),
        Duration::from_secs(120),
    );
    let elapsed = t0.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("apply took {elapsed:?}; provider peak RSS {peak_kib} KiB");
    assert!(
        !killed,
        "the apply did not end within 120s; peak RSS {peak_kib} KiB"
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        std::fs::read_to_string(r.join("after")).unwrap_or_default(),
        "after\n",
        "the command ran past the long line"
    );
    assert!(peak_kib > 0, "the provider's RSS was never sampled");
    assert!(
        peak_kib < 100 * 1024,
        "provider peak RSS {peak_kib} KiB (limit 100 MiB)"
    );
    bed.assert_no_leftovers();
}

fn resource(bed: &Bed, steps: &str) -> String {
    format!(
        "{}\nresource \"golden_ami\" \"img\" {{\n  name_prefix = \"shell-\"\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-0a11ce0000000a001\"\n{}\n{steps}\n}}\n",
        bed.provider_hcl(),
        bed.ssh_hcl()
    )
}

fn shell_options_behave_as_in_packer(v: TfVersion) {
    let bed = Bed::start();
    let r = bed.remote_dir();
    let r = r.display();
    let steps = format!(
        r#"
  provision {{
    shell {{
      inline = ["mkdir -p {r}/scripts"]
    }}
  }}
  provision {{
    shell {{
      inline      = ["echo \"$0\" > {r}/script-path"]
      remote_path = "{r}/scripts/fixed-name.sh"
      skip_clean  = true
    }}
  }}
  provision {{
    shell {{
      # fails once, then succeeds: max_retries
      inline      = ["if [ ! -f {r}/attempted ]; then touch {r}/attempted; exit 1; fi", "echo second > {r}/retried"]
      max_retries = 1
    }}
  }}
  provision {{
    shell {{
      inline           = ["echo partial > {r}/exit3", "exit 3"]
      valid_exit_codes = [0, 3]
    }}
  }}
  provision {{
    shell {{
      inline_shebang  = "/bin/bash -e"
      inline          = ["echo \"$BASH_VERSION\" > {r}/bash"]
      execute_command = "{{{{ .Vars }}}} /bin/bash {{{{ .Path }}}}"
      remote_folder   = "{r}/scripts"
      skip_clean      = true
      pause_before    = "1s"
    }}
  }}
  provision {{
    shell {{
      scripts = ["${{path.module}}/one.sh", "${{path.module}}/two.sh"]
    }}
  }}
"#
    );
    let tf = bed.workspace("shell", &resource(&bed, &steps), v);
    std::fs::write(
        tf.dir.join("one.sh"),
        format!("#!/bin/sh\necho one >> {r}/order\n"),
    )
    .unwrap();
    std::fs::write(
        tf.dir.join("two.sh"),
        format!("#!/bin/sh\necho two >> {r}/order\n"),
    )
    .unwrap();
    tf.init();
    let t0 = Instant::now();
    tf.apply(&[]);
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "pause_before waited"
    );
    let read = |f: &str| std::fs::read_to_string(format!("{r}/{f}")).unwrap_or_default();
    assert_eq!(read("retried"), "second\n", "the retry ran");
    assert_eq!(read("exit3"), "partial\n");
    assert!(
        !read("bash").trim().is_empty(),
        "the inline shebang ran bash"
    );
    assert_eq!(read("order"), "one\ntwo\n", "scripts run in order");
    let kept: Vec<_> = std::fs::read_dir(format!("{r}/scripts"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(kept.len(), 2, "skip_clean keeps the uploaded scripts");
    assert_eq!(
        read("script-path").trim(),
        format!("{r}/scripts/fixed-name.sh"),
        "remote_path names the script"
    );
    // Without skip_clean nothing is left in /tmp: scripts and environment files are removed.
    bed.assert_no_leftovers();
}

fn step_timeout_ends_the_remote_command(v: TfVersion) {
    let bed = Bed::start();
    let nap = 200_000 + u32::from(bed.ssh_port);
    let steps = format!(
        "  provision {{\n    shell {{\n      inline  = [\"sleep {nap}\"]\n      timeout = \"2s\"\n    }}\n  }}\n"
    );
    let tf = bed.workspace("step-timeout", &resource(&bed, &steps), v);
    tf.init();
    let t0 = Instant::now();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(t0.elapsed() < Duration::from_secs(30), "{out}");
    assert!(
        flat(&out).contains("provision[0] (shell) failed: timed out after 2s"),
        "{out}"
    );
    support::eventually(
        Duration::from_secs(10),
        "the timed-out command ending remotely",
        || support::no_process_matching(&format!("sleep {nap}")),
    );
    bed.assert_no_leftovers();
    assert!(bed.own_images().is_empty());
}

/// A step timeout ends everything the step started, also what runs as root
/// through `sudo` and what left the command's process group (a job under
/// `set -m`, GNU `timeout`, `make`): the whole session the command leads.
/// (On this test bed the login user is root; on an instance, the `sudo -n`
/// half is what reaches root's processes.)
#[test]
fn step_timeout_ends_a_command_run_with_sudo() {
    let bed = Bed::start();
    let nap = 300_000 + u32::from(bed.ssh_port);
    let steps = format!(
        r#"  provision {{
    shell {{
      inline_shebang  = "/bin/bash"
      inline          = ["set -m", "sleep {nap} & wait"]
      execute_command = "chmod +x {{{{ .Path }}}}; {{{{ .Vars }}}} sudo -n -E {{{{ .Path }}}}"
      timeout         = "2s"
    }}
  }}
"#
    );
    let tf = bed.workspace("sudo-timeout", &resource(&bed, &steps), TfVersion::Current);
    tf.init();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(
        flat(&out).contains("provision[0] (shell) failed: timed out after 2s"),
        "{out}"
    );
    support::eventually(
        Duration::from_secs(10),
        "the timed-out sudo command ending remotely",
        || support::no_process_matching(&format!("sleep {nap}")),
    );
    bed.assert_no_leftovers();
}

fn file_steps_upload_and_download(v: TfVersion) {
    use std::os::unix::fs::PermissionsExt;
    let bed = Bed::start();
    let r = bed.remote_dir();
    let r = r.display();
    let steps = format!(
        r#"
  provision {{
    shell {{
      inline = ["mkdir -p {r}/etc {r}/many {r}/report/sub", "echo manifest > {r}/report/manifest.txt", "echo deep > {r}/report/sub/deep.txt", "chmod 640 {r}/report/sub/deep.txt"]
    }}
  }}
  provision {{
    file {{
      source      = "${{path.module}}/site/"
      destination = "{r}/etc"
    }}
  }}
  provision {{
    file {{
      sources     = ["${{path.module}}/a.txt", "${{path.module}}/b.sh"]
      destination = "{r}/many"
    }}
  }}
  provision {{
    file {{
      content     = "inline content\n"
      destination = "{r}/inline.txt"
    }}
  }}
  provision {{
    file {{
      direction   = "download"
      source      = "{r}/report/"
      destination = "${{path.module}}/downloaded"
    }}
  }}
"#
    );
    let tf = bed.workspace("files", &resource(&bed, &steps), v);
    let site = tf.dir.join("site/conf.d");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("app.conf"), "listen 80;\n").unwrap();
    std::fs::set_permissions(
        site.join("app.conf"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(tf.dir.join("a.txt"), "a\n").unwrap();
    std::fs::write(tf.dir.join("b.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(tf.dir.join("b.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    tf.init();
    tf.apply(&[]);

    let mode = |p: String| {
        std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    // Directory contents ("site/"), recursively, modes kept.
    assert_eq!(
        std::fs::read_to_string(format!("{r}/etc/conf.d/app.conf")).unwrap(),
        "listen 80;\n"
    );
    assert_eq!(mode(format!("{r}/etc/conf.d/app.conf")), 0o600);
    // Several sources land inside the destination.
    assert_eq!(
        std::fs::read_to_string(format!("{r}/many/a.txt")).unwrap(),
        "a\n"
    );
    assert_eq!(mode(format!("{r}/many/b.sh")), 0o750);
    assert_eq!(
        std::fs::read_to_string(format!("{r}/inline.txt")).unwrap(),
        "inline content\n"
    );
    // Downloaded back to this machine, recursively, modes kept.
    let down = tf.dir.join("downloaded");
    assert_eq!(
        std::fs::read_to_string(down.join("manifest.txt")).unwrap(),
        "manifest\n"
    );
    assert_eq!(
        std::fs::read_to_string(down.join("sub/deep.txt")).unwrap(),
        "deep\n"
    );
    assert_eq!(mode(down.join("sub/deep.txt").display().to_string()), 0o640);
    // A download reads the instance: it does not count as a local input.
    assert_eq!(tf.plan_exit(&[]).0, 0);
}

/// Downloads trust the instance no further than they must: set-id bits are
/// dropped, a file is never readable by others while it is written (it is
/// created with its final mode), a symlink inside a downloaded directory is
/// refused (the source itself is followed: the user named it), and neither
/// is anything but a regular file or a directory (a device is endless).
#[test]
fn downloads_keep_safe_modes_and_refuse_links() {
    use std::os::unix::fs::PermissionsExt;
    let bed = Bed::start();
    let r = bed.remote_dir();
    let r = r.display();
    let download = |source: &str| {
        format!(
            r#"
  provision {{
    shell {{
      inline = ["mkdir -p {r}/out {r}/links", "head -c 50000000 /dev/zero > {r}/out/secret.bin", "chmod 600 {r}/out/secret.bin", "echo tool > {r}/out/tool", "chmod 6755 {r}/out/tool", "echo real > {r}/real.txt", "ln -sf {r}/real.txt {r}/toplink", "ln -sf /etc/hostname {r}/links/host"]
    }}
  }}
  provision {{
    file {{
      direction   = "download"
      source      = "{source}"
      destination = "${{path.module}}/down/"
    }}
  }}
"#
        )
    };
    let tf = bed.workspace(
        "download-safety",
        &resource(&bed, &download(&format!("{r}/out"))),
        TfVersion::Current,
    );
    tf.init();
    let secret = tf.dir.join("down/out/secret.bin");
    let mut apply = tf
        .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Every mode the file is seen with while it is written.
    let mut modes = std::collections::BTreeSet::new();
    let status = loop {
        if let Ok(m) = std::fs::symlink_metadata(&secret) {
            modes.insert(m.permissions().mode() & 0o7777);
        }
        if let Some(st) = apply.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    assert!(status.success(), "the download apply failed");
    assert_eq!(std::fs::metadata(&secret).unwrap().len(), 50_000_000);
    assert_eq!(
        modes.into_iter().collect::<Vec<_>>(),
        [0o600],
        "the file was seen with another mode while written"
    );
    let tool = std::fs::metadata(tf.dir.join("down/out/tool")).unwrap();
    assert_eq!(
        tool.permissions().mode() & 0o7777,
        0o755,
        "set-id bits dropped"
    );

    // The source itself may be a link (/etc/os-release is one): followed.
    std::fs::write(
        tf.dir.join("main.tf"),
        resource(&bed, &download(&format!("{r}/toplink"))),
    )
    .unwrap();
    tf.apply(&["-replace=golden_ami.img".into()]);
    assert_eq!(
        std::fs::read_to_string(tf.dir.join("down/toplink")).unwrap(),
        "real\n"
    );

    // A link inside a downloaded directory is refused, and nothing is read through it.
    std::fs::write(
        tf.dir.join("main.tf"),
        resource(&bed, &download(&format!("{r}/links"))),
    )
    .unwrap();
    let out = tf.fails(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-input=false",
        "-replace=golden_ami.img",
    ]);
    assert!(
        flat(&out).contains(&format!("{r}/links/host is a symbolic link")),
        "{out}"
    );
    assert!(!tf.dir.join("down/links/host").exists());

    // A device is not a file to download (/dev/zero never ends).
    std::fs::write(
        tf.dir.join("main.tf"),
        resource(&bed, &download("/dev/zero")),
    )
    .unwrap();
    let out = tf.fails(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-input=false",
        "-replace=golden_ami.img",
    ]);
    assert!(
        flat(&out).contains("/dev/zero is not a regular file or a directory"),
        "{out}"
    );
    bed.assert_no_leftovers();
}

/// `expect_disconnect`: the instance reboots (here: sshd is killed and comes
/// back on the same port with the same host key); the bake reconnects and
/// goes on.
fn reboot_step_reconnects(v: TfVersion) {
    let bed = Bed::start();
    let r = bed.remote_dir();
    std::fs::create_dir_all(&r).unwrap();
    let rd = r.display();
    let steps = format!(
        r#"
  provision {{
    shell {{
      inline            = ["touch {rd}/rebooting", "sleep 60"]
      expect_disconnect = true
    }}
  }}
  provision {{
    shell {{
      inline = ["touch {rd}/after-reboot"]
    }}
  }}
"#
    );
    let tf = bed.workspace("reboot", &resource(&bed, &steps), v);
    tf.init();
    let child = tf
        .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !r.join("rebooting").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the reboot step never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    bed.stop_sshd();
    std::thread::sleep(Duration::from_millis(1500));
    bed.restart_sshd();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        r.join("after-reboot").exists(),
        "the step after the reboot ran"
    );
    bed.assert_no_leftovers();
}

/// Bring your own key: the instance launches with the user's key pair, the
/// bake logs in with its private key, and no temporary pair is made. Launch
/// options reach RunInstances (read back from EC2: placement, tenancy,
/// capacity reservation preference, CPU credits, enclaves, EBS optimisation).
fn own_key_pair(v: TfVersion) {
    let bed = Bed::start();
    let key = bed.new_key_pair("my-key");
    let options = "  ebs_optimized = true\n  availability_zone = \"us-east-1b\"\n  tenancy = \"dedicated\"\n  placement_group = \"bakers\"\n  capacity_reservation_preference = \"none\"\n  enable_unlimited_credits = false\n  enable_nitro_enclave = true\n";
    let hcl = resource(&bed, options).replace(
        "    timeout  = \"30s\"\n",
        &format!("    timeout  = \"30s\"\n    key_pair_name = \"my-key\"\n    private_key = file(\"{}\")\n", key.display()),
    );
    let tf = bed.workspace("own-key", &hcl, v);
    tf.init();
    tf.apply(&[]);
    assert_eq!(
        bed.key_pairs(),
        vec!["my-key"],
        "no temporary key pair was made, and the user's stays"
    );
    let (launched_with, ebs_optimized, launched, credits) = bed.rt.block_on(async {
        let o = bed.ec2.describe_instances().send().await.unwrap();
        let i = o.reservations()[0].instances()[0].clone();
        let c = bed
            .ec2
            .describe_instance_credit_specifications()
            .instance_ids(i.instance_id().unwrap())
            .send()
            .await
            .unwrap();
        let credits = c.instance_credit_specifications()[0]
            .cpu_credits()
            .map(str::to_string);
        (
            i.key_name().map(str::to_string),
            i.ebs_optimized(),
            i,
            credits,
        )
    });
    assert_eq!(launched_with.as_deref(), Some("my-key"));
    assert_eq!(ebs_optimized, Some(true));
    let placement = launched.placement().unwrap();
    assert_eq!(placement.availability_zone(), Some("us-east-1b"));
    assert_eq!(placement.tenancy().map(|t| t.as_str()), Some("dedicated"));
    assert_eq!(placement.group_name(), Some("bakers"));
    assert_eq!(
        launched
            .capacity_reservation_specification()
            .and_then(|c| c.capacity_reservation_preference())
            .map(|p| p.as_str()),
        Some("none")
    );
    assert_eq!(
        launched.enclave_options().and_then(|e| e.enabled()),
        Some(true)
    );
    // T3 types launch unlimited unless told: `false` asks for standard.
    assert_eq!(credits.as_deref(), Some("standard"));
    if matches!(v, TfVersion::Current) {
        assert!(
            !tf.state_file().contains("PRIVATE KEY"),
            "write-only: the private key is not in state"
        );
    }
    assert!(bed.live_instances().is_empty());
    tf.destroy(&[]);
}

/// `ssh.bastion`: the bake logs in to the jump host, opens a direct-tcpip
/// channel to the instance and speaks SSH inside it. Here the test bed's sshd
/// plays both parts; its log shows the bastion key's login.
fn through_a_bastion(v: TfVersion) {
    let bed = Bed::start();
    let key = bed.new_key_pair("bastion-key");
    let print = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    let fingerprint = String::from_utf8_lossy(&print.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let bastion = format!(
        "    bastion {{\n      host = \"127.0.0.1\"\n      port = {}\n      username = \"{}\"\n      private_key = file(\"{}\")\n      host_key = \"{}\"\n    }}\n",
        bed.ssh_port,
        bed.ssh_user,
        key.display(),
        bed.host_key_pub
    );
    // The bastion and the instance are the bed's one sshd: the instance's
    // key is pinned too, so no generated key replaces the bastion's.
    let hcl = resource(&bed, "").replace(
        "    timeout  = \"30s\"\n",
        &format!(
            "    timeout  = \"30s\"\n    host_key = \"{}\"\n{bastion}",
            bed.host_key_pub
        ),
    );
    let tf = bed.workspace("bastion", &hcl, v);
    tf.init();
    tf.apply(&[]);
    let log = std::fs::read_to_string(bed.dir.path().join("sshd.log")).unwrap();
    assert!(
        log.contains(&fingerprint),
        "the bastion key logged in:\n{log}"
    );
    // Terraform 1.11+ keeps the bastion's write-only key out of the state:
    // an in-place change and a destroy must work without it.
    let image_id = |tf: &support::Tf| support::golden_values(&tf.state_json())["id"].clone();
    let id = image_id(&tf);
    std::fs::write(
        tf.dir.join("main.tf"),
        hcl.replace(
            "name_prefix = \"shell-\"",
            "name_prefix = \"shell-\"\n  tags = { Team = \"web\" }",
        ),
    )
    .unwrap();
    tf.apply(&[]);
    assert_eq!(image_id(&tf), id, "a tag change is made in place");
    tf.destroy(&[]);
    assert!(bed.own_images().is_empty(), "destroyed");
    bed.rt.block_on(async {
        bed.ec2
            .delete_key_pair()
            .key_name("bastion-key")
            .send()
            .await
            .unwrap()
    });
    bed.assert_no_leftovers();
}

/// The instance's own timer survives a reboot step: with the runner killed
/// after it (`kill -9` of terraform and the plugin), the instance powers
/// itself off at its deadline (create timeout + margin after boot) and, with
/// shutdown behaviour `terminate`, EC2 terminates it. The bed plays the OS
/// (testbed/instance_os.py): the reboot ends every process of the first boot,
/// and the timer is back only if something re-arms it at boot.
#[test]
fn timer_survives_a_reboot_and_ends_an_abandoned_instance() {
    let bed = Bed::start();
    let r = bed.remote_dir();
    std::fs::create_dir_all(&r).unwrap();
    let rd = r.display();
    let steps = format!(
        r#"
  timeouts {{
    create = "40s"
  }}
  provision {{
    shell {{
      inline            = ["touch {rd}/rebooting", "sleep 60"]
      expect_disconnect = true
    }}
  }}
  provision {{
    shell {{
      inline = ["touch {rd}/after-reboot", "sleep 120"]
    }}
  }}
"#
    );
    let tf = bed.workspace("reboot-killed", &resource(&bed, &steps), TfVersion::Current);
    tf.init();
    let mut child = tf.apply_until(&r.join("rebooting"), "the step");
    let t_boot = Instant::now();
    let deadline = bed.instance_root().join("var/lib/golden-ami/deadline");
    assert!(deadline.exists(), "the user data armed the timer");
    bed.stop_sshd();
    std::thread::sleep(Duration::from_millis(1500));
    bed.restart_sshd();
    // The bake reconnects after the reboot; then the runner is lost.
    let t0 = Instant::now();
    while !r.join("after-reboot").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no reconnect after the reboot"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ok = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -9 of terraform and the plugin");
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(bed.live_instances().len(), 1, "nothing is left to clean up");
    // Deadline: 40 s + the 60 s margin after boot; the sandbox's sleepers were
    // all killed by the reboot, so only a re-armed timer can end it.
    support::eventually(
        Duration::from_secs(100 + 30).saturating_sub(t_boot.elapsed()),
        "the abandoned instance terminating itself",
        || bed.live_instances().is_empty(),
    );
    assert!(
        t_boot.elapsed() >= Duration::from_secs(90),
        "terminated before its deadline ({:?} after boot)",
        t_boot.elapsed()
    );
}

/// A normal bake removes the timer before the image is made: the files the
/// bed records at CreateImage (the instance's root) hold none of it, while
/// the instance had it during provisioning.
#[test]
fn the_image_is_made_after_the_timer_is_removed() {
    let bed = Bed::start();
    let r = bed.remote_dir();
    std::fs::create_dir_all(&r).unwrap();
    let root = bed.instance_root();
    let steps = format!(
        r#"
  provision {{
    shell {{
      inline = ["cd {root} && find . -type f > {rd}/during"]
    }}
  }}
"#,
        root = root.display(),
        rd = r.display()
    );
    let tf = bed.workspace("timer-removed", &resource(&bed, &steps), TfVersion::Current);
    tf.init();
    tf.apply(&[]);
    let during = std::fs::read_to_string(r.join("during")).unwrap();
    assert!(during.contains("./var/lib/golden-ami/deadline"), "{during}");
    assert!(
        during.contains("./var/lib/cloud/scripts/per-boot/golden-ami-timer"),
        "{during}"
    );
    let images = bed.own_images();
    assert_eq!(images.len(), 1);
    let files = bed.image_files(images[0].image_id().unwrap());
    assert!(
        !files.iter().any(|f| f.contains("golden-ami")),
        "the image carries the timer: {files:?}"
    );
    bed.assert_no_leftovers();
}
