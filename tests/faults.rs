//! Nothing leaks, whatever happens: killed processes and interrupts,
//! checked through the EC2 API.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{Bed, Tf, TfVersion, eventually};

on_both_terraforms!(
    sigkill_of_terraform_alone_cleans_up,
    sigkill_of_everything_is_swept_by_the_next_run,
    sigkill_of_everything_then_destroy,
    ctrl_c_during_launch,
    ctrl_c_while_waiting_for_ssh,
    ctrl_c_during_image_creation,
    create_timeout_cleans_up,
    second_ctrl_c_does_not_wedge_the_plugin,
    host_key_checks,
    security_group_admits_only_what_it_must,
);

/// A resource whose first bake blocks in provisioning until `release` exists.
fn slow_resource(bed: &Bed) -> String {
    let r = bed.remote_dir();
    format!(
        r#"{provider}
resource "golden_ami" "img" {{
  name_prefix   = "killed-"
  instance_type = "t3.micro"
  source_ami    = "ami-0a11ce0000000a001"
{ssh}
  provision {{
    shell {{
      inline = ["mkdir -p {r}", "if [ ! -f {r}/release ]; then touch {r}/started; sleep 120; fi"]
    }}
  }}
}}
output "id" {{
  value = golden_ami.img.id
}}
"#,
        provider = bed.provider_hcl(),
        ssh = bed.ssh_hcl(),
        r = r.display()
    )
}

fn kill(target: &str) {
    let ok = std::process::Command::new("kill")
        .args(["-KILL", "--", target])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {target}");
}

/// The terraform processes (not plugins) in process group `pgid`.
fn terraform_pids(pgid: u32) -> Vec<u32> {
    let out = std::process::Command::new("pgrep")
        .args(["-g", &pgid.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !String::from_utf8_lossy(&cmd).contains("terraform-provider")
        })
        .collect()
}

fn release_and_reapply(bed: &Bed, tf: &Tf) {
    std::fs::write(bed.remote_dir().join("release"), "").unwrap();
    tf.apply(&[]);
    let id = tf.output("id");
    assert!(bed.image(&id).is_some());
    assert_eq!(
        bed.own_images().len(),
        1,
        "only the re-applied image exists"
    );
    bed.assert_no_leftovers();
    tf.destroy(&[]);
    assert!(bed.own_images().is_empty());
    bed.assert_no_leftovers();
}

/// CI cancelling a job, or `kill -9` of terraform: the plugin is orphaned,
/// notices, cancels the bake, cleans up, and exits.
fn sigkill_of_terraform_alone_cleans_up(v: TfVersion) {
    let bed = Bed::start();
    let tf = bed.workspace("kill-tf", &slow_resource(&bed), v);
    tf.init();
    let mut child = tf.apply_until(&bed.remote_dir().join("started"), "provisioning");
    // Every terraform process (Terraform 1.0 runs as a panicwrap parent and a
    // worker child), but not the plugin.
    for pid in terraform_pids(child.id()) {
        kill(&pid.to_string());
    }
    let _ = child.wait();
    eventually(
        Duration::from_secs(30),
        "the orphaned plugin cleaning up",
        || {
            bed.live_instances().is_empty()
                && bed.key_pairs().is_empty()
                && bed.extra_security_groups().is_empty()
        },
    );
    assert!(bed.own_images().is_empty());
    release_and_reapply(&bed, &tf);
}

