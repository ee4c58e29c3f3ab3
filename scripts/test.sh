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
# The benchmark in quick mode: it must keep working; its figures are not asserted.
python3 bench/upload_throughput.py --provider target/debug/terraform-provider-golden --size-mib 8 --runs 1
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
