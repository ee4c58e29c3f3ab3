//! The end-to-end test bed: a real moto EC2 server, a real OpenSSH sshd
//! standing in for the build instance, and the real terraform CLI with the
//! freshly built provider installed from a filesystem mirror, as a user
//! installs an unpublished provider. Every piece is started per test on
//! 127.0.0.1 and stopped when the test ends.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

/// Generates one #[test] per Terraform version for each scenario function.
#[macro_export]
macro_rules! on_both_terraforms {
    ($($name:ident),* $(,)?) => {
        mod terraform_current {
            $( #[test] fn $name() { super::$name(super::TfVersion::Current) } )*
        }
        mod terraform_1_0_3 {
            $( #[test] fn $name() { super::$name(super::TfVersion::Oldest) } )*
        }
    };
}

pub const SETUP: &str = "bash scripts/setup.sh";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Which Terraform to drive.
#[derive(Clone, Copy, Debug)]
pub enum TfVersion {
    /// The one on PATH (1.11.x here).
    Current,
    /// 1.0.3, installed by scripts/setup.sh.
    Oldest,
}

fn require(ok: bool, what: &str) {
    assert!(
        ok,
        "missing prerequisite: {what}. Install it with `{SETUP}` (run as root from the repository)."
    );
}

fn terraform_bin(v: TfVersion) -> PathBuf {
    match v {
        TfVersion::Current => {
            let ok = Command::new("terraform")
                .arg("version")
                .env("CHECKPOINT_DISABLE", "1")
                .output()
                .is_ok_and(|o| o.status.success());
            require(ok, "terraform (1.11.x) on PATH");
            PathBuf::from("terraform")
        }
        TfVersion::Oldest => {
            let p = repo().join(".work/tools/terraform-1.0.3/terraform");
            require(
                p.is_file(),
                "Terraform 1.0.3 at .work/tools/terraform-1.0.3/terraform",
            );
            p
        }
    }
}

/// A provider mirror holding this build of golden and the null provider.
fn mirror() -> &'static PathBuf {
    static MIRROR: OnceLock<PathBuf> = OnceLock::new();
    MIRROR.get_or_init(|| {
        let base = repo().join("target/tf-test-mirror");
        prune_dead_mirrors(&base);
        let root = base.join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&root);
        let golden = root.join("registry.terraform.io/golden-ami/golden/0.1.0/linux_amd64");
        std::fs::create_dir_all(&golden).unwrap();
        let exe = Path::new(env!("CARGO_BIN_EXE_terraform-provider-golden"));
        let dest = golden.join("terraform-provider-golden_v0.1.0");
        // A hard link costs no space; each test process used to leave a 100 MiB copy behind.
        if std::fs::hard_link(exe, &dest).is_err() {
            std::fs::copy(exe, &dest).unwrap();
        }
        root
    })
}

/// Removes the mirrors of test processes that have ended (named by their pid).
fn prune_dead_mirrors(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The CLI configuration: golden from our mirror, null from setup.sh's.
fn cli_config() -> &'static PathBuf {
    static CFG: OnceLock<PathBuf> = OnceLock::new();
    CFG.get_or_init(|| {
        let null = repo().join(".work/tools/mirror");
        require(
            null.join("registry.terraform.io/hashicorp/null").is_dir(),
            "the null provider mirror at .work/tools/mirror",
        );
        let path = mirror().join("terraformrc");
        let body = format!(
            r#"provider_installation {{
  filesystem_mirror {{
    path    = "{}"
    include = ["registry.terraform.io/golden-ami/golden"]
  }}
  filesystem_mirror {{
    path    = "{}"
    include = ["registry.terraform.io/hashicorp/null"]
  }}
}}
"#,
            mirror().display(),
            null.display()
        );
        std::fs::write(&path, body).unwrap();
        path
    })
}

/// A child process, with everything it started, ended when the test ends.
/// It leads its own process group: a wrapper killed alone would orphan its
/// server (sshd.py's sshd, moto's workers), so the whole group goes, asked
/// politely first.
struct Proc(Child, &'static str);

impl Drop for Proc {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        for _ in 0..40 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        signal("-KILL");
        let _ = self.0.wait();
    }
}

