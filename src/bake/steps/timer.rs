//! The build instance's own timer: an abandoned build instance (the runner
//! killed, the provider gone) powers itself off at a deadline, and with the
//! shutdown behaviour `terminate` that is a terminate (EC2 User Guide,
//! "Change the instance initiated shutdown behavior").
//!
//! The deadline is written to disk in absolute time and re-armed at every
//! boot, so a reboot step does not lose it: a systemd unit where systemd
//! runs, else a cloud-init per-boot script (the user data is cloud-init's, so
//! cloud-init is there). The bake removes all of it over SSH before the
//! instance is stopped, so no image carries it (an image holding a deadline
//! in the past would power off every instance launched from it).
//!
//! Every path is under `$GOLDEN_TIMER_ROOT`, empty on an instance; the test
//! bed sets it to run the timer in a sandbox directory.

use std::time::Duration;

/// Where the deadline and the arming script live (persistent, unlike /run).
const DIR: &str = "/var/lib/golden-ami";
const UNIT: &str = "golden-ami-timer.service";
const SYSTEMD_DIR: &str = "/etc/systemd/system";
const PER_BOOT: &str = "/var/lib/cloud/scripts/per-boot/golden-ami-timer";

/// How long after the create timeout the instance waits: the provider gives
/// up at the create timeout and cleans up itself; the timer is for when the
/// provider is gone, and must never beat a bake that is still within it.
pub const MARGIN: Duration = Duration::from_secs(60);

/// The seconds from boot to the deadline for a bake with `create_timeout`.
pub fn seconds_left(create_timeout: Duration) -> u64 {
    (create_timeout + MARGIN).as_secs()
}

/// The user-data shell script that writes the deadline (`seconds` from now)
/// and arms it, now and at every later boot. The deadline is written aside
/// and renamed, and one that does not read as a number arms nothing: a torn
/// or empty file must not power off a live bake at once.
pub fn install_script(seconds: u64) -> String {
    format!(
        r#"#!/bin/sh
# golden_ami: power this build instance off at its deadline, at every boot,
# until the bake removes this timer (before the image is made).
r="${{GOLDEN_TIMER_ROOT-}}"
d="$r{DIR}"
mkdir -p "$d"
echo $(( $(date +%s) + {seconds} )) > "$d/deadline.new" && mv "$d/deadline.new" "$d/deadline"
cat > "$d/arm" <<'EOF'
#!/bin/sh
f="${{GOLDEN_TIMER_ROOT-}}{DIR}/deadline"
dl=$(cat "$f" 2>/dev/null) || exit 0
case "$dl" in ''|*[!0-9]*) exit 0 ;; esac
left=$(( dl - $(date +%s) ))
[ "$left" -gt 0 ] && sleep "$left"
[ -f "$f" ] || exit 0
poweroff || shutdown -P now
EOF
chmod 755 "$d/arm"
if [ -d "$r/run/systemd/system" ]; then
  printf '[Unit]\nDescription=golden_ami build deadline\n[Service]\nExecStart={DIR}/arm\n[Install]\nWantedBy=multi-user.target\n' > "$r{SYSTEMD_DIR}/{UNIT}"
  systemctl daemon-reload
  systemctl enable --now --no-block {UNIT}
else
  mkdir -p "$(dirname "$r{PER_BOOT}")"
  printf '#!/bin/sh\nnohup "%s/arm" >/dev/null 2>&1 &\n' "$d" > "$r{PER_BOOT}"
  chmod 755 "$r{PER_BOOT}"
  nohup "$d/arm" >/dev/null 2>&1 &
fi
"#
    )
}