/// Power loss, OOM killer, `kill -9` of the process group: nothing survives
/// to clean up. The journal in .terraform/ names the build, and the next
/// terraform run in that directory removes everything tagged with it.
fn sigkill_of_everything_is_swept_by_the_next_run(v: TfVersion) {
    let bed = Bed::start();
    let tf = bed.workspace("kill-all", &slow_resource(&bed), v);
    tf.init();
    let mut child = tf.apply_until(&bed.remote_dir().join("started"), "provisioning");
    kill(&format!("-{}", child.id()));
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        bed.live_instances().len(),
        1,
        "with every process dead the instance is left running"
    );
    assert_eq!(bed.key_pairs().len(), 1);
    // Beside the entries live what the provider learned (timings.json, facts.json).
    let journal: Vec<_> = std::fs::read_dir(tf.dir.join(".terraform/golden-journal"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| !matches!(e.file_name().to_str(), Some("timings.json" | "facts.json")))
        .collect();
    assert_eq!(journal.len(), 1, "the journal names the interrupted build");

    // The plugin sweeps when it starts, or when configured (then with a warning).
    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{out}");
    eventually(Duration::from_secs(30), "the sweep", || {
        bed.live_instances().is_empty()
            && bed.key_pairs().is_empty()
            && bed.extra_security_groups().is_empty()
    });
    assert!(bed.own_images().is_empty());
    // Beside the entries live what the provider learned (timings.json, facts.json).
    let journal: Vec<_> = std::fs::read_dir(tf.dir.join(".terraform/golden-journal"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| !matches!(e.file_name().to_str(), Some("timings.json" | "facts.json")))
        .collect();
    assert!(journal.is_empty(), "the swept entry is gone");
    release_and_reapply(&bed, &tf);
}

fn quick_resource(bed: &Bed, ssh: &str, timeouts: &str) -> String {
    format!(
        "{}\nresource \"golden_ami\" \"img\" {{\n  name_prefix = \"int-\"\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-0a11ce0000000a001\"\n{ssh}\n{timeouts}\n}}\n",
        bed.provider_hcl()
    )
}

fn ctrl_c_during_launch(v: TfVersion) {
    // The instance stays "pending" for a minute.
    let bed = Bed::start_with(&["--hold-run", "60"]);
    let tf = bed.workspace("int-launch", &quick_resource(&bed, &bed.ssh_hcl(), ""), v);
    tf.init();
    support::interrupt_apply_when(&bed, &tf, "the launch", || bed.all_instances() == 1);
}

fn ctrl_c_while_waiting_for_ssh(v: TfVersion) {
    let bed = Bed::start();
    // Nothing listens there: the bake keeps retrying SSH.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ssh = format!(
        "  ssh {{\n    username = \"nobody\"\n    host = \"127.0.0.1\"\n    port = {closed}\n    timeout = \"10m\"\n  }}"
    );
    let tf = bed.workspace("int-ssh", &quick_resource(&bed, &ssh, ""), v);
    tf.init();
    support::interrupt_apply_when(&bed, &tf, "the SSH wait", || {
        bed.live_instances().len() == 1
    });
}

fn ctrl_c_during_image_creation(v: TfVersion) {
    // The image stays "pending" for a minute.
    let bed = Bed::start_with(&["--hold-image", "60"]);
    let tf = bed.workspace("int-image", &quick_resource(&bed, &bed.ssh_hcl(), ""), v);
    tf.init();
    support::interrupt_apply_when(&bed, &tf, "the image creation", || {
        !bed.own_images().is_empty()
    });
}

fn create_timeout_cleans_up(v: TfVersion) {
    let bed = Bed::start_with(&["--hold-image", "60"]);
    let tf = bed.workspace(
        "timeout",
        &quick_resource(
            &bed,
            &bed.ssh_hcl(),
            "  timeouts {\n    create = \"4s\"\n  }",
        ),
        v,
    );
    tf.init();
    let t0 = Instant::now();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(t0.elapsed() < Duration::from_secs(30), "{out}");
    assert!(
        out.contains("timed out: the create timeout (4s) passed"),
        "{out}"
    );
    assert!(
        out.contains("bake failed at step \"create_image\""),
        "{out}"
    );
    bed.assert_no_leftovers();
    assert!(bed.own_images().is_empty());
}

/// Two Ctrl-Cs: Terraform exits at once ("data loss may have occurred").
/// The orphaned plugin still cleans up and exits instead of hanging.
fn second_ctrl_c_does_not_wedge_the_plugin(v: TfVersion) {
    let bed = Bed::start();
    let tf = bed.workspace("int-twice", &slow_resource(&bed), v);
    tf.init();
    let mut child = tf.apply_until(&bed.remote_dir().join("started"), "provisioning");
    let group = format!("-{}", child.id());
    for _ in 0..2 {
        let ok = std::process::Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .unwrap();
        assert!(ok.success());
        std::thread::sleep(Duration::from_millis(150));
    }
    let _ = child.wait();
    eventually(
        Duration::from_secs(30),
        "cleanup after two interrupts",
        || {
            bed.live_instances().is_empty()
                && bed.key_pairs().is_empty()
                && bed.extra_security_groups().is_empty()
        },
    );
    assert!(bed.own_images().is_empty());
    let pgid: i32 = group.trim_start_matches('-').parse().unwrap();
    eventually(Duration::from_secs(30), "the plugin exiting", || {
        let out = std::process::Command::new("pgrep")
            .args(["-g", &pgid.to_string()])
            .output()
            .unwrap();
        out.stdout.is_empty()
    });
}

