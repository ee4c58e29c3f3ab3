//! End to end: the cross-stack examples as users run them, three working
//! directories with three states (examples/cross-stack/{images,staging,
//! promote}, the first through examples/modules/golden-web), against the
//! test bed's EC2 and SSM. `staging/aws.tf` (hashicorp/aws, which cannot be
//! installed here) is left out; the ids are compared through outputs, and
//! the channels through the SSM API (testbed/check_channel.py).

mod support;

use support::{Bed, Tf, TfVersion};

on_both_terraforms!(images_handed_between_stacks_through_channels);

/// Runs testbed/check_channel.py for `name`; panics with its words when a
/// check fails.
fn check_channel(bed: &Bed, name: &str, args: &[&str]) {
    let out = std::process::Command::new("python3")
        .arg(support::repo().join("testbed/check_channel.py"))
        .args([bed.moto_endpoint.as_str(), "us-east-1", name])
        .args(args)
        .output()
        .expect("python3 (install with `bash scripts/setup.sh`)");
    assert!(
        out.status.success(),
        "check_channel {name} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies `examples/` (modules and cross-stack, keeping their relative
/// paths) under the bed, without the AWS provider's file.
fn stacks(bed: &Bed, v: TfVersion) -> (Tf, Tf, Tf) {
    let root = bed.dir.path().join("examples");
    for sub in [
        "modules/golden-web",
        "cross-stack/images",
        "cross-stack/staging",
        "cross-stack/promote",
    ] {
        let (from, to) = (support::repo().join("examples").join(sub), root.join(sub));
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap() {
            let e = e.unwrap();
            if e.file_name() != "aws.tf" {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    let tf = |s: &str| Tf::new(root.join("cross-stack").join(s), v);
    (tf("images"), tf("staging"), tf("promote"))
}

fn images_handed_between_stacks_through_channels(v: TfVersion) {
    let bed = Bed::start();
    let (images, staging, promote) = stacks(&bed, v);
    let endpoints = vec![
        format!("-var=ec2_endpoint={}", bed.endpoint),
        format!("-var=ssm_endpoint={}", bed.endpoint),
    ];
    let mut baking = bed.example_vars();
    baking.push(format!("-var=ssm_endpoint={}", bed.endpoint));
    let version = |n: &str| {
        let mut v = baking.clone();
        v.push(format!("-var=web_version={n}"));
        v
    };
    for tf in [&images, &staging, &promote] {
        tf.init();
    }

    // Bake, publish on web/staging; staging reads it; promote points web/prod at it.
    images.apply(&version("1"));
    let first = images.output("ami_id");
    staging.apply(&endpoints);
    assert_eq!(staging.output("ami_id"), first, "staging reads web/staging");
    promote.apply(&endpoints);
    assert_eq!(promote.output("prod_ami_id"), first);
    check_channel(&bed, "/golden/channel/web/prod", &["history", &first]);

    // A new web version: rebaked, web/staging moves, the old image stays
    // (keep_previous = 1 in the module) but deprecated; prod stays until promoted.
    images.apply(&version("2"));
    let second = images.output("ami_id");
    assert_ne!(second, first);
    assert!(
        bed.image(&first)
            .is_some_and(|i| i.deprecation_time().is_some()),
        "the previous image stays, deprecated"
    );
    check_channel(
        &bed,
        "/golden/channel/web/staging",
        &["history", &format!("{first},{second}")],
    );
    check_channel(&bed, "/golden/channel/web/prod", &["history", &first]);
    staging.apply(&endpoints);
    assert_eq!(
        staging.output("ami_id"),
        second,
        "staging follows the channel"
    );
    promote.apply(&endpoints);
    check_channel(
        &bed,
        "/golden/channel/web/prod",
        &["history", &format!("{first},{second}")],
    );

    // A rollback reads the first promotion (the parameter's version 1); that
    // image was retired by the rebake, so it is asked for knowingly.
    let rollback = Tf::new(bed.dir.path().join("rollback"), v);
    std::fs::create_dir_all(&rollback.dir).unwrap();
    std::fs::write(
        rollback.dir.join("main.tf"),
        format!(
            "{}\ndata \"golden_ami\" \"prod\" {{\n  channel            = \"web/prod\"\n  channel_version    = 1\n  include_deprecated = true\n}}\noutput \"id\" {{\n  value = data.golden_ami.prod.id\n}}\n",
            bed.provider_hcl()
        ),
    )
    .unwrap();
    rollback.init();
    rollback.apply(&[]);
    assert_eq!(
        rollback.output("id"),
        first,
        "version 1: the first promotion"
    );

    // Tear down in the order of dependence: nothing left, in EC2 or SSM.
    promote.destroy(&endpoints);
    check_channel(&bed, "/golden/channel/web/prod", &["absent"]);
    staging.destroy(&endpoints);
    images.destroy(&version("2"));
    check_channel(&bed, "/golden/channel/web/staging", &["absent"]);
    assert!(
        bed.own_images().is_empty(),
        "destroy removes the image and the one kept"
    );
    bed.assert_no_leftovers();
}