/// The command that removes the timer (files, unit, per-boot script) and
/// prints `golden-timer-removed` once nothing of it is left. The files are
/// root's: through sudo when not run as root.
pub fn removal_command() -> String {
    let script = crate::ssh::exec::sh_quote(&format!(
        r#"r="$1"
if [ -d "$r/run/systemd/system" ] && [ -f "$r{SYSTEMD_DIR}/{UNIT}" ]; then
  systemctl disable --now {UNIT} >/dev/null 2>&1
fi
rm -rf "$r{DIR}" "$r{SYSTEMD_DIR}/{UNIT}" "$r{PER_BOOT}"
[ -d "$r{SYSTEMD_DIR}" ] && systemctl daemon-reload >/dev/null 2>&1
[ ! -e "$r{DIR}" ] && [ ! -e "$r{SYSTEMD_DIR}/{UNIT}" ] && [ ! -e "$r{PER_BOOT}" ] && echo golden-timer-removed
"#
    ));
    format!(
        "if [ \"$(id -u)\" = 0 ]; then sh -c {script} golden \"${{GOLDEN_TIMER_ROOT-}}\"; \
         else sudo -n sh -c {script} golden \"${{GOLDEN_TIMER_ROOT-}}\"; fi"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    /// Runs `script` with sh in a sandbox root whose `poweroff` records its call.
    fn sh(root: &Path, script: &str) -> std::process::Output {
        let bin = root.join("bin");
        if let Err(e) = std::fs::create_dir_all(&bin) {
            panic!("{e}")
        }
        let fake = format!("#!/bin/sh\necho off >> {}/powered-off\n", root.display());
        if let Err(e) = std::fs::write(bin.join("poweroff"), fake) {
            panic!("{e}")
        }
        let _ = Command::new("chmod")
            .arg("755")
            .arg(bin.join("poweroff"))
            .status();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        match Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("GOLDEN_TIMER_ROOT", root)
            .env("PATH", path)
            .output()
        {
            Ok(o) => o,
            Err(e) => panic!("cannot run sh: {e}"),
        }
    }

    fn wait_for(p: &Path) -> bool {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if p.exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    #[test]
    fn the_deadline_follows_the_create_timeout() {
        assert_eq!(seconds_left(Duration::from_secs(3600)), 3660);
        assert!(install_script(3660).contains("+ 3660 ))"));
    }

    #[test]
    fn without_systemd_a_per_boot_script_rearms_a_deadline_on_disk() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("no temp dir")
        };
        let root = tmp.path();
        let out = sh(root, &install_script(1));
        assert!(out.status.success(), "{out:?}");
        let deadline = root.join("var/lib/golden-ami/deadline");
        assert!(deadline.exists());
        let per_boot = root.join("var/lib/cloud/scripts/per-boot/golden-ami-timer");
        assert!(per_boot.exists());
        // The first boot's timer fires.
        assert!(wait_for(&root.join("powered-off")), "no poweroff");
        // A later boot (the per-boot script alone) arms it again.
        let _ = std::fs::remove_file(root.join("powered-off"));
        let out = sh(root, &format!("sh {}", per_boot.display()));
        assert!(out.status.success(), "{out:?}");
        assert!(wait_for(&root.join("powered-off")), "not re-armed at boot");
    }

    #[test]
    fn removal_leaves_nothing_and_disarms_a_running_timer() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("no temp dir")
        };
        let root = tmp.path();
        let out = sh(root, &install_script(2));
        assert!(out.status.success(), "{out:?}");
        let out = sh(root, &removal_command());
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "golden-timer-removed"
        );
        assert!(!root.join("var/lib/golden-ami").exists());
        assert!(
            !root
                .join("var/lib/cloud/scripts/per-boot/golden-ami-timer")
                .exists()
        );
        // The sleeper armed before the removal wakes and finds no deadline.
        std::thread::sleep(Duration::from_secs(3));
        assert!(!root.join("powered-off").exists(), "a removed timer fired");
    }

    #[test]
    fn a_garbled_deadline_arms_nothing() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("no temp dir")
        };
        let root = tmp.path();
        // No sleeper left behind by this test: a `nohup` that starts nothing.
        if let Err(e) = std::fs::create_dir_all(root.join("bin")) {
            panic!("{e}")
        }
        if let Err(e) = std::fs::write(root.join("bin/nohup"), "#!/bin/sh\nexit 0\n") {
            panic!("{e}")
        }
        let _ = Command::new("chmod")
            .arg("755")
            .arg(root.join("bin/nohup"))
            .status();
        let out = sh(root, &install_script(3600));
        assert!(out.status.success(), "{out:?}");
        let d = root.join("var/lib/golden-ami");
        for garbled in ["", "12ab\n"] {
            if let Err(e) = std::fs::write(d.join("deadline"), garbled) {
                panic!("{e}")
            }
            let out = sh(root, &format!("sh {}", d.join("arm").display()));
            assert!(out.status.success(), "{out:?}");
            assert!(
                !root.join("powered-off").exists(),
                "{garbled:?} powered off"
            );
        }
    }

    #[test]
    fn with_systemd_a_unit_is_enabled() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("no temp dir")
        };
        let root = tmp.path();
        for d in ["run/systemd/system", "etc/systemd/system", "bin"] {
            if let Err(e) = std::fs::create_dir_all(root.join(d)) {
                panic!("{e}")
            }
        }
        // A systemctl that records what it was asked.
        let fake = format!(
            "#!/bin/sh\necho \"$*\" >> {}/systemctl.log\n",
            root.display()
        );
        if let Err(e) = std::fs::write(root.join("bin/systemctl"), fake) {
            panic!("{e}")
        }
        let _ = Command::new("chmod")
            .arg("755")
            .arg(root.join("bin/systemctl"))
            .status();
        let out = sh(root, &install_script(600));
        assert!(out.status.success(), "{out:?}");
        let unit =
            std::fs::read_to_string(root.join("etc/systemd/system/golden-ami-timer.service"))
                .unwrap_or_default();
        assert!(unit.contains("ExecStart=/var/lib/golden-ami/arm"), "{unit}");
        assert!(unit.contains("WantedBy=multi-user.target"), "{unit}");
        let log = std::fs::read_to_string(root.join("systemctl.log")).unwrap_or_default();
        assert!(
            log.contains("enable --now --no-block golden-ami-timer.service"),
            "{log}"
        );
        assert!(
            !root
                .join("var/lib/cloud/scripts/per-boot/golden-ami-timer")
                .exists()
        );
        let out = sh(root, &removal_command());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "golden-timer-removed"
        );
        let log = std::fs::read_to_string(root.join("systemctl.log")).unwrap_or_default();
        assert!(
            log.contains("disable --now golden-ami-timer.service"),
            "{log}"
        );
        assert!(
            !root
                .join("etc/systemd/system/golden-ami-timer.service")
                .exists()
        );
    }
}