/// Starts `cmd`, waits for its `READY ...` line, returns the words after READY.
fn start_ready(cmd: Command, name: &'static str) -> (Proc, Vec<String>) {
    start_ready_logged(cmd, name, None)
}

/// Like [`start_ready`], keeping the child's stderr in `log`.
fn start_ready_logged(
    mut cmd: Command,
    name: &'static str,
    log: Option<PathBuf>,
) -> (Proc, Vec<String>) {
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let stdout = child.stdout.take().unwrap();
    // A child that never says READY must fail the test, not hang CI.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(90))
        .unwrap_or_default();
    if !line.starts_with("READY") {
        let mut err = String::new();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.kill();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!(
            "{name} did not start (stdout: {line:?}); stderr:\n{err}\nIf something is missing, run `{SETUP}`."
        );
    }
    // Drain stderr so a chatty child never blocks on a full pipe.
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        match log.and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        }) {
            Some(mut file) => {
                let _ = std::io::copy(&mut stderr, &mut file);
            }
            None => {
                let mut sink = Vec::new();
                let _ = stderr.read_to_end(&mut sink);
            }
        }
    });
    (
        Proc(child, name),
        line.split_whitespace()
            .skip(1)
            .map(str::to_string)
            .collect(),
    )
}

/// A provider network mirror over HTTPS on 127.0.0.1 (testbed/provider_mirror.py), with a
/// CA of its own; stopped when dropped.
pub struct NetworkMirror {
    /// The mirror's base URL, as `network_mirror { url = ... }` takes it.
    pub url: String,
    /// The CA that signed the server's certificate (Terraform trusts it via SSL_CERT_FILE).
    pub ca_file: PathBuf,
    /// One line per request: `GET /path STATUS`.
    pub log: PathBuf,
    _proc: Proc,
}

/// Serves `root` (the `terraform providers mirror` layout) as a network mirror; its CA and
/// request log go into `dir`.
pub fn network_mirror(root: &Path, dir: &Path) -> NetworkMirror {
    let ca_file = dir.join("mirror-ca.pem");
    let log = dir.join("mirror.log");
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("testbed/provider_mirror.py"))
        .arg("--root")
        .arg(root)
        .arg("--ca-file")
        .arg(&ca_file);
    let (proc, words) = start_ready_logged(cmd, "provider mirror", Some(log.clone()));
    NetworkMirror {
        url: words[0].clone(),
        ca_file,
        log,
        _proc: proc,
    }
}

/// One test's world: EC2 emulator, sshd, a work directory, an EC2 client.
pub struct Bed {
    pub endpoint: String,
    /// The sshd's host public key, as `ssh.host_key` takes it.
    pub host_key_pub: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    /// Where the test's own EC2 checks go (moto itself, never the proxy).
    pub moto_endpoint: String,
    pub ec2: aws_sdk_ec2::Client,
    procs: std::sync::Mutex<Vec<Proc>>,
}

impl Bed {
    pub fn start() -> Bed {
        Bed::start_with(&[])
    }

    /// A bed whose moto takes `moto_args` (e.g. `--hold-run 30`).
    pub fn start_with(moto_args: &[&str]) -> Bed {
        Bed::start_full(moto_args, None)
    }

    /// A bed where the provider reaches moto through testbed/fault_proxy.py
    /// started with `proxy_args`; the test's own checks go to moto directly.
    pub fn start_with_proxy(moto_args: &[&str], proxy_args: &[&str]) -> Bed {
        Bed::start_full(moto_args, Some(proxy_args))
    }