fn host_key_resource(bed: &Bed, extra_ssh: &str) -> String {
    let ssh = bed.ssh_hcl().replace(
        "    timeout  = \"30s\"\n",
        &format!("    timeout  = \"30s\"\n{extra_ssh}"),
    );
    quick_resource(bed, &ssh, "")
}

/// The build instance's host key is verified: from its console output with
/// `console`, against `host_key` when pinned; a refused key fails at once and
/// leaves nothing behind.
fn host_key_checks(v: TfVersion) {
    let bed = Bed::start();
    let console = bed.dir.path().join("console.txt");
    let good_console = std::fs::read_to_string(&console).unwrap();

    // console: the sshd's real key is listed, so it works.
    let console_mode = "    host_key_check = \"console\"\n";
    let tf = bed.workspace("hk-console", &host_key_resource(&bed, console_mode), v);
    tf.init();
    tf.apply(&[]);
    tf.destroy(&[]);

    // The console lists another key: a man in the middle, as far as we can tell.
    std::fs::write(&console, "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\nec2: 256 SHA256:Zm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9 root@x (ED25519)\nec2: -----END SSH HOST KEY FINGERPRINTS-----\n").unwrap();
    let t0 = Instant::now();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(
        support::flat(&out)
            .contains("is not among the fingerprints the instance printed on its console"),
        "{out}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "a refused key is not retried until the timeout"
    );
    bed.assert_no_leftovers();
    assert!(bed.own_images().is_empty());
    std::fs::write(&console, &good_console).unwrap();

    // Pinned: the right key works, a wrong one is refused.
    let pinned = format!("    host_key = \"{}\"\n", bed.host_key_pub);
    std::fs::write(tf.dir.join("main.tf"), host_key_resource(&bed, &pinned)).unwrap();
    tf.apply(&[]);
    tf.destroy(&[]);
    let wrong = "    host_key = \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDJH0xP1Y4KJd+Vhw3XUhL+6nA4Qz0GmJH8QmS7bXp9x\"\n";
    std::fs::write(tf.dir.join("main.tf"), host_key_resource(&bed, wrong)).unwrap();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(
        support::flat(&out).contains("host key mismatch: expected SHA256:"),
        "{out}"
    );
    bed.assert_no_leftovers();
    assert!(bed.own_images().is_empty());
}

