#!/usr/bin/env bash
# Builds a release of the provider and writes dist/ in the layout of the Terraform Registry and
# of `terraform providers mirror`:
#   terraform-provider-golden_VERSION_linux_amd64.zip   (holds terraform-provider-golden_vVERSION)
#   terraform-provider-golden_VERSION_linux_arm64.zip
#   terraform-provider-golden_VERSION_manifest.json     (the plugin protocol, from the binary)
#   terraform-provider-golden_VERSION_SHA256SUMS         (the zips and the manifest)
#   terraform-provider-golden_VERSION_SHA256SUMS.sig     (detached GPG signature of SHA256SUMS)
#
# Usage: scripts/release.sh VERSION
# Environment:
#   GOLDEN_GPG_KEY          the key that signs SHA256SUMS (id, fingerprint or e-mail; required).
#                           GNUPGHOME picks the keyring as usual.
#   GOLDEN_RELEASE_TARGETS  platforms to build (default "linux_amd64 linux_arm64"; CI: linux_amd64)
#   GOLDEN_DIST             output directory (default dist/); emptied first
#
# The version: the binary reports GOLDEN_VERSION, set here at build time (src/main.rs), so a
# release is cut from any commit without editing Cargo.toml. Only our crate recompiles when it
# changes.
# Reproducible: the same commit gives byte-identical zips. Paths are remapped out of the binary
# (rustc and the C compiler alike), symbols are stripped, and the zip entry has a fixed date,
# permissions and compression. The signature carries its own time, so the .sig differs.
# linux_arm64 is cross-compiled with cargo-zigbuild (zig as C compiler and linker, from PyPI,
# installed by scripts/setup.sh). darwin is not built: linking for macOS needs Apple's SDK,
# which none of the registries we reach carries.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

die() { echo "release.sh: ERROR: $*" >&2; exit 1; }
VERSION="${1:-}"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] \
  || die "usage: scripts/release.sh VERSION (semantic version without a leading v, e.g. 0.2.0)"
[ -n "${GOLDEN_GPG_KEY:-}" ] || die "GOLDEN_GPG_KEY is not set: name the GPG key that signs the release
  (GNUPGHOME chooses the keyring), e.g. GOLDEN_GPG_KEY=releases@example.com"
gpg --batch --list-secret-keys "$GOLDEN_GPG_KEY" >/dev/null 2>&1 \
  || die "no secret key '$GOLDEN_GPG_KEY' in ${GNUPGHOME:-~/.gnupg}"
# The Terraform Registry takes RSA (or DSA) signing keys only, and Terraform 1.0 cannot read
# EdDSA keys ("unsupported feature: public key type: 22").
[ "$(gpg --batch --with-colons --list-keys "$GOLDEN_GPG_KEY" | awk -F: '$1 == "pub" { print $4; exit }')" = 1 ] \
  || die "'$GOLDEN_GPG_KEY' is not an RSA key; make one with: gpg --quick-gen-key 'NAME <MAIL>' rsa4096 sign"
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  echo "release.sh: WARNING: uncommitted changes; this release cannot be rebuilt from a commit" >&2
fi
TARGETS="${GOLDEN_RELEASE_TARGETS:-linux_amd64 linux_arm64}"
DIST="${GOLDEN_DIST:-$ROOT/dist}"
NAME=terraform-provider-golden
CARGO_HOME_DIR="${CARGO_HOME:-$HOME/.cargo}"

# What the binaries must not depend on: where this checkout and the crate sources lie.
export RUSTFLAGS="--remap-path-prefix=$ROOT=/build/golden --remap-path-prefix=$CARGO_HOME_DIR=/cargo"
cflags="-ffile-prefix-map=$ROOT=/build/golden -ffile-prefix-map=$CARGO_HOME_DIR=/cargo"
export CARGO_PROFILE_RELEASE_STRIP=symbols
export GOLDEN_VERSION="$VERSION"

