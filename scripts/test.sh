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
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