/// A local stand-in for checkip.amazonaws.com, answering `ip` to every GET.
fn what_is_my_ip(ip: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = conn.read(&mut buf);
            let body = format!("{ip}\n");
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// Bakes while watching the temporary group (the image is held pending for
/// a moment so it can be seen), returns its SSH ingress.
fn bake_and_watch_group(bed: &Bed, tf: &Tf) -> Vec<String> {
    let child = tf
        .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = None;
    let t0 = Instant::now();
    while seen.is_none() && t0.elapsed() < Duration::from_secs(30) {
        seen = bed.temp_group_cidrs();
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    seen.expect("the temporary group was seen")
}

fn security_group_admits_only_what_it_must(v: TfVersion) {
    let bed = Bed::start_with(&["--hold-image", "3"]);
    let url = what_is_my_ip("203.0.113.7");
    let provider = bed.provider_hcl().replace(
        "  region = \"us-east-1\"\n",
        &format!("  region = \"us-east-1\"\n  public_ip_url = \"{url}\"\n"),
    );
    let hcl = |interface: &str| {
        let ssh = bed.ssh_hcl().replace(
            "    timeout  = \"30s\"\n",
            &format!("    timeout  = \"30s\"\n{interface}"),
        );
        format!(
            "{provider}\nresource \"golden_ami\" \"img\" {{\n  name_prefix = \"sg-\"\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-0a11ce0000000a001\"\n{ssh}\n}}\n"
        )
    };
    // Reached through ssh.host (a NAT, a bastion, this test bed): the VPC only.
    let tf = bed.workspace("sg-private", &hcl(""), v);
    tf.init();
    assert_eq!(bake_and_watch_group(&bed, &tf), vec!["172.31.0.0/16"]);
    tf.destroy(&[]);
    // Reached on the public address: this machine's address only.
    std::fs::write(
        tf.dir.join("main.tf"),
        hcl("    interface = \"public_ip\"\n"),
    )
    .unwrap();
    assert_eq!(bake_and_watch_group(&bed, &tf), vec!["203.0.113.7/32"]);
    tf.destroy(&[]);
    bed.assert_no_leftovers();
}

/// Same kill, but the next command is `terraform destroy`: it sweeps too.
fn sigkill_of_everything_then_destroy(v: TfVersion) {
    let bed = Bed::start();
    let tf = bed.workspace("kill-destroy", &slow_resource(&bed), v);
    tf.init();
    let mut child = tf.apply_until(&bed.remote_dir().join("started"), "provisioning");
    kill(&format!("-{}", child.id()));
    let _ = child.wait();
    assert_eq!(bed.live_instances().len(), 1);
    // With nothing in state, Terraform 1.11 never configures the provider for a
    // destroy; the plugin sweeps when it starts.
    tf.destroy(&[]);
    eventually(Duration::from_secs(30), "the sweep at plugin start", || {
        bed.live_instances().is_empty()
            && bed.key_pairs().is_empty()
            && bed.extra_security_groups().is_empty()
    });
    assert!(bed.own_images().is_empty());
}

/// With every state held, the build instance is terminated (not shutting
/// down) when the apply returns, although the bake waits for it only through
/// the group's deletion; and the working directory learns each state's time.
#[test]
fn held_states_end_terminated_and_are_learned() {
    let bed = Bed::start_with(&[
        "--hold-run",
        "1",
        "--hold-stop",
        "1",
        "--hold-image",
        "1",
        "--hold-terminate",
        "2",
    ]);
    let tf = bed.workspace(
        "held",
        &quick_resource(&bed, &bed.ssh_hcl(), ""),
        TfVersion::Current,
    );
    tf.init();
    tf.apply(&[]);
    assert!(
        bed.live_instances().is_empty(),
        "the build instance is gone"
    );
    assert!(bed.extra_security_groups().is_empty());
    assert!(bed.key_pairs().is_empty());
    // Per transition: after which look it was still pending, by which it was done.
    let learned: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_slice(
        &std::fs::read(tf.dir.join(".terraform/golden-journal/timings.json")).unwrap(),
    )
    .unwrap();
    for (state, held) in [
        ("run", 1.0),
        ("stop", 1.0),
        ("image", 1.0),
        ("terminate", 2.0),
    ] {
        let key = format!("us-east-1/t3.micro/{state}");
        let w = learned
            .get(&key)
            .unwrap_or_else(|| panic!("{key} in {learned:?}"));
        let (lo, hi) = (w["lo"].as_f64().unwrap(), w["hi"].as_f64().unwrap());
        assert!(
            lo < held && hi >= held * 0.9 && hi < held + 5.0,
            "{key}: {w}"
        );
    }
    // What was learned travels with the state: a fresh directory (a new CI
    // runner) given only the state file knows it after its first refresh.
    let fresh = bed.workspace(
        "held-fresh",
        &quick_resource(&bed, &bed.ssh_hcl(), ""),
        TfVersion::Current,
    );
    fresh.init();
    std::fs::copy(
        tf.dir.join("terraform.tfstate"),
        fresh.dir.join("terraform.tfstate"),
    )
    .unwrap();
    assert!(
        !fresh
            .dir
            .join(".terraform/golden-journal/timings.json")
            .exists()
    );
    assert_eq!(fresh.plan_exit(&[]).0, 0);
    let travelled: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_slice(
        &std::fs::read(fresh.dir.join(".terraform/golden-journal/timings.json")).unwrap(),
    )
    .unwrap();
    for key in learned.keys() {
        assert_eq!(travelled.get(key), learned.get(key), "{key}");
    }
    // The next bake starts from what was learned, and still ends clean.
    tf.destroy(&[]);
    tf.apply(&[]);
    assert!(bed.live_instances().is_empty());
    tf.destroy(&[]);
    bed.assert_no_leftovers();
}

/// EC2 posts a Xen type's buffered console output minutes late, and offers
/// no live output on it. The default (`generated`) reads no console: the
/// "instance" presents the key the bake gave it in its user data, and the
/// bake connects at once. `console` cannot verify the key on that type
/// within a short timeout, and reads the live output of a Nitro type at once.
#[test]
fn generated_host_key_needs_no_console() {
    let bed = Bed::start_with(&["--console-delay", "120"]);
    let resource = |instance_type: &str, ssh_extra: &str| {
        format!(
            "{}\nresource \"golden_ami\" \"img\" {{\n  name_prefix = \"gen-\"\n  instance_type = \"{instance_type}\"\n  source_ami = \"ami-0a11ce0000000a001\"\n{}\n}}\n",
            bed.provider_hcl(),
            bed.ssh_hcl_with(ssh_extra)
        )
    };
    let log = bed.dir.path().join("provider.log");
    let mut tf = bed.workspace(
        "generated",
        &resource("t2.micro", "    timeout  = \"1m\"\n"),
        TfVersion::Current,
    );
    tf.extra_env
        .push(("GOLDEN_LOG_FILE".into(), log.display().to_string()));
    tf.init();
    // The "instance" is this machine: its own host keys must survive the bake.
    let etc_ssh = || {
        let mut keys: Vec<(String, Vec<u8>)> = std::fs::read_dir("/etc/ssh")
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("ssh_host_"))
                    .map(|e| {
                        let body = std::fs::read(e.path()).unwrap_or_default();
                        (e.file_name().to_string_lossy().to_string(), body)
                    })
                    .collect()
            })
            .unwrap_or_default();
        keys.sort();
        keys
    };
    let host_keys_before = etc_ssh();
    let t0 = Instant::now();
    let out = tf.apply(&[]);
    assert!(
        t0.elapsed() < Duration::from_secs(50),
        "took {:?}",
        t0.elapsed()
    );
    // The instance got a key pair in its user data, and presented exactly that key.
    let (_, user_data) = bed.build_instance_facts();
    assert!(
        user_data
            .contains("ssh_keys:\n  ed25519_private: |\n    -----BEGIN OPENSSH PRIVATE KEY-----"),
        "{user_data}"
    );
    let presented = std::fs::read_to_string(
        bed.dir
            .path()
            .join("sshd/host_keys/ssh_host_ed25519_key.pub"),
    )
    .unwrap();
    let presented = presented.trim();
    assert!(user_data.contains(&format!("ed25519_public: {presented}")));
    assert_ne!(presented, bed.host_key_pub, "not the bed's own key");
    // The private key is a secret: not in state, output or log.
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    for (what, text) in [
        ("state", tf.state_file()),
        ("output", out),
        ("log", logged.clone()),
    ] {
        assert!(!text.contains("PRIVATE KEY"), "{what}:\n{text}");
    }
    // Before the stop, the bake looked for that key among the host keys and
    // removed nothing else: the bed's sshd keeps it elsewhere.
    assert!(
        logged.contains("generated host key files removed from /etc/ssh"),
        "{logged}"
    );
    assert_eq!(etc_ssh(), host_keys_before, "/etc/ssh is untouched");
    tf.destroy(&[]);

    // console on the same Xen type: the fingerprints are not posted in time.
    std::fs::write(
        tf.dir.join("main.tf"),
        resource(
            "t2.micro",
            "    timeout  = \"5s\"\n    host_key_check = \"console\"\n",
        ),
    )
    .unwrap();
    let out = tf.fails(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(
        support::flat(&out).contains(
            "timed out after 5s waiting for the host key fingerprints on the instance console"
        ),
        "{out}"
    );
    bed.assert_no_leftovers();

    // console on a Nitro type: the live output has them at once.
    std::fs::write(
        tf.dir.join("main.tf"),
        resource("t3.micro", "    host_key_check = \"console\"\n"),
    )
    .unwrap();
    let t0 = Instant::now();
    tf.apply(&[]);
    assert!(t0.elapsed() < Duration::from_secs(50));
    tf.destroy(&[]);
    bed.assert_no_leftovers();
}
