#!/usr/bin/env bash
# Runs every test on a fresh machine: installs the test bed (scripts/setup.sh), builds once,
# runs the unit tests and the end-to-end tests (real terraform 1.11 and 1.0.3, moto, sshd),
# then checks formatting and clippy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
export CHECKPOINT_DISABLE=1
cargo build --locked
cargo test --locked -- --test-threads 2
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
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
