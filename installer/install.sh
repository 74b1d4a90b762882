#!/usr/bin/env bash
# Conversure installer for a Linux server with systemd (Debian, Ubuntu, ...).
# Run as root; safe to run again (it upgrades the binary and keeps the data):
#
#   sudo bash install.sh                      # downloads the latest release
#   sudo bash install.sh --binary ./conversure  # installs this executable
#
# Options:
#   --binary PATH        install this conversure executable instead of
#                        downloading the latest release
#   --port N             HTTP port to serve on (default 80, or what the
#                        installed service already uses)
#   --data-dir DIR       data directory (default /var/lib/conversure, or what
#                        the installed service already uses)
#   --user NAME          system user the service runs as (default conversure)
#   --manifest-url URL   release manifest to download from (default: the
#                        stable channel; env CONVERSURE_UPDATE_MANIFEST_URL)
#   --no-start           install and enable, but do not start the service
#   --root DIR           write every file under DIR (for tests and chroots)
#   --print-unit         print the embedded systemd unit and exit
#
# Steps (each printed as it runs):
#   1. get the binary: --binary, or the release for this machine from the
#      update manifest, checked against the manifest's sha256
#   2. create the system group and user (no login shell, home = data dir),
#      only if missing
#   3. create the data directory (0750, owned by the user), only if missing
#   4. install the executable to <data-dir>/bin/conversure (atomic rename) and
#      point /usr/local/bin/conversure at it
#   5. install /etc/systemd/system/conversure.service (embedded below)
#   6. systemctl daemon-reload, enable --now (or restart when running)
#   7. wait for the first start and print the setup URL with its token
#
# The tools it runs can be replaced through the environment (tests stub them):
# SYSTEMCTL, USERADD, GROUPADD, GETENT.
#
# Exit status: 0 on success, 2 on bad arguments, 1 on any other failure.

set -euo pipefail

DEFAULT_USER=conversure
DEFAULT_DATA_DIR=/var/lib/conversure
DEFAULT_PORT=80
DEFAULT_MANIFEST_URL=https://updates.conversure.app/stable/manifest.json
UNIT_NAME=conversure.service
UNIT_PATH=/etc/systemd/system/$UNIT_NAME
LINK_PATH=/usr/local/bin/conversure
TOKEN_WAIT_SECONDS=${CONVERSURE_INSTALL_WAIT_SECONDS:-30}

SYSTEMCTL=${SYSTEMCTL:-systemctl}
USERADD=${USERADD:-useradd}
GROUPADD=${GROUPADD:-groupadd}
GETENT=${GETENT:-getent}

step() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'install.sh: error: %s\n' "$*" >&2
    exit 1
}
bad_arg() {
    printf 'install.sh: error: %s (see --help)\n' "$*" >&2
    exit 2
}

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

# The systemd unit, byte for byte packaging/conversure.service (a test checks
# it): buyers download this script alone.
unit_template() {
    cat <<'UNIT'
# Conversure: self-hosted WhatsApp CRM (one binary).
#
# Installed to /etc/systemd/system/conversure.service by installer/install.sh,
# which embeds this exact text and rewrites User=/Group=, --data-dir, --listen
# and ReadWritePaths= when given --user/--data-dir/--port. After editing by hand:
#   systemctl daemon-reload && systemctl restart conversure
# Logs: journalctl -u conversure (JSON lines, see CONVERSURE_LOG_FORMAT).
#
# The executable lives in the data directory (/var/lib/conversure/bin/conversure;
# /usr/local/bin/conversure is a symlink to it) so that the one-click update,
# running as the service user under ProtectSystem=strict, can rename the new
# version into place inside the one writable mount. See docs/INSTALL.md.

[Unit]
Description=Conversure WhatsApp CRM
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=conversure
Group=conversure
ExecStart=/usr/local/bin/conversure serve --data-dir /var/lib/conversure --listen 0.0.0.0:80
Environment=CONVERSURE_LOG_FORMAT=json
UMask=0027

# Always: the one-click update exits with code 75 after it has swapped the
# binary, and systemd starts the new version.
Restart=always
RestartSec=2
# SIGTERM starts a graceful shutdown (stop accepting, drain in-flight work).
KillSignal=SIGTERM
TimeoutStopSec=30
LimitNOFILE=65536

# Bind ports 80 and 443 without running as root. Granted here rather than with
# setcap on the file: a file capability is lost each time the binary is
# replaced (the update runs as this user and could not set it again).
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE

# --- Hardening ---------------------------------------------------------------
NoNewPrivileges=true
# The whole file system is read-only for the service except its data dir,
# which also holds the executable (bin/conversure) the update replaces.
ProtectSystem=strict
ReadWritePaths=/var/lib/conversure
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
RestrictNamespaces=true
RestrictRealtime=true
RestrictSUIDSGID=true
LockPersonality=true
MemoryDenyWriteExecute=true
RemoveIPC=true
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
UNIT
}

