//! Installing a release the way users do: from the `dist/` that scripts/release.sh wrote,
//! `terraform init` against a packed filesystem mirror, a network mirror over HTTPS (a CA of
//! the test's own) and a registry speaking the provider registry protocol (which checks the
//! signature), all offline on 127.0.0.1, then a bake of the seed template on the test bed.
//!
//! The package comes from outside the test (a release build takes minutes): scripts/test.sh
//! builds it, signed with a throw-away key, and points GOLDEN_DIST (and GNUPGHOME, for the
//! signature check) at it. Without it these tests fail and say how to make one.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;
use support::{Bed, Tf, TfVersion};

const NAME: &str = "terraform-provider-golden";
const SOURCE: &str = "registry.terraform.io/golden-ami/golden";

/// A release as found in `dist/`, its files checked against SHA256SUMS and its signature.
struct Release {
    version: String,
    /// File name → SHA-256 (hex), from SHA256SUMS.
    sums: BTreeMap<String, String>,
    dir: PathBuf,
    /// The long id of the key that signed SHA256SUMS, and its public half (ASCII armour).
    key_id: String,
    public_key: String,
}

fn release() -> Release {
    let dir = std::env::var_os("GOLDEN_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::repo().join("dist"));
    let how = "build a release first: `GOLDEN_GPG_KEY=KEY scripts/release.sh VERSION` (scripts/test.sh does it with a throw-away key), with GOLDEN_DIST naming its dist/ and GNUPGHOME the keyring holding KEY";
    let manifests: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no release at {}: {e}; {how}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(NAME) && n.ends_with("_manifest.json"))
        .collect();
    let [manifest] = manifests.as_slice() else {
        panic!(
            "expected one *_manifest.json in {}, found {manifests:?}; {how}",
            dir.display()
        );
    };
    let version = manifest[NAME.len() + 1..manifest.len() - "_manifest.json".len()].to_string();

    let sums_name = format!("{NAME}_{version}_SHA256SUMS");
    let sums_text = std::fs::read_to_string(dir.join(&sums_name)).unwrap();
    let sums: BTreeMap<String, String> = sums_text
        .lines()
        .map(|l| {
            let (hash, file) = l.split_once("  ").expect("SHA256SUMS line: HASH  FILE");
            (file.to_string(), hash.to_string())
        })
        .collect();
    let listed: Vec<&str> = sums.keys().map(String::as_str).collect();
    assert!(
        listed.contains(&manifest.as_str())
            && listed.contains(&format!("{NAME}_{version}_linux_amd64.zip").as_str()),
        "SHA256SUMS lists {listed:?}"
    );
    for (file, hash) in &sums {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        assert_eq!(
            &hex::encode(sha2::Sha256::digest(&bytes)),
            hash,
            "{file} does not match SHA256SUMS"
        );
    }
    let verify = Command::new("gpg")
        .args(["--batch", "--status-fd", "1", "--verify"])
        .arg(dir.join(format!("{sums_name}.sig")))
        .arg(dir.join(&sums_name))
        .output()
        .expect("gpg (apt-get install gnupg)");
    assert!(
        verify.status.success(),
        "the signature of {sums_name} does not verify (GNUPGHOME must hold the signing key's public half):\n{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(manifest)).unwrap()).unwrap();
    assert_eq!(
        manifest,
        serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}})
    );
    let status = String::from_utf8_lossy(&verify.stdout).to_string();
    let key_id = status
        .lines()
        .find_map(|l| l.strip_prefix("[GNUPG:] VALIDSIG "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|fpr| fpr[fpr.len() - 16..].to_string())
        .unwrap_or_else(|| panic!("no VALIDSIG in gpg's status:\n{status}"));
    let export = Command::new("gpg")
        .args(["--batch", "--armor", "--export", &key_id])
        .output()
        .unwrap();
    let public_key = String::from_utf8_lossy(&export.stdout).to_string();
    assert!(
        public_key.contains("BEGIN PGP PUBLIC KEY BLOCK"),
        "gpg --export {key_id}"
    );
    Release {
        version,
        sums,
        dir,
        key_id,
        public_key,
    }
}

impl Release {
    /// (platform, zip file name, sha256) of each archive.
    fn archives(&self) -> Vec<(String, String, String)> {
        let prefix = format!("{NAME}_{}_", self.version);
        self.sums
            .iter()
            .filter_map(|(file, hash)| {
                let platform = file.strip_prefix(&prefix)?.strip_suffix(".zip")?;
                Some((platform.to_string(), file.clone(), hash.clone()))
            })
            .collect()
    }

