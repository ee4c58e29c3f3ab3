//! `terraform-provider-golden convert`: every template of tests/convert/
//! converts to a configuration that `terraform validate` and
//! `terraform fmt -check` accept, each gap is reported at the template line
//! that holds it, and the two seed templates, converted, bake on the bed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Bed, Tf, TfVersion, repo};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-golden");

struct Converted {
    code: i32,
    stderr: String,
    out: PathBuf,
}

fn convert(template: &Path, out: &Path) -> Converted {
    let o = Command::new(BIN)
        .arg("convert")
        .arg(template)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run the converter");
    Converted {
        code: o.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&o.stderr).to_string(),
        out: out.to_path_buf(),
    }
}

/// Copies a corpus entry (a file or directory) into `dst`.
fn copy_tree(src: &Path, dst: &Path) {
    if src.is_dir() {
        std::fs::create_dir_all(dst).unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &dst.join(e.file_name()));
        }
    } else {
        std::fs::copy(src, dst).unwrap();
    }
}

fn validate_and_fmt(c: &Converted) {
    let tf = Tf::new(c.out.clone(), TfVersion::Current);
    tf.init();
    let v = tf.ok(&["validate", "-no-color"]);
    assert!(v.contains("The configuration is valid"), "{v}");
    tf.ok(&["fmt", "-check", "-diff", "-no-color"]);
}

/// Each `FILE:N: not converted: `key`` names a key written on line N.
fn gaps_point_at_their_lines(c: &Converted, template: &Path) -> usize {
    let text = std::fs::read_to_string(template).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut n = 0;
    for l in c
        .stderr
        .lines()
        .filter(|l| l.contains(": not converted: `"))
    {
        let line: usize = l.split(':').nth(1).and_then(|x| x.parse().ok()).expect(l);
        let key = l.split('`').nth(1).unwrap();
        let leaf = key.rsplit('.').next().unwrap();
        assert!(
            lines[line - 1].contains(leaf),
            "{l}\nline {line} is: {}",
            lines[line - 1]
        );
        n += 1;
    }
    n
}