    fn start_full(moto_args: &[&str], proxy_args: Option<&[&str]>) -> Bed {
        require(
            Path::new("/usr/sbin/sshd").exists(),
            "OpenSSH server (/usr/sbin/sshd)",
        );
        let moto_ok = Command::new("python3")
            .args(["-c", "import moto.server"])
            .output()
            .is_ok_and(|o| o.status.success());
        require(moto_ok, "python3 with moto[server]");
        let dir = tempfile::Builder::new()
            .prefix("golden-e2e-")
            .tempdir()
            .unwrap();

        let mut moto = Command::new("python3");
        moto.arg(repo().join("testbed/moto_ec2.py"))
            .args(["--port", "0", "--console-file"])
            .arg(dir.path().join("console.txt"))
            // The "instance" presents the host key its user data's cloud-config gives it.
            .arg("--sshd-dir")
            .arg(dir.path().join("sshd"))
            .args(moto_args);
        let (moto, words) = start_ready(moto, "moto");
        let moto_endpoint = words[0].clone();
        let mut procs = vec![moto];
        let endpoint = match proxy_args {
            None => moto_endpoint.clone(),
            Some(args) => {
                let mut proxy = Command::new("python3");
                proxy
                    .arg(repo().join("testbed/fault_proxy.py"))
                    .args(["--upstream", &moto_endpoint, "--port", "0", "--control"])
                    .args(args);
                let (proxy, words) = start_ready(proxy, "fault proxy");
                procs.push(proxy);
                words[0].clone()
            }
        };

        let mut sshd = Command::new("python3");
        sshd.arg(repo().join("testbed/sshd.py"))
            .args(["--ec2", &moto_endpoint, "--port", "0", "--dir"])
            .arg(dir.path().join("sshd"));
        let (sshd, words) = start_ready_logged(sshd, "sshd", Some(dir.path().join("sshd.log")));
        let ssh_port = words[0].parse().unwrap();
        let ssh_user = words[1].clone();
        // What cloud-init prints on a real instance's console: its host key fingerprints.
        let print = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(&words[2])
            .output()
            .unwrap();
        assert!(print.status.success(), "ssh-keygen -lf failed");
        let console = format!(
            "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\nec2: {}ec2: -----END SSH HOST KEY FINGERPRINTS-----\n",
            String::from_utf8_lossy(&print.stdout)
        );
        std::fs::write(dir.path().join("console.txt"), console).unwrap();
        let host_key_pub = std::fs::read_to_string(&words[2])
            .unwrap()
            .trim()
            .to_string();

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ec2 = rt.block_on(async {
            use aws_smithy_http_client::tls;
            let http = aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https();
            let conf = aws_sdk_ec2::config::Builder::new()
                .http_client(http)
                .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
                .region(aws_sdk_ec2::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    "test", "test", None, None, "test",
                ))
                .endpoint_url(&moto_endpoint)
                .build();
            aws_sdk_ec2::Client::from_conf(conf)
        });
        Bed {
            endpoint,
            moto_endpoint,
            host_key_pub,
            ssh_port,
            ssh_user,
            dir,
            rt,
            ec2,
            procs: {
                procs.insert(0, sshd);
                std::sync::Mutex::new(procs)
            },
        }
    }

    /// Starts testbed/tls_relay.py in front of moto: its https:// URL and the
    /// PEM file of the throw-away CA its certificate chains to.
    pub fn start_tls_relay(&self) -> (String, PathBuf) {
        let mut relay = Command::new("python3");
        relay
            .arg(repo().join("testbed/tls_relay.py"))
            .args(["--upstream", &self.moto_endpoint, "--port", "0", "--dir"])
            .arg(self.dir.path().join("tls"));
        let (proc, words) = start_ready(relay, "TLS relay");
        self.procs.lock().unwrap().push(proc);
        (words[0].clone(), PathBuf::from(&words[1]))
    }

    /// A directory the "instance" user may write, unique to this test.
    pub fn remote_dir(&self) -> PathBuf {
        self.dir.path().join("remote")
    }

    /// A Terraform working directory holding a copy of `example` (under examples/).
    pub fn workspace_from_example(&self, example: &str, v: TfVersion) -> Tf {
        let src = repo().join("examples").join(example);
        let work = self.dir.path().join(format!("work-{example}"));
        std::fs::create_dir_all(&work).unwrap();
        for e in std::fs::read_dir(&src).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), work.join(e.file_name())).unwrap();
        }
        Tf::new(work, v)
    }

    /// A Terraform working directory with `main.tf` as given.
    pub fn workspace(&self, name: &str, main_tf: &str, v: TfVersion) -> Tf {
        let work = self.dir.path().join(name);
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("main.tf"), main_tf).unwrap();
        Tf::new(work, v)
    }

    /// The provider block and terraform block pointing at this bed.
    pub fn provider_hcl(&self) -> String {
        format!(
            "terraform {{\n  required_providers {{\n    golden = {{ source = \"golden-ami/golden\" }}\n  }}\n}}\nprovider \"golden\" {{\n  region = \"us-east-1\"\n  endpoints {{\n    ec2 = \"{e}\"\n    ssm = \"{e}\"\n  }}\n}}\n",
            e = self.endpoint
        )
    }

    /// Like [`Bed::provider_hcl`], also requiring hashicorp/null (from the mirror).
    pub fn provider_hcl_with_null(&self) -> String {
        self.provider_hcl()
            .replace("golden = { source = \"golden-ami/golden\" }", "golden = { source = \"golden-ami/golden\" }\n    null   = { source = \"hashicorp/null\" }")
    }

    /// An `ssh` block reaching this bed's sshd.
    pub fn ssh_hcl(&self) -> String {
        self.ssh_hcl_with("")
    }

    /// An `ssh` block reaching this bed's sshd, with `extra` lines in it
    /// (`timeout` among them replaces the default 30s).
    pub fn ssh_hcl_with(&self, extra: &str) -> String {
        let timeout = if extra.contains("timeout") {
            ""
        } else {
            "    timeout  = \"30s\"\n"
        };
        format!(
            "  ssh {{\n    username = \"{}\"\n    host     = \"127.0.0.1\"\n    port     = {}\n{timeout}{extra}  }}\n",
            self.ssh_user, self.ssh_port
        )
    }

    /// The -var flags the examples take to run on this bed.
    pub fn example_vars(&self) -> Vec<String> {
        vec![
            format!("-var=ec2_endpoint={}", self.endpoint),
            "-var=ssh_host=127.0.0.1".into(),
            format!("-var=ssh_port={}", self.ssh_port),
            format!("-var=ssh_username={}", self.ssh_user),
        ]
    }

    // ---- reality, as the EC2 API tells it ----

    pub fn image(&self, id: &str) -> Option<aws_sdk_ec2::types::Image> {
        self.rt.block_on(async {
            match self.ec2.describe_images().image_ids(id).send().await {
                Ok(o) => o
                    .images()
                    .iter()
                    .find(|i| i.state().map(|s| s.as_str()) != Some("deregistered"))
                    .cloned(),
                Err(_) => None,
            }
        })
    }

    /// Images this account owns (our bakes); the catalogue belongs to "amazon".
    pub fn own_images(&self) -> Vec<aws_sdk_ec2::types::Image> {
        self.rt.block_on(async {
            self.ec2
                .describe_images()
                .owners("self")
                .send()
                .await
                .unwrap()
                .images()
                .to_vec()
        })
    }

    pub fn snapshot_exists(&self, id: &str) -> bool {
        self.rt.block_on(async {
            match self.ec2.describe_snapshots().snapshot_ids(id).send().await {
                Ok(o) => !o.snapshots().is_empty(),
                Err(_) => false,
            }
        })
    }

    pub fn snapshot_tags(&self, id: &str) -> Vec<(String, String)> {
        self.rt.block_on(async {
            let o = self
                .ec2
                .describe_snapshots()
                .snapshot_ids(id)
                .send()
                .await
                .unwrap();
            o.snapshots()[0]
                .tags()
                .iter()
                .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
                .collect()
        })
    }

    /// Stops the sshd and every process under it (the per-connection
    /// monitors and sessions), like a build instance dropping off the network.
    pub fn stop_sshd(&self) {
        let root = self.procs.lock().unwrap()[0].0.id();
        let mut tree = vec![root];
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i];
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                // Fields after the ")" that ends the command name: state, ppid, ...
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<u32>().ok());
                if ppid == Some(parent) && !tree.contains(&pid) {
                    tree.push(pid);
                }
            }
            i += 1;
        }
        // All at once, sshd processes first, as a vanishing machine: no session lives
        // long enough to report its command's status. sshd.py is reaped on drop.
        let pids: Vec<String> = tree.iter().skip(1).map(|p| p.to_string()).collect();
        if !pids.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        }
        // And every process its boot started (testbed/instance_os.py).
        self.instance_os("halt");
    }

    /// Runs testbed/instance_os.py's `action` on the bed's instance.
    fn instance_os(&self, action: &str) {
        let ok = Command::new("python3")
            .arg(repo().join("testbed/instance_os.py"))
            .args([action, "--dir"])
            .arg(self.dir.path().join("sshd"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "testbed/instance_os.py {action} failed");
    }

    /// The instance's sandbox root (testbed/instance_os.py).
    pub fn instance_root(&self) -> PathBuf {
        self.dir.path().join("sshd/root")
    }

    /// The files image `id` carries: the instance root's files at CreateImage.
    pub fn image_files(&self, id: &str) -> Vec<String> {
        let p = self.dir.path().join(format!("sshd/images/{id}.files"));
        let text = std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e} (no CreateImage seen)", p.display()));
        text.lines().map(str::to_string).collect()
    }

    /// Starts the sshd again on the same port with the same host key, as a
    /// rebooted instance comes back.
    pub fn restart_sshd(&self) {
        let mut sshd = Command::new("python3");
        sshd.arg(repo().join("testbed/sshd.py"))
            .args([
                "--ec2",
                &self.moto_endpoint,
                "--port",
                &self.ssh_port.to_string(),
                "--dir",
            ])
            .arg(self.dir.path().join("sshd"));
        let (proc, _) = start_ready_logged(sshd, "sshd", Some(self.dir.path().join("sshd.log")));
        self.procs.lock().unwrap()[0] = proc;
        // cloud-init's per-boot scripts (testbed/instance_os.py).
        self.instance_os("reboot");
    }

    /// Replaces the fault proxy's configuration (JSON, see testbed/fault_proxy.py)
    /// and returns its counters.
    pub fn set_faults(&self, json: &str) -> serde_json::Value {
        use std::io::{Read, Write};
        let addr = self
            .endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        write!(
            conn,
            "POST /_faults HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        )
        .unwrap();
        let mut resp = String::new();
        conn.read_to_string(&mut resp).unwrap();
        assert!(
            resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
            "{resp}"
        );
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or("{}");
        serde_json::from_str(body).unwrap()
    }

    /// A new ed25519 key whose public half is imported into EC2 as `name`
    /// (which the test bed's sshd then accepts); returns the private key path.
    pub fn new_key_pair(&self, name: &str) -> PathBuf {
        let key = self.dir.path().join(format!("id_{name}"));
        let ok = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(ok.success(), "ssh-keygen failed");
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        self.rt.block_on(async {
            self.ec2
                .import_key_pair()
                .key_name(name)
                .public_key_material(aws_smithy_types::Blob::new(public.as_bytes()))
                .send()
                .await
                .unwrap()
        });
        key
    }

    /// The SSH ingress CIDRs of the bake's temporary group, if one exists now.
    pub fn temp_group_cidrs(&self) -> Option<Vec<String>> {
        self.rt.block_on(async {
            let o = self.ec2.describe_security_groups().send().await.ok()?;
            let g = o
                .security_groups()
                .iter()
                .find(|g| g.group_name().is_some_and(|n| n.starts_with("golden-")))?;
            let cidrs: Vec<String> = g
                .ip_permissions()
                .iter()
                .flat_map(|p| p.ip_ranges())
                .filter_map(|r| r.cidr_ip().map(str::to_string))
                .collect();
            (!cidrs.is_empty()).then_some(cidrs)
        })
    }

    /// Instances not terminated.
    pub fn live_instances(&self) -> Vec<String> {
        self.rt.block_on(async {
            let o = self.ec2.describe_instances().send().await.unwrap();
            o.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .filter(|i| {
                    i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated")
                })
                .map(|i| i.instance_id().unwrap().to_string())
                .collect()
        })
    }

    /// The first build instance's IMDS token setting and its user data.
    pub fn build_instance_facts(&self) -> (String, String) {
        use base64::Engine;
        self.rt.block_on(async {
            let o = self.ec2.describe_instances().send().await.unwrap();
            let i = o.reservations()[0].instances()[0].clone();
            let tokens = i
                .metadata_options()
                .and_then(|m| m.http_tokens())
                .map(|t| t.as_str().to_string())
                .unwrap_or_default();
            let ud = self
                .ec2
                .describe_instance_attribute()
                .instance_id(i.instance_id().unwrap())
                .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
                .send()
                .await
                .unwrap();
            let raw = ud.user_data().and_then(|u| u.value()).unwrap_or_default();
            let text = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .unwrap_or_default();
            (tokens, String::from_utf8_lossy(&text).to_string())
        })
    }

    /// Instances ever launched (any state).
    pub fn all_instances(&self) -> usize {
        self.rt.block_on(async {
            let o = self.ec2.describe_instances().send().await.unwrap();
            o.reservations().iter().map(|r| r.instances().len()).sum()
        })
    }

    pub fn key_pairs(&self) -> Vec<String> {
        self.rt.block_on(async {
            let o = self.ec2.describe_key_pairs().send().await.unwrap();
            o.key_pairs()
                .iter()
                .map(|k| k.key_name().unwrap().to_string())
                .collect()
        })
    }

    /// Security groups other than each VPC's default.
    pub fn extra_security_groups(&self) -> Vec<String> {
        self.rt.block_on(async {
            let o = self.ec2.describe_security_groups().send().await.unwrap();
            o.security_groups()
                .iter()
                .map(|g| g.group_name().unwrap().to_string())
                .filter(|n| n != "default")
                .collect()
        })
    }

    /// Asserts nothing temporary is left: no live instance, key pair, or group.
    pub fn assert_no_leftovers(&self) {
        assert_eq!(
            self.live_instances(),
            Vec::<String>::new(),
            "instances left running"
        );
        assert_eq!(
            self.key_pairs(),
            Vec::<String>::new(),
            "temporary key pairs left"
        );
        assert_eq!(
            self.extra_security_groups(),
            Vec::<String>::new(),
            "temporary security groups left"
        );
    }
}

