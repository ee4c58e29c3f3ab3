#!/usr/bin/env bash
# Runs every test on a fresh machine: installs the test bed (scripts/setup.sh), builds once,
# runs the unit tests and the end-to-end tests (real terraform 1.11 and 1.0.3, moto, sshd),
# builds the linux_amd64 release package and installs it as users do (tests/install.rs), then
# checks formatting and clippy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
export CHECKPOINT_DISABLE=1

# The release package (linux_amd64), as users install it: scripts/release.sh, signed with a
# throw-away key made here. Its release build runs in the background at low priority while the
# debug build and tests run (their build is mostly one rustc unit, so the second core is free);
# tests/install.rs installs it afterwards. The version is deliberately not Cargo.toml's: the
# binary must report the version it was built as.
release_version=0.0.1
release_dist="$PWD/.work/ci-dist"
release_log="$PWD/.work/release.log"
export GNUPGHOME="$PWD/.work/ci-gnupg"
rm -rf "$GNUPGHOME" && mkdir -m 700 -p "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "golden CI throw-away <ci@golden.invalid>" rsa3072 sign 1d
release_pid=
stop_release() {
  [ -z "$release_pid" ] || kill -TERM -- "-$release_pid" 2>/dev/null || true
  gpgconf --kill all 2>/dev/null || true # the agent gpg started for the throw-away key
}
trap stop_release EXIT
release_started=$(date +%s)
GOLDEN_GPG_KEY=ci@golden.invalid GOLDEN_RELEASE_TARGETS=linux_amd64 GOLDEN_DIST="$release_dist" \
  setsid nice -n 10 bash scripts/release.sh "$release_version" >"$release_log" 2>&1 &
release_pid=$!

cargo build --locked
cargo test --locked -- --test-threads 2 --skip installs_from_mirrors_and_bakes
# The benchmarks in quick mode (bakes beside Packer, then the upload): they must keep working;
# their figures are not asserted.
python3 bench/bake_vs_packer.py --quick --provider target/debug/terraform-provider-golden
# A fresh runner with only the state, 5 bakes in one apply, and 5 with 10 % of calls throttled
# (about 1 min); it fails if a throttled bake does not finish.
python3 bench/at_scale.py --quick --provider target/debug/terraform-provider-golden
# The main job as a new user runs it, its output piped: no colour codes, and nothing of its
# test bed may be left running afterwards.
demo_out=.work/demo.out
bash scripts/demo.sh >"$demo_out" 2>&1 || { cat "$demo_out"; echo "test.sh: the demo failed" >&2; exit 1; }
if grep -q $'\e' "$demo_out"; then echo "test.sh: the demo printed colour codes into a pipe" >&2; exit 1; fi
if pgrep -f "$PWD/.work/demo/" >/dev/null; then
  echo "test.sh: the demo left processes running:" >&2; pgrep -af "$PWD/.work/demo/" >&2; exit 1
fi
echo "test.sh: demo ok, nothing left running"

# The release: wait for it, install it from mirrors under both Terraforms and bake with it.
wait "$release_pid" || { cat "$release_log"; echo "test.sh: scripts/release.sh failed" >&2; exit 1; }
release_pid=
echo "test.sh: release built in the background, finished $(($(date +%s) - release_started)) s after it started"
GOLDEN_DIST="$release_dist" cargo test --locked --test install -- --test-threads 2
# Packaging the same commit again gives the same zip (the build is up to date: this checks the
# packaging; the binary's own reproducibility is checked by hand, see scripts/release.sh).
GOLDEN_GPG_KEY=ci@golden.invalid GOLDEN_RELEASE_TARGETS=linux_amd64 GOLDEN_DIST="$release_dist.again" \
  bash scripts/release.sh "$release_version" >>"$release_log" 2>&1
cmp "$release_dist/terraform-provider-golden_${release_version}_linux_amd64.zip" \
  "$release_dist.again/terraform-provider-golden_${release_version}_linux_amd64.zip"
cmp "$release_dist/terraform-provider-golden_${release_version}_SHA256SUMS" \
  "$release_dist.again/terraform-provider-golden_${release_version}_SHA256SUMS"
echo "test.sh: release $release_version installs, bakes, and packs reproducibly"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
