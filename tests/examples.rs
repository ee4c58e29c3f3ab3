//! The examples the docs show (examples/provider, examples/resources/*, examples/data-sources/*, pulled into docs/ by
//! the docs test) are valid configurations: `terraform validate` with this build of the
//! provider from the test mirror. Each resource example is validated beside provider.tf, which
//! holds the `required_providers` block. The examples keep `aws_instance` out: the AWS provider
//! cannot be installed here, so the docs show that part as prose.

mod support;

use support::{Tf, TfVersion};

fn validate(name: &str, files: &[&str], v: TfVersion) {
    let dir = tempfile::Builder::new()
        .prefix("golden-examples-")
        .tempdir()
        .unwrap();
    let tf = Tf::new(dir.path().join(name), v);
    for f in files {
        let src = support::repo().join("examples").join(f);
        let file_name = std::path::Path::new(f).file_name().unwrap();
        std::fs::copy(&src, tf.dir.join(file_name))
            .unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    }
    tf.init();
    let out = tf.ok(&["validate", "-no-color"]);
    assert!(out.contains("The configuration is valid"), "{out}");
}

fn examples_validate(v: TfVersion) {
    validate("provider", &["provider/provider.tf"], v);
    let resources = support::repo().join("examples/resources");
    let mut seen = 0;
    for entry in std::fs::read_dir(&resources).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let resource = format!("resources/{name}/resource.tf");
        validate(&name, &["provider/provider.tf", &resource], v);
        seen += 1;
    }
    assert!(seen > 0, "no example under {}", resources.display());
    let data_sources = support::repo().join("examples/data-sources");
    for entry in std::fs::read_dir(&data_sources).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let example = format!("data-sources/{name}/data-source.tf");
        validate(
            &format!("data-{name}"),
            &["provider/provider.tf", &example],
            v,
        );
    }
}

on_both_terraforms!(examples_validate);
