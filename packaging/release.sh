#!/usr/bin/env bash
# packaging/release.sh: build the release binary and package it.
#
#   bash packaging/release.sh
#
# Produces, under dist/:
#   conversure-<version>-<target>.tar.gz         one top-level directory
#       conversure-<version>-<target>/ holding, side by side:
#         conversure  install.sh  conversure.service  README.md  LICENSE
#       (flat, so `sudo ./install.sh` finds the binary and the unit next to it)
#   conversure-<version>-<target>.tar.gz.sha256  `sha256sum -c` format
#
# <version> comes from Cargo.toml (via `cargo metadata`), <target> is the host
# triple from `rustc -vV`. The archive is reproducible for a given binary:
# sorted entries, root owner, mtime from SOURCE_DATE_EPOCH or the last commit.
#
# Signing: not done here yet. The Ed25519 signature step is added together
# with the update manifest (self-update); until then only the .sha256 exists.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '==> %s\n' "$*"; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

for f in README.md LICENSE packaging/conversure.service installer/install.sh; do
    [[ -f $f ]] || die "$f is missing; it is part of the release archive"
done
command -v cargo >/dev/null 2>&1 || die "cargo not found"

# ---- version, target, target dir
metadata=$(cargo metadata --no-deps --format-version 1)
version=""
target_dir=""
if command -v python3 >/dev/null 2>&1; then
    read -r version target_dir < <(python3 -c '
import json, sys
m = json.load(sys.stdin)
pkg = next(p for p in m["packages"] if p["name"] == "conversure")
print(pkg["version"], m["target_directory"])
' <<<"$metadata") || true
fi
if [[ -z $version ]]; then
    # No python3: first `version = "..."` of the [package] table.
    version=$(sed -n '/^\[package\]/,/^\[/{s/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p}' Cargo.toml | head -n 1)
fi
[[ -n $version ]] || die "could not determine the version from Cargo.toml"
target_dir=${target_dir:-${CARGO_TARGET_DIR:-target}}
target=$(rustc -vV | sed -n 's/^host: //p')
[[ -n $target ]] || die "could not determine the target triple from 'rustc -vV'"

name="conversure-$version-$target"
log "Releasing $name"

# ---- build
t0=$SECONDS
log "cargo build --release --locked"
cargo build --release --locked
bin=$target_dir/release/conversure
[[ -x $bin ]] || die "build finished but $bin is missing"
log "built in $((SECONDS - t0))s"
"$bin" version >/dev/null || die "'$bin version' failed"

# ---- stage and pack
mkdir -p dist
stage=$(mktemp -d "${TMPDIR:-/tmp}/conversure-release.XXXXXXXX")
trap 'rm -rf -- "$stage"' EXIT

root=$stage/$name
mkdir -p "$root"
install -m 0755 "$bin" "$root/conversure"
install -m 0755 installer/install.sh "$root/install.sh"
install -m 0644 packaging/conversure.service "$root/conversure.service"
install -m 0644 README.md "$root/README.md"
install -m 0644 LICENSE "$root/LICENSE"

mtime=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
tarball=$name.tar.gz
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$mtime" -cf - "$name" | gzip -n -9 >"$stage/$tarball"
(cd "$stage" && sha256sum "$tarball" >"$tarball.sha256")
# Move into place only when complete, so dist/ never holds a partial archive.
mv -f "$stage/$tarball" "dist/$tarball"
mv -f "$stage/$tarball.sha256" "dist/$tarball.sha256"

# ---- report
size_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f MB", b / 1048576 }'; }
log "binary:  $(size_mb "$root/conversure")  ($bin)"
log "archive: $(size_mb "dist/$tarball")  (dist/$tarball)"
log "sha256:  $(cut -d' ' -f1 "dist/$tarball.sha256")  (dist/$tarball.sha256)"