# ---------------------------------------------------------------- arguments

binary=""
port=""
data_dir=""
user=""
root=""
start=1
manifest_url=${CONVERSURE_UPDATE_MANIFEST_URL:-$DEFAULT_MANIFEST_URL}
while (($#)); do
    case $1 in
    --binary | --port | --data-dir | --user | --root | --manifest-url)
        if (($# < 2)) || [[ -z $2 ]]; then bad_arg "$1 needs a value"; fi
        case $1 in
        --binary) binary=$2 ;;
        --port) port=$2 ;;
        --data-dir) data_dir=$2 ;;
        --user) user=$2 ;;
        --root) root=$2 ;;
        --manifest-url) manifest_url=$2 ;;
        esac
        shift 2
        ;;
    --no-start) start=0 && shift ;;
    --print-unit)
        unit_template
        exit 0
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *) bad_arg "unknown argument: $1" ;;
    esac
done

# ------------------------------------------------------------- preconditions

[[ $(id -u) == 0 ]] || die "this installer must run as root (try: sudo bash $0)"
[[ $(uname -s) == Linux ]] || die "unsupported system $(uname -s): Conversure's installer needs Linux with systemd"
if [[ ! -d $root/run/systemd/system ]] || ! command -v "$SYSTEMCTL" >/dev/null 2>&1; then
    die "systemd is not running on this machine; this installer needs systemd (for containers use packaging/Dockerfile)"
fi
if [[ -n $root ]]; then
    [[ -d $root ]] || bad_arg "--root $root is not a directory"
    root=$(cd "$root" && pwd)
fi

# value_in_unit FILE FLAG: the value after FLAG on the unit's ExecStart= line.
value_in_unit() {
    awk -v flag="$2" '/^ExecStart=/ { for (i = 1; i < NF; i++) if ($i == flag) { print $(i + 1); exit } }' "$1"
}

# A re-run without options keeps what the installed service uses.
installed_unit=$root$UNIT_PATH
if [[ -f $installed_unit ]]; then
    [[ -n $data_dir ]] || data_dir=$(value_in_unit "$installed_unit" --data-dir)
    [[ -n $port ]] || port=$(value_in_unit "$installed_unit" --listen | sed -n 's/.*:\([0-9]*\)$/\1/p')
    [[ -n $user ]] || user=$(sed -n 's/^User=//p' "$installed_unit" | head -n 1)
fi
data_dir=${data_dir:-$DEFAULT_DATA_DIR}
port=${port:-$DEFAULT_PORT}
user=${user:-$DEFAULT_USER}

# All three end up in the unit (space-separated), so keep them plain.
while [[ $data_dir == ?*/ ]]; do data_dir=${data_dir%/}; done
[[ $data_dir =~ ^/[A-Za-z0-9._/@+-]+$ && $data_dir != / ]] ||
    bad_arg "--data-dir must be an absolute path of letters, digits and ._/@+- (got '$data_dir')"