/// A Terraform working directory and the CLI version driving it.
pub struct Tf {
    pub dir: PathBuf,
    bin: PathBuf,
    pub extra_env: Vec<(String, String)>,
}

impl Tf {
    /// A working directory `dir` (made if missing) driven by Terraform `v`, golden from the
    /// test mirror.
    pub fn new(dir: PathBuf, v: TfVersion) -> Tf {
        std::fs::create_dir_all(&dir).unwrap();
        Tf {
            dir,
            bin: terraform_bin(v),
            extra_env: vec![],
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()))
    }

    /// Starts `terraform apply` in its own process group (so a test can kill
    /// terraform and the plugin together) and returns once `started` exists:
    /// the bake is inside the step that touches it (`what`, for messages).
    pub fn apply_until(&self, started: &Path, what: &str) -> Child {
        use std::os::unix::process::CommandExt;
        let _ = std::fs::remove_file(started);
        let mut child = self
            .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let t0 = std::time::Instant::now();
        while !started.exists() {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(60),
                "{what} never started"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "terraform exited before {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        child
    }

    /// The terraform command with this workspace's environment, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .current_dir(&self.dir)
            .env("TF_CLI_CONFIG_FILE", cli_config())
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env_remove("AWS_PROFILE")
            .env_remove("TF_LOG")
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    fn text(o: &Output) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }

    /// Runs and expects success; returns stdout+stderr.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let t = Self::text(&o);
        assert!(o.status.success(), "terraform {args:?} failed:\n{t}");
        t
    }

    /// Runs and expects failure; returns stdout+stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let t = Self::text(&o);
        assert!(
            !o.status.success(),
            "terraform {args:?} should have failed:\n{t}"
        );
        t
    }

    pub fn init(&self) {
        self.ok(&["init", "-no-color", "-input=false"]);
    }

    pub fn apply(&self, vars: &[String]) -> String {
        let mut args = vec!["apply", "-auto-approve", "-no-color", "-input=false"];
        args.extend(vars.iter().map(String::as_str));
        self.ok(&args)
    }

    pub fn destroy(&self, vars: &[String]) -> String {
        let mut args = vec!["destroy", "-auto-approve", "-no-color", "-input=false"];
        args.extend(vars.iter().map(String::as_str));
        self.ok(&args)
    }

    /// `terraform plan -detailed-exitcode`: 0 no changes, 2 changes.
    pub fn plan_exit(&self, vars: &[String]) -> (i32, String) {
        let mut args = vec!["plan", "-no-color", "-input=false", "-detailed-exitcode"];
        args.extend(vars.iter().map(String::as_str));
        let o = self.run(&args);
        (o.status.code().unwrap_or(-1), Self::text(&o))
    }

    pub fn output(&self, name: &str) -> String {
        let o = self.ok(&["output", "-raw", name]);
        o.trim().to_string()
    }

    /// The state as JSON (`terraform show -json`).
    pub fn state_json(&self) -> serde_json::Value {
        let o = self.run(&["show", "-json"]);
        assert!(
            o.status.success(),
            "terraform show failed: {}",
            Self::text(&o)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// The raw state file text (to check what is and is not stored).
    pub fn state_file(&self) -> String {
        std::fs::read_to_string(self.dir.join("terraform.tfstate")).unwrap_or_default()
    }
}

/// Polls `check` until it holds, failing the test after `limit`.
pub fn eventually(limit: std::time::Duration, what: &str, mut check: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while !check() {
        assert!(
            t0.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// True when no process on this host (the test bed's "instance") runs a
/// command line containing `pattern`.
pub fn no_process_matching(pattern: &str) -> bool {
    let o = Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap();
    o.stdout.is_empty()
}

/// Runs `terraform apply` in its own process group, sends SIGINT to the
/// whole group (a terminal's Ctrl-C) once `ready` holds, and checks that the
/// apply ends quickly, says it was cancelled, the plugin survived the
/// signal, and nothing is left. Returns Terraform's output.
pub fn interrupt_apply_when(bed: &Bed, tf: &Tf, what: &str, ready: impl FnMut() -> bool) -> String {
    use std::os::unix::process::CommandExt;
    let child = tf
        .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    eventually(std::time::Duration::from_secs(60), what, ready);
    let signalled = std::time::Instant::now();
    let ok = Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = child.wait_with_output().unwrap();
    let took = signalled.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "{what}: an interrupted apply fails:\n{text}"
    );
    assert!(
        took < std::time::Duration::from_secs(20),
        "{what}: took {took:?} to stop:\n{text}"
    );
    assert!(
        text.contains("cancelled (Terraform asked the provider to stop)"),
        "{what}:\n{text}"
    );
    assert!(
        !text.contains("Plugin did not respond"),
        "{what}: the plugin must survive SIGINT:\n{text}"
    );
    bed.assert_no_leftovers();
    assert!(bed.own_images().is_empty(), "{what}: no image left");
    assert!(
        !tf.state_file().contains("golden_ami"),
        "{what}: nothing in state"
    );
    text
}

/// Terraform wraps diagnostics at 78 columns: compare with whitespace folded.
pub fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The values of the one golden_ami in `show -json` output.
pub fn golden_values(state: &serde_json::Value) -> serde_json::Value {
    state["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["type"] == "golden_ami"))
        .map(|r| r["values"].clone())
        .unwrap_or(serde_json::Value::Null)
}