    /// Makes the `terraform providers mirror` layout (the zips under HOST/NS/TYPE/ beside
    /// index.json and VERSION.json: a packed filesystem mirror and, served over HTTPS, a network
    /// mirror) as docs/index.md tells users to: its shell block, run in `dir` holding the
    /// release's files. Returns the mirror's root.
    fn mirror_as_documented(&self, dir: &Path) -> PathBuf {
        let doc = std::fs::read_to_string(support::repo().join("docs/index.md")).unwrap();
        let marker = "<!-- tests/install.rs runs this block on a release -->\n```shell\n";
        let start = doc
            .find(marker)
            .expect("docs/index.md lost the mirror block's marker")
            + marker.len();
        let block = &doc[start..start + doc[start..].find("```\n").unwrap()];
        let script = block.replacen("v=VERSION", &format!("v={}", self.version), 1);
        assert_ne!(script, block, "the block starts with v=VERSION");
        std::fs::create_dir_all(dir).unwrap();
        for file in self.sums.keys().cloned().chain(self.sums_files()) {
            std::fs::copy(self.dir.join(&file), dir.join(&file)).unwrap();
        }
        let out = Command::new("bash")
            .args(["-euc", &script])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the docs' mirror block failed:\n{script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir.join("mirror")
    }

    /// SHA256SUMS and its signature.
    fn sums_files(&self) -> [String; 2] {
        let sums = format!("{NAME}_{}_SHA256SUMS", self.version);
        [sums.clone(), format!("{sums}.sig")]
    }
}

impl Release {
    /// The provider registry protocol's answers in `root` (static files), for a registry whose
    /// `providers.v1` service is at `url`: the versions, and per platform the download with
    /// SHA256SUMS, its signature and the signing key, as the Terraform Registry serves them.
    fn registry(&self, root: &Path, url: &str) {
        let files = root.join("files");
        std::fs::create_dir_all(&files).unwrap();
        let sums = format!("{NAME}_{}_SHA256SUMS", self.version);
        for f in self.sums_files() {
            std::fs::copy(self.dir.join(&f), files.join(&f)).unwrap();
        }
        let provider = root.join("v1/providers/golden-ami/golden");
        let mut platforms = Vec::new();
        for (platform, zip, hash) in self.archives() {
            std::fs::copy(self.dir.join(&zip), files.join(&zip)).unwrap();
            let (os, arch) = platform.split_once('_').unwrap();
            platforms.push(serde_json::json!({"os": os, "arch": arch}));
            let download = serde_json::json!({
                "protocols": ["6.0"],
                "os": os,
                "arch": arch,
                "filename": zip,
                "download_url": format!("{url}files/{zip}"),
                "shasums_url": format!("{url}files/{sums}"),
                "shasums_signature_url": format!("{url}files/{sums}.sig"),
                "shasum": hash,
                "signing_keys": {"gpg_public_keys": [
                    {"key_id": self.key_id, "ascii_armor": self.public_key}
                ]},
            });
            let dir = provider.join(&self.version).join("download").join(os);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(arch), download.to_string()).unwrap();
        }
        let versions = serde_json::json!({"versions": [
            {"version": self.version, "protocols": ["6.0"], "platforms": platforms}
        ]});
        std::fs::write(provider.join("versions"), versions.to_string()).unwrap();
    }
}

/// A workspace holding the seed template, with `cli_config` as its CLI configuration (nothing
/// else: no public registry, no network beyond 127.0.0.1).
fn seed_workspace(bed: &Bed, name: &str, cli_config: &str, v: TfVersion) -> Tf {
    let main =
        std::fs::read_to_string(support::repo().join("examples/seed-builder/main.tf")).unwrap();
    let mut tf = bed.workspace(name, &main, v);
    let rc = bed.dir.path().join(format!("{name}.terraformrc"));
    std::fs::write(&rc, cli_config).unwrap();
    tf.extra_env
        .push(("TF_CLI_CONFIG_FILE".into(), rc.display().to_string()));
    tf
}