#[test]
fn every_option_the_converter_maps_validates() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("json-full");
    copy_tree(&repo().join("tests/convert/corpus/json-full"), &src);
    // The key files the template names (ssh_private_key_file...), made here.
    std::fs::create_dir_all(src.join("keys")).unwrap();
    for k in ["bastion", "builder"] {
        let ok = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(src.join("keys").join(k))
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let c = convert(&src.join("template.json"), &work.path().join("out"));
    assert_eq!(c.code, 0, "complete:\n{}", c.stderr);
    assert!(!c.stderr.contains("not converted"), "{}", c.stderr);
    validate_and_fmt(&c);
    let main = std::fs::read_to_string(c.out.join("main.tf")).unwrap();
    // Two builders in two regions: the second gets a provider alias.
    assert!(main.contains("alias  = \"worker\""), "{main}");
    assert!(main.contains("provider = golden.worker"), "{main}");
    // `only`/`except`/`override`: a.sh runs on web only, b.sh and c.sh on worker, with its path.
    let web = &main[main.find("\"web\" {").unwrap()..main.find("\"worker\" {").unwrap()];
    let worker = &main[main.find("\"worker\" {").unwrap()..];
    assert!(web.contains("scripts/a.sh") && !web.contains("scripts/b.sh"));
    assert!(worker.contains("scripts/b.sh") && !worker.contains("scripts/a.sh"));
    assert!(worker.contains("/tmp/worker-step.sh"), "{worker}");
    // The files it names were copied beside the output, the mode kept.
    for f in [
        "scripts/a.sh",
        "files/site/index.html",
        "user-data.sh",
        "keys/builder",
    ] {
        assert!(c.out.join(f).is_file(), "{f} not copied");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(c.out.join("scripts/a.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);
    let vars = std::fs::read_to_string(c.out.join("variables.tf")).unwrap();
    assert!(vars.contains("environment variable API_TOKEN"), "{vars}");
}

#[test]
fn gaps_are_reported_at_their_lines_and_left_as_comments() {
    let work = tempfile::tempdir().unwrap();
    let template = repo().join("tests/convert/corpus/json-gaps/template.json");
    let c = convert(&template, &work.path().join("out"));
    assert_eq!(c.code, 2, "incomplete:\n{}", c.stderr);
    let n = gaps_point_at_their_lines(&c, &template);
    assert!(n >= 6, "{}", c.stderr);
    for what in ["skip_create_ami", "winrm", "docker", "ansible", "manifest"] {
        assert!(
            c.stderr.contains(what),
            "{what} not reported:\n{}",
            c.stderr
        );
    }
    let main = std::fs::read_to_string(c.out.join("main.tf")).unwrap();
    assert!(
        main.contains("# Not converted (line 11): \"skip_create_ami\": true"),
        "{main}"
    );
    validate_and_fmt(&c);
}

#[test]
fn an_hcl2_directory_converts() {
    let work = tempfile::tempdir().unwrap();
    let dir = repo().join("tests/convert/corpus/hcl-dir");
    let c = convert(&dir, &work.path().join("out"));
    assert_eq!(c.code, 2, "{}", c.stderr);
    assert!(c.stderr.contains("`build.*`"), "{}", c.stderr);
    // Reported at the file and line that hold it, in the report and in the output.
    let build = std::fs::read_to_string(dir.join("build.pkr.hcl")).unwrap();
    let at = build.lines().position(|l| l.contains("build.ID")).unwrap() + 1;
    assert!(
        c.stderr
            .contains(&format!("build.pkr.hcl:{at}: not converted: `inline`")),
        "{}",
        c.stderr
    );
    let vars = std::fs::read_to_string(dir.join("variables.pkr.hcl")).unwrap();
    let token_at = vars
        .lines()
        .position(|l| l.contains("variable \"token\""))
        .unwrap()
        + 1;
    assert!(
        c.stderr.contains(&format!(
            "variables.pkr.hcl:{token_at}: note: variable `token`"
        )),
        "{}",
        c.stderr
    );
    validate_and_fmt(&c);
    let main = std::fs::read_to_string(c.out.join("main.tf")).unwrap();
    assert!(
        main.contains(&format!("# Not converted (build.pkr.hcl line {at})")),
        "{main}"
    );
    assert!(
        main.contains("name_prefix   = \"web-${var.app_version}-\""),
        "{main}"
    );
    // The file step is `only` for the renamed source.
    let web = &main[main.find("\"web\" {").unwrap()..main.find("\"web_large\" {").unwrap()];
    assert!(!web.contains("motd") && main.contains("${path.module}/motd"));
}

/// The seed template, its script beside it, with its absolute paths moved
/// into the bed's per-test directory: the bed's "instance" is this machine,
/// whose /opt is not the test's to chown.
fn seed_for_bed(bed: &Bed, name: &str) -> PathBuf {
    let dir = bed.dir.path().join(format!("seed-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let remote = bed.remote_dir();
    let text = std::fs::read_to_string(repo().join("tests/convert/seed").join(name))
        .unwrap()
        .replace("/opt/packer", &remote.display().to_string())
        .replace(" /opt\"", &format!(" {}\"", remote.display()))
        .replace("ec2-user:ec2-user", &format!("{0}:{0}", bed.ssh_user));
    std::fs::write(dir.join(name), text).unwrap();
    std::fs::copy(
        repo().join("tests/convert/seed/wordpress-nginx.sh"),
        dir.join("wordpress-nginx.sh"),
    )
    .unwrap();
    dir.join(name)
}

/// The bed's endpoint and sshd, as examples/seed-* get them through variables,
/// here through an override file beside the converted configuration.
fn bed_override(bed: &Bed, label: &str) -> String {
    format!(
        "provider \"golden\" {{\n  endpoints {{\n    ec2 = \"{}\"\n  }}\n}}\n\nresource \"golden_ami\" \"{label}\" {{\n{}}}\n",
        bed.endpoint,
        bed.ssh_hcl()
    )
}

#[test]
fn converted_seed_templates_bake_on_the_bed() {
    let bed = Bed::start();
    for name in ["packer-builders.json", "packer-provisioners.json"] {
        let template = seed_for_bed(&bed, name);
        let out = bed.dir.path().join(format!("tf-{name}"));
        let c = convert(&template, &out);
        assert_eq!(c.code, 0, "{name}:\n{}", c.stderr);
        validate_and_fmt(&c);
        std::fs::write(
            out.join("bed_override.tf"),
            bed_override(&bed, "amazon_linux_ami"),
        )
        .unwrap();
        let tf = Tf::new(out.clone(), TfVersion::Current);
        tf.apply(&[]);
        let ami = tf.output("amazon_linux_ami_id");
        let img = bed.image(&ami).expect("the AMI exists");
        assert!(img.name().unwrap().starts_with("training-amazon-linux-"));
        assert_eq!(img.description(), Some("Linux-AMI"));
        bed.assert_no_leftovers();
        tf.destroy(&[]);
        assert!(bed.image(&ami).is_none());
    }
    // The provisioners ran in order on the "instance": the uploaded script wrote its site.
    let conf = std::fs::read_to_string(bed.remote_dir().join("nginx/wordpress.conf"))
        .expect("the uploaded script ran");
    assert!(conf.contains("root /var/www/wordpress;"));
}

#[test]
fn the_seed_templates_as_shipped_report_what_they_lack() {
    let work = tempfile::tempdir().unwrap();
    let seed = repo().join("tests/convert/seed");
    let b = convert(&seed.join("packer-builders.json"), &work.path().join("b"));
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(
        b.stderr
            .contains("name_prefix = \"training-amazon-linux-\""),
        "{}",
        b.stderr
    );
    // Copied beside the output when it goes elsewhere.
    let p = convert(
        &seed.join("packer-provisioners.json"),
        &work.path().join("p"),
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert!(
        p.stderr.contains("wordpress-nginx.sh is copied"),
        "{}",
        p.stderr
    );
    assert!(work.path().join("p/wordpress-nginx.sh").is_file());
}

#[test]
fn a_single_hcl2_file_with_the_time_in_a_local() {
    let work = tempfile::tempdir().unwrap();
    let template = work.path().join("web.pkr.hcl");
    std::fs::write(
        &template,
        r#"locals {
  stamp = regex_replace(timestamp(), "[- TZ:]", "")
}

source "amazon-ebs" "web" {
  ami_name      = "web-${local.stamp}"
  instance_type = "t3.micro"
  source_ami    = "ami-0123456789abcdef0"
  ssh_username  = "ec2-user"
  tags          = { Built = local.stamp }
}

build {
  sources = ["source.amazon-ebs.web"]
}
"#,
    )
    .unwrap();
    let c = convert(&template, &work.path().join("out"));
    assert_eq!(c.code, 2, "{}", c.stderr);
    assert!(
        c.stderr.contains("web.pkr.hcl:10: not converted: `tags`"),
        "{}",
        c.stderr
    );
    let main = std::fs::read_to_string(c.out.join("main.tf")).unwrap();
    assert!(main.contains("name_prefix   = \"web-\""), "{main}");
    validate_and_fmt(&c);
}