if [[ ! $port =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
    bad_arg "--port must be a number from 1 to 65535 (got '$port')"
fi
port=$((10#$port))
[[ $user =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] ||
    bad_arg "--user must be a lower-case system user name (got '$user')"

work=$(mktemp -d "${TMPDIR:-/tmp}/conversure-install.XXXXXX")
cleanup() { rm -rf -- "$work"; }
trap cleanup EXIT

# check_binary PATH: the file is a conversure executable that runs here.
check_binary() {
    [[ -e $1 ]] || die "binary not found: $1 (pass --binary PATH to a conversure executable)"
    [[ -f $1 && -x $1 ]] || die "not an executable file: $1 (chmod +x it?)"
    local said
    said=$("$1" --version 2>&1) || die "'$1 --version' failed (wrong architecture or a corrupt file?): $said"
    [[ $said == conversure\ * ]] || die "$1 is not a conversure executable ('--version' said: $said)"
    binary_version=${said#conversure }
}

# fetch URL FILE: download with curl or wget.
fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
    else
        die "neither curl nor wget is installed (apt-get install curl), or pass --binary PATH"
    fi
}

# json_field TEXT KEY: the first string value of "KEY" in TEXT (one flat JSON object).
json_field() {
    printf '%s\n' "$1" | sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" | head -n 1
}

# download_release: fetch this machine's release from the manifest into $work; sets $binary.
download_release() {
    local arch target manifest asset url sha256 got
    case $(uname -m) in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) die "no release for this processor ($(uname -m)); build from source and pass --binary PATH" ;;
    esac
    target=$arch-unknown-linux-gnu
    step "Downloading the release manifest $manifest_url"
    fetch "$manifest_url" "$work/manifest.json" || die "could not download $manifest_url"
    # One line per JSON object: the assets are flat objects inside the manifest.
    manifest=$(tr -d '\r\n' <"$work/manifest.json" | tr '{}' '\n')
    grep -Eq '"format"[[:space:]]*:[[:space:]]*1[,[:space:]]' <<<"$manifest" ||
        die "$manifest_url is not a format 1 release manifest"
    asset=$(grep -E "\"target\"[[:space:]]*:[[:space:]]*\"$target\"" <<<"$manifest" | head -n 1) ||
        die "the release manifest has no build for $target"
    url=$(json_field "$asset" url)
    sha256=$(json_field "$asset" sha256)
    [[ -n $url && $sha256 =~ ^[0-9a-f]{64}$ ]] || die "the manifest's entry for $target has no url or sha256"
    step "Downloading Conversure $(json_field "$manifest" version) for $target"
    fetch "$url" "$work/release.tar.zst" || die "could not download $url"
    got=$(sha256sum "$work/release.tar.zst" | cut -d' ' -f1)
    [[ $got == "$sha256" ]] ||
        die "the download's sha256 is $got but the manifest says $sha256; nothing was installed (try again)"
    command -v zstd >/dev/null 2>&1 || die "zstd is needed to unpack the release (apt-get install zstd)"
    mkdir "$work/release"
    tar --zstd -xf "$work/release.tar.zst" -C "$work/release" conversure ||
        die "the release archive has no 'conversure' entry"
    binary=$work/release/conversure
}

if [[ -n $binary ]]; then
    check_binary "$binary"
else
    download_release
    check_binary "$binary"
fi
step "Installing Conversure $binary_version (data $data_dir, port $port, user $user${root:+, root $root})"

# ------------------------------------------------------------------- install

# Real useradd/groupadd write into a chroot with --root; lookups go through GETENT.
root_args=()
[[ -z $root ]] || root_args=(--root "$root")

if "$GETENT" group "$user" >/dev/null; then
    step "System group $user exists"
else
    step "Creating system group $user"
    "$GROUPADD" "${root_args[@]}" --system "$user" || die "could not create the group $user"
fi
if "$GETENT" passwd "$user" >/dev/null; then
    step "System user $user exists"
else
    step "Creating system user $user (home $data_dir, no login shell)"
    nologin=$(command -v nologin 2>/dev/null || echo /usr/sbin/nologin)
    "$USERADD" "${root_args[@]}" --system --gid "$user" --home-dir "$data_dir" --no-create-home \
        --shell "$nologin" --comment Conversure "$user" || die "could not create the user $user"
fi
# Numeric ids: under --root the user exists only in the target's passwd file.
IFS=: read -r _ _ uid gid _ < <("$GETENT" passwd "$user") || die "the user $user cannot be looked up"
[[ $uid =~ ^[0-9]+$ && $gid =~ ^[0-9]+$ ]] || die "the user $user has no numeric uid/gid"

data_path=$root$data_dir
if [[ -d $data_path ]]; then
    step "Data directory $data_dir exists (kept as it is)"
else
    step "Creating data directory $data_dir (0750, owner $user)"
    mkdir -p -- "$(dirname "$data_path")"
    install -d -m 0750 -o "$uid" -g "$gid" "$data_path"
fi

# The executable sits in the data dir: the service may write only there, and
# the one-click update renames the new version into this directory.
bin_dir=$data_path/bin
install -d -m 0755 -o "$uid" -g "$gid" "$bin_dir"
if [[ -f $bin_dir/conversure ]] && cmp -s -- "$binary" "$bin_dir/conversure"; then
    step "Executable $data_dir/bin/conversure is already this version"
else
    step "Installing the executable to $data_dir/bin/conversure"
    new_bin=$(mktemp "$bin_dir/.conversure.XXXXXX")
    cp -- "$binary" "$new_bin"
    chmod 0755 "$new_bin"
    mv -f -- "$new_bin" "$bin_dir/conversure"
fi

step "Linking $LINK_PATH to $data_dir/bin/conversure"
mkdir -p -- "$root$(dirname "$LINK_PATH")"
[[ ! -d $root$LINK_PATH || -L $root$LINK_PATH ]] || die "$LINK_PATH is a directory; remove it and run again"
new_link=$root$(dirname "$LINK_PATH")/.conversure.link.$$
ln -sfn -- "$data_dir/bin/conversure" "$new_link"
mv -fT -- "$new_link" "$root$LINK_PATH"

unit_text=$(unit_template | awk -v user="$user" -v dd="$data_dir" -v port="$port" '
    /^ExecStart=/ {
        for (i = 2; i <= NF; i++) {
            if ($(i - 1) == "--data-dir") $i = dd
            if ($(i - 1) == "--listen") $i = "0.0.0.0:" port
        }
    }
    /^User=/ { $0 = "User=" user }
    /^Group=/ { $0 = "Group=" user }
    /^ReadWritePaths=/ { $0 = "ReadWritePaths=" dd }
    { print }')
unit_path=$root$UNIT_PATH
if [[ -f $unit_path ]] && [[ $(<"$unit_path") == "$unit_text" ]]; then
    step "Unit $UNIT_PATH is up to date"
else
    step "Installing unit $UNIT_PATH"
    mkdir -p -- "$(dirname "$unit_path")"
    new_unit=$(mktemp "$(dirname "$unit_path")/.$UNIT_NAME.XXXXXX")
    printf '%s\n' "$unit_text" >"$new_unit"
    chmod 0644 "$new_unit"
    mv -f -- "$new_unit" "$unit_path"
fi

show_logs() {
    "$SYSTEMCTL" --no-pager --full status "$UNIT_NAME" >&2 || true
    journalctl --no-pager -u "$UNIT_NAME" -n 30 >&2 || true
}

step "systemctl daemon-reload"
"$SYSTEMCTL" daemon-reload || die "systemctl daemon-reload failed"
if ((!start)); then
    step "systemctl enable $UNIT_NAME (not started: --no-start)"
    "$SYSTEMCTL" enable "$UNIT_NAME" || die "could not enable $UNIT_NAME"
    echo "Start it with: systemctl start conversure"
    exit 0
fi
if "$SYSTEMCTL" is-active --quiet "$UNIT_NAME"; then
    step "systemctl enable $UNIT_NAME and restart it (it was running)"
    "$SYSTEMCTL" enable "$UNIT_NAME" || die "could not enable $UNIT_NAME"
    "$SYSTEMCTL" restart "$UNIT_NAME" || {
        show_logs
        die "could not restart $UNIT_NAME (logs above)"
    }
else
    step "systemctl enable --now $UNIT_NAME"
    "$SYSTEMCTL" enable --now "$UNIT_NAME" || {
        show_logs
        die "could not start $UNIT_NAME (logs above)"
    }
fi

# -------------------------------------------------------------- first start

# healthy: /healthz answers 200 on the local port.
healthy() {
    local url=http://127.0.0.1:$port/healthz
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O /dev/null -T 2 -t 1 "$url" 2>/dev/null
    else
        # shellcheck disable=SC2016 # expanded by the inner bash
        timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
            printf "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3
            IFS= read -r status <&3 && [[ $status == HTTP/1.[01]\ 200* ]]' _ "$port" 2>/dev/null
    fi
}

token_file=$data_path/setup-token
step "Waiting up to ${TOKEN_WAIT_SECONDS}s for Conversure to answer on port $port"
deadline=$((SECONDS + TOKEN_WAIT_SECONDS))
until healthy; do
    if ((SECONDS >= deadline)); then
        show_logs
        die "Conversure did not answer on port $port within ${TOKEN_WAIT_SECONDS}s; see: journalctl -u conversure"
    fi
    sleep 0.5
done

# The address a browser uses: the machine's first address, else its name.
host=$(hostname -I 2>/dev/null | awk '{ print $1 }') || host=""
[[ -n $host ]] || host=$(hostname -f 2>/dev/null) || host=""
host=${host:-localhost}
[[ $host != *:* ]] || host="[$host]"
base_url=http://$host
((port == 80)) || base_url=$base_url:$port

echo
if [[ -s $token_file ]]; then
    token=$(tr -d '[:space:]' <"$token_file")
    step "Conversure is running. Finish the setup in your browser:"
    echo
    echo "    $base_url/install?token=$token"
    echo
    echo "The link opens the setup once; keep it private. The token is also in $data_dir/setup-token."
else
    step "Conversure is already installed and running: $base_url/"
fi