/// After `init`: the lock file pins the release, and the installed binary reports the
/// release's version. Returns the lock file's hashes.
fn assert_installed(tf: &Tf, rel: &Release) -> Vec<String> {
    let lock = std::fs::read_to_string(tf.dir.join(".terraform.lock.hcl")).unwrap();
    assert!(
        lock.contains(&format!("provider \"{SOURCE}\""))
            && lock.contains(&format!("version = \"{}\"", rel.version)),
        "lock file:\n{lock}"
    );
    let exe = tf.dir.join(format!(
        ".terraform/providers/{SOURCE}/{0}/linux_amd64/{NAME}_v{0}",
        rel.version
    ));
    let out = Command::new(&exe)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{NAME} {} (Terraform plugin protocol 6.0)", rel.version)
    );
    let version = tf.ok(&["version"]);
    assert!(
        version.contains(&format!("provider {SOURCE} v{}", rel.version)),
        "{version}"
    );
    lock.lines()
        .filter_map(|l| Some(l.trim().strip_prefix('"')?.strip_suffix("\",")?.to_string()))
        .collect()
}

/// `provider_installation` with one method, for golden only.
fn installation(method: &str, setting: &str) -> String {
    format!(
        "provider_installation {{\n  {method} {{\n    {setting}\n    include = [\"{SOURCE}\"]\n  }}\n}}\n"
    )
}

fn installs_from_mirrors_and_bakes(v: TfVersion) {
    let rel = release();
    let bed = Bed::start();
    let served = bed.dir.path().join("served");
    let mirror = rel.mirror_as_documented(&served);

    // A packed filesystem mirror: the directory `terraform providers mirror` writes.
    let fs = seed_workspace(
        &bed,
        "fs-mirror",
        &installation(
            "filesystem_mirror",
            &format!("path = \"{}\"", mirror.display()),
        ),
        v,
    );
    fs.init();
    let fs_hashes = assert_installed(&fs, &rel);

    // The same directory as a network mirror over HTTPS, trusted through SSL_CERT_FILE only.
    let server = support::network_mirror(&served, bed.dir.path());
    let mirror_url = format!("{}mirror/", server.url);
    let mut net = seed_workspace(
        &bed,
        "net-mirror",
        &installation("network_mirror", &format!("url = \"{mirror_url}\"")),
        v,
    );
    let refused = net.fails(&["init", "-no-color", "-input=false"]);
    assert!(
        support::flat(&refused).contains("certificate"),
        "without the test CA the mirror's certificate is refused:\n{refused}"
    );
    net.extra_env
        .push(("SSL_CERT_FILE".into(), server.ca_file.display().to_string()));
    net.init();
    let net_hashes = assert_installed(&net, &rel);
    let log = std::fs::read_to_string(&server.log).unwrap();
    let zip = format!(
        "/mirror/{SOURCE}/{NAME}_{}_linux_amd64.zip 200",
        rel.version
    );
    assert!(log.contains(&zip), "the zip came from the mirror:\n{log}");

    // Mirrors carry no signature, so Terraform locks only the h1: hash of what it unpacked (the
    // same both ways). The registry protocol carries SHA256SUMS and its signature: Terraform
    // checks them against the release's key and locks every hash in SHA256SUMS (zh:) too.
    assert_eq!(fs_hashes, net_hashes);
    assert!(
        fs_hashes.len() == 1 && fs_hashes[0].starts_with("h1:"),
        "{fs_hashes:?}"
    );
    rel.registry(
        &served.join("registry"),
        &format!("{}registry/", server.url),
    );
    let mut reg = seed_workspace(
        &bed,
        "registry",
        &format!(
            "host \"registry.terraform.io\" {{\n  services = {{\n    \"providers.v1\" = \"{}registry/v1/providers/\"\n  }}\n}}\n{}",
            server.url,
            installation("direct", "")
        ),
        v,
    );
    reg.extra_env
        .push(("SSL_CERT_FILE".into(), server.ca_file.display().to_string()));
    let init = reg.ok(&["init", "-no-color", "-input=false"]);
    assert!(
        init.contains(&rel.key_id),
        "signed by the release key:\n{init}"
    );
    let reg_hashes = assert_installed(&reg, &rel);
    let mut want: Vec<String> = rel
        .sums
        .values()
        .map(|hash| format!("zh:{hash}"))
        .chain(fs_hashes)
        .collect();
    want.sort();
    assert_eq!(
        reg_hashes, want,
        "the lock file holds SHA256SUMS' hashes and the h1: hash"
    );

    // The installed release bakes the seed template.
    let vars = bed.example_vars();
    net.apply(&vars);
    let ami = net.output("ami_id");
    assert!(bed.image(&ami).is_some(), "{ami} exists after apply");
    bed.assert_no_leftovers();
    net.destroy(&vars);
    assert!(bed.image(&ami).is_none(), "{ami} is gone after destroy");
}

on_both_terraforms!(installs_from_mirrors_and_bakes);