triple() {
  case "$1" in
    linux_amd64) echo x86_64-unknown-linux-gnu ;;
    linux_arm64) echo aarch64-unknown-linux-gnu ;;
    darwin_*) die "$1: macOS binaries need Apple's SDK to link, which no registry we reach has" ;;
    *) die "unknown platform $1 (linux_amd64, linux_arm64)" ;;
  esac
}

build() {
  local platform="$1" t
  t="$(triple "$platform")"
  echo "release.sh: building $platform ($t)"
  case "$platform" in
    linux_amd64)
      # Built natively; cross-building from elsewhere would go through zigbuild as arm64 does.
      [ "$(uname -m)" = x86_64 ] || die "linux_amd64 is built on an x86_64 host"
      env "CFLAGS_${t//-/_}=$cflags" cargo build --release --locked --target "$t" ;;
    linux_arm64)
      command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild missing: run bash scripts/setup.sh"
      rustup target list --installed | grep -qx "$t" || die "Rust std for $t missing: run bash scripts/setup.sh"
      # glibc 2.28 (Debian 10, RHEL 8, Amazon Linux 2023 and later), not the build host's.
      env "CFLAGS_${t//-/_}=$cflags" cargo zigbuild --release --locked --target "$t.2.28" ;;
  esac
}

for platform in $TARGETS; do triple "$platform" >/dev/null; done # unknown names fail first
for platform in $TARGETS; do build "$platform"; done

# The host's binary says which version and protocol it serves; the manifest takes it from there.
host_bin="target/x86_64-unknown-linux-gnu/release/$NAME"
[ -x "$host_bin" ] || die "the manifest needs the linux_amd64 build ($host_bin); add it to GOLDEN_RELEASE_TARGETS"
said="$("$host_bin" --version)"
[[ "$said" =~ ^$NAME\ ([^ ]+)\ \(Terraform\ plugin\ protocol\ ([0-9.]+)\)$ ]] \
  || die "unexpected --version output: $said"
[ "${BASH_REMATCH[1]}" = "$VERSION" ] || die "the binary says version ${BASH_REMATCH[1]}, not $VERSION"
PROTOCOL="${BASH_REMATCH[2]}"

rm -rf "$DIST" && mkdir -p "$DIST"
for platform in $TARGETS; do
  python3 - "target/$(triple "$platform")/release/$NAME" "$DIST/${NAME}_${VERSION}_${platform}.zip" \
    "${NAME}_v${VERSION}" <<'PY'
# One entry, the same bytes every time: fixed date, mode 0755, no extra fields, deflate level 9.
import sys, zipfile
src, dest, entry = sys.argv[1:]
info = zipfile.ZipInfo(entry, date_time=(1980, 1, 1, 0, 0, 0))
info.create_system = 3  # unix, so the mode below is honoured by unzip and Terraform
info.external_attr = (0o100755 << 16)
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(dest, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY
done
printf '{\n  "version": 1,\n  "metadata": {\n    "protocol_versions": ["%s"]\n  }\n}\n' "$PROTOCOL" \
  >"$DIST/${NAME}_${VERSION}_manifest.json"
(cd "$DIST" && LC_ALL=C sha256sum -- *.zip *_manifest.json | LC_ALL=C sort -k2 >"${NAME}_${VERSION}_SHA256SUMS")
gpg --batch --yes --local-user "$GOLDEN_GPG_KEY" --detach-sign \
  --output "$DIST/${NAME}_${VERSION}_SHA256SUMS.sig" "$DIST/${NAME}_${VERSION}_SHA256SUMS"

echo "release.sh: $VERSION (plugin protocol $PROTOCOL) in $DIST"
(cd "$DIST" && ls -l && cat "${NAME}_${VERSION}_SHA256SUMS")
for platform in $TARGETS; do file "target/$(triple "$platform")/release/$NAME"; done
