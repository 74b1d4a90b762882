#!/usr/bin/env bash
# packaging/release.sh: build a release archive and sign it into the update manifest.
#
#   bash packaging/release.sh --key release.key --key-id release-2026 \
#        --base-url https://updates.conversure.app/stable [--notes-file NOTES.md]
#
# Options:
#   --target TRIPLE      Rust target to build (default: the host's, from rustc -vV)
#   --out DIR            where the files go (default: dist)
#   --key FILE           Ed25519 seed file from `conversure-release keygen`; without
#                        it only the archive and its .sha256 are made
#   --key-id ID          the key's id, as compiled into src/services/update/keys.rs
#   --base-url URL       where the archives will be published (asset URLs in the
#                        manifest are URL/<archive name>)
#   --notes-file FILE    release notes shown in the owner's update page
#   --binary PATH        package this already-built executable instead of building
#   --release-tool PATH  a built conversure-release (default: cargo run --release)
#
# Writes to the output directory:
#   conversure-<version>-<target>.tar.zst          entries: conversure, LICENSE, README.md
#   conversure-<version>-<target>.tar.zst.sha256   `sha256sum -c` format
#   manifest.json        the update manifest, signed for every
#                        conversure-<version>-*.tar.zst in the directory (so a
#                        second run with another --target adds its platform)
#   install.sh           the installer buyers download on its own
#
# <version> is the package version in Cargo.toml. Archives are reproducible for a
# given binary: fixed entry order, owner root, mtime from SOURCE_DATE_EPOCH or the
# last commit.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '==> %s\n' "$*"; }
die() {
    printf 'release.sh: error: %s\n' "$*" >&2
    exit 1
}

target=""
out=dist
key=""
key_id=""
base_url=""
notes_file=""
binary=""
release_tool=""
while (($#)); do
    case $1 in
    --target | --out | --key | --key-id | --base-url | --notes-file | --binary | --release-tool)
        if (($# < 2)) || [[ -z $2 ]]; then die "$1 needs a value"; fi
        case $1 in
        --target) target=$2 ;;
        --out) out=$2 ;;
        --key) key=$2 ;;
        --key-id) key_id=$2 ;;
        --base-url) base_url=${2%/} ;;
        --notes-file) notes_file=$2 ;;
        --binary) binary=$2 ;;
        --release-tool) release_tool=$2 ;;
        esac
        shift 2
        ;;
    -h | --help)
        sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
        exit 0
        ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
done

if [[ -n $key ]]; then
    [[ -f $key ]] || die "key file not found: $key"
    [[ -n $key_id ]] || die "--key needs --key-id (the id compiled into the trusted keys)"
    [[ $base_url == http*://* ]] || die "--key needs --base-url https://... (where the archives will be published)"
fi
[[ -z $notes_file || -f $notes_file ]] || die "notes file not found: $notes_file"
for f in README.md LICENSE installer/install.sh; do
    [[ -f $f ]] || die "$f is missing; it is part of the release"
done
command -v zstd >/dev/null 2>&1 || die "zstd is needed to pack the archive (apt-get install zstd)"

version=$(sed -n '/^\[package\]/,/^\[/{s/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p}' Cargo.toml | head -n 1)
[[ -n $version ]] || die "could not read the package version from Cargo.toml"
[[ -n $target ]] || target=$(rustc -vV | sed -n 's/^host: //p')
[[ -n $target ]] || die "could not determine the target triple (pass --target)"
name=conversure-$version-$target

if [[ -z $binary ]]; then
    log "cargo build --release --locked --target $target"
    cargo build --release --locked --target "$target"
    binary=${CARGO_TARGET_DIR:-target}/$target/release/conversure
fi
[[ -f $binary && -x $binary ]] || die "not an executable: $binary"
said=$("$binary" --version) || die "'$binary --version' failed (built for another platform?)"
[[ $said == "conversure $version" ]] || die "$binary says '$said', but Cargo.toml's version is $version"

log "Packing $name.tar.zst"
mkdir -p "$out"
stage=$(mktemp -d "${TMPDIR:-/tmp}/conversure-release.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT
mkdir "$stage/files"
install -m 0755 "$binary" "$stage/files/conversure"
install -m 0644 LICENSE README.md "$stage/files/"
mtime=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
tar -C "$stage/files" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" \
    -cf - conversure LICENSE README.md | zstd -q -19 -T0 -o "$stage/$name.tar.zst"
(cd "$stage" && sha256sum "$name.tar.zst" >"$name.tar.zst.sha256")
# Moved into place only when complete, so the output never holds a partial archive.
mv -f "$stage/$name.tar.zst" "$stage/$name.tar.zst.sha256" "$out/"
install -m 0755 installer/install.sh "$out/install.sh"
log "sha256 $(cut -d' ' -f1 "$out/$name.tar.zst.sha256")"

if [[ -z $key ]]; then
    log "No --key: $out/manifest.json not written (archive and .sha256 only)"
    exit 0
fi

if [[ -z $notes_file ]]; then
    notes_file=$stage/notes
    : >"$notes_file"
fi
assets=()
for archive in "$out"/conversure-"$version"-*.tar.zst; do
    file=${archive##*/}
    asset_target=${file#"conversure-$version-"}
    asset_target=${asset_target%.tar.zst}
    assets+=(--asset "$asset_target=$archive=$base_url/$file")
done
if [[ -n $release_tool ]]; then
    tool=("$release_tool")
else
    tool=(cargo run --quiet --release --locked --bin conversure-release --)
fi
log "Signing manifest.json for version $version ($((${#assets[@]} / 2)) platform(s), key $key_id)"
"${tool[@]}" manifest --key "$key" --key-id "$key_id" --version "$version" --notes-file "$notes_file" \
    "${assets[@]}" >"$stage/manifest.json" || die "conversure-release manifest failed"
mv -f "$stage/manifest.json" "$out/manifest.json"
log "Wrote $out/manifest.json; publish the archives under $base_url/, then the manifest last"
