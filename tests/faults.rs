//! Nothing leaks, whatever happens: killed processes and interrupts,
//! checked through the EC2 API.

mod support;

use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::{Bed, Tf, TfVersion};

on_both_terraforms!(
    sigkill_of_terraform_alone_cleans_up,
    sigkill_of_everything_is_swept_by_the_next_run,
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

/// Starts `terraform apply` in its own process group and waits until the
/// bake is inside its provisioning step.
fn apply_until_provisioning(bed: &Bed, tf: &Tf) -> Child {
    let started = bed.remote_dir().join("started");
    let mut child = tf
        .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !started.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "provisioning never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "terraform exited before provisioning"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(bed.live_instances().len(), 1, "a build instance is running");
    child
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
    let out = std::process::Command::new("pgrep").args(["-g", &pgid.to_string()]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !String::from_utf8_lossy(&cmd).contains("terraform-provider")
        })
        .collect()
}

/// Polls `check` for up to `limit`.
fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !check() {
        assert!(
            t0.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
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
    let mut child = apply_until_provisioning(&bed, &tf);
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
    let mut child = apply_until_provisioning(&bed, &tf);
    kill(&format!("-{}", child.id()));
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        bed.live_instances().len(),
        1,
        "with every process dead the instance is left running"
    );
    assert_eq!(bed.key_pairs().len(), 1);
    let journal: Vec<_> = std::fs::read_dir(tf.dir.join(".terraform/golden-journal"))
        .unwrap()
        .collect();
    assert_eq!(journal.len(), 1, "the journal names the interrupted build");

    let (code, out) = tf.plan_exit(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("Removed what an interrupted bake left behind"),
        "{out}"
    );
    bed.assert_no_leftovers();
    assert!(bed.own_images().is_empty());
    let journal: Vec<_> = std::fs::read_dir(tf.dir.join(".terraform/golden-journal"))
        .unwrap()
        .collect();
    assert!(journal.is_empty(), "the swept entry is gone");
    release_and_reapply(&bed, &tf);
}
