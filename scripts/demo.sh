#!/usr/bin/env bash
# The main job on a local test bed: bakes the seed template (examples/seed-provisioners) with
# `terraform apply` against a local EC2 emulator (moto) and a local sshd standing in for the
# build instance, prints the AMI id, destroys it, and stops everything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh
cargo build --locked

DEMO="$ROOT/.work/demo"
rm -rf "$DEMO" && mkdir -p "$DEMO"
pids=()
# Each test-bed process leads its own session, so stopping it stops what it started (sshd.py's
# sshd); the PIDs are kept in this shell, never in a $(...) subshell.
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# Starts a test-bed process in the background, in this shell.
start() {
  local log="$1"; shift
  setsid "$@" >"$log.out" 2>"$log.err" &
  pids+=($!)
}

# Prints the words after a started process's READY line.
ready() {
  local log="$1"
  for _ in $(seq 1 100); do
    if grep -q '^READY' "$log.out" 2>/dev/null; then sed -n 's/^READY //p' "$log.out"; return; fi
    sleep 0.1
  done
  echo "demo: $log did not start; see $log.err" >&2; exit 1
}

# Terraform's colours only where a terminal shows them.
color=()
[ -t 1 ] || color=(-no-color)

start "$DEMO/moto" python3 testbed/moto_ec2.py --port 0 --console-file "$DEMO/console.txt" --sshd-dir "$DEMO/sshd"
endpoint="$(ready "$DEMO/moto")"
start "$DEMO/sshd" python3 testbed/sshd.py --ec2 "$endpoint" --port 0 --dir "$DEMO/sshd"
read -r ssh_port ssh_user host_key_pub < <(ready "$DEMO/sshd")
# moto's --sshd-dir makes the sshd present the host key the bake hands cloud-init (the default
# check); as cloud-init also does on EC2: the fingerprints on the console (host_key_check = "console").
{ echo "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----"; echo "ec2: $(ssh-keygen -lf "$host_key_pub")"
  echo "ec2: -----END SSH HOST KEY FINGERPRINTS-----"; } >"$DEMO/console.txt"
echo "demo: EC2 emulator at $endpoint, sshd on 127.0.0.1:$ssh_port as $ssh_user"

# Install the provider as a user installs an unpublished one: an unpacked filesystem mirror.
mirror="$DEMO/mirror/registry.terraform.io/golden-ami/golden/0.1.0/linux_amd64"
mkdir -p "$mirror"
cp target/debug/terraform-provider-golden "$mirror/terraform-provider-golden_v0.1.0"
cat >"$DEMO/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$DEMO/mirror"
    include = ["registry.terraform.io/golden-ami/golden"]
  }
}
RC
export TF_CLI_CONFIG_FILE="$DEMO/terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true

cp -r examples/seed-provisioners "$DEMO/work"
cd "$DEMO/work"
vars=(-var "ec2_endpoint=$endpoint" -var ssh_host=127.0.0.1 -var "ssh_port=$ssh_port"
      -var "ssh_username=$ssh_user" -var "remote_dir=$DEMO/instance/opt/packer")
terraform init -input=false "${color[@]}" >/dev/null
start=$(date +%s.%N)
TF_LOG=INFO TF_LOG_PATH="$DEMO/terraform.log" terraform apply -auto-approve -input=false "${color[@]}" "${vars[@]}"
echo "demo: apply took $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }") s (log: $DEMO/terraform.log)"
echo "demo: AMI id: $(terraform output -raw ami_id)"
terraform destroy -auto-approve -input=false "${color[@]}" "${vars[@]}" >/dev/null
echo "demo: destroyed; test bed stopped"
