#!/usr/bin/env bash
# Conversure installer for a Debian/Ubuntu server with systemd. Run as root:
#
#   sudo ./install.sh [--binary PATH] [--data-dir DIR] [--listen ADDR]
#
#   --binary PATH    the conversure binary to install
#                    (default: ./conversure next to this script)
#   --data-dir DIR   where Conversure keeps its data (default: /var/lib/conversure,
#                    or the one the installed unit already uses)
#   --listen ADDR    HTTP listen address (default: 0.0.0.0:80,
#                    or the one the installed unit already uses)
#
# What it does (safe to run again, e.g. to upgrade the binary):
#   1. checks the binary runs (`conversure version`)
#   2. creates the system user/group `conversure` (no login, home = data dir)
#   3. installs the binary to /usr/local/bin/conversure (atomic rename)
#   4. creates the data dir (0750, owned by conversure)
#   5. installs /etc/systemd/system/conversure.service from the conversure.service
#      next to this script (or ../packaging/), with --data-dir/--listen applied
#   6. enables and (re)starts the service
#   7. prints the URL of the first-run wizard, with the one-time setup token
#      the service writes to <data-dir>/setup-token on first start
#
# Exit status: 0 on success, 2 on bad arguments, 1 on any other failure (with
# an error message on stderr).

set -euo pipefail

UNIT_NAME=conversure.service
UNIT_DST=/etc/systemd/system/$UNIT_NAME
BIN_DST=/usr/local/bin/conversure
SVC_USER=conversure
DEFAULT_DATA_DIR=/var/lib/conversure
DEFAULT_LISTEN=0.0.0.0:80
TOKEN_WAIT_SECONDS=15

info() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'install.sh: error: %s\n' "$*" >&2
    exit 1
}

# bad_arg MESSAGE: reject a command-line argument (exit status 2).
bad_arg() {
    printf 'install.sh: error: %s\n' "$*" >&2
    exit 2
}

usage() {
    cat <<'EOF'
Usage: install.sh [--binary PATH] [--data-dir DIR] [--listen ADDR]

Installs Conversure as the systemd service `conversure` (run as root).

  --binary PATH    conversure binary to install (default: ./conversure next to
                   this script)
  --data-dir DIR   data directory (default: /var/lib/conversure, or what the
                   installed service already uses)
  --listen ADDR    HTTP listen address, e.g. 0.0.0.0:80 (default: 0.0.0.0:80,
                   or what the installed service already uses)
  -h, --help       show this help
EOF
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
orig_args=$*

# ---------------------------------------------------------------- arguments

binary=""
data_dir=""
listen=""
while (($#)); do
    case $1 in
    --binary | --data-dir | --listen)
        if (($# < 2)) || [[ -z $2 ]]; then
            usage >&2
            bad_arg "$1 needs a value"
        fi
        case $1 in
        --binary) binary=$2 ;;
        --data-dir) data_dir=$2 ;;
        --listen) listen=$2 ;;
        esac
        shift 2
        ;;
    --binary=*) binary=${1#*=} && shift ;;
    --data-dir=*) data_dir=${1#*=} && shift ;;
    --listen=*) listen=${1#*=} && shift ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        bad_arg "unknown argument: $1"
        ;;
    esac
done

# ------------------------------------------------------------- preconditions

[[ $(id -u) -eq 0 ]] || die "must run as root (try: sudo $0${orig_args:+ $orig_args})"

if ! command -v systemctl >/dev/null 2>&1 || [[ ! -d /run/systemd/system ]]; then
    die "systemd is not running on this machine; this installer needs systemd (for containers, use packaging/Dockerfile instead)"
fi

binary=${binary:-$script_dir/conversure}
[[ -e $binary ]] || die "binary not found: $binary (pass --binary PATH)"
[[ -f $binary ]] || die "not a regular file: $binary"
[[ -x $binary ]] || die "binary is not executable: $binary (chmod +x it)"
binary=$(readlink -f "$binary")
if ! version_out=$("$binary" version 2>&1); then
    die "'$binary version' failed (wrong architecture or a corrupt download?): $version_out"
fi
info "Installing ${version_out%%$'\n'*} ($binary)"

unit_src=""
for candidate in "$script_dir/$UNIT_NAME" "$script_dir/../packaging/$UNIT_NAME"; do
    if [[ -f $candidate ]]; then
        unit_src=$candidate
        break
    fi
done
[[ -n $unit_src ]] ||
    die "$UNIT_NAME not found next to this script or in ../packaging/ (looked in $script_dir)"

# value_in_unit FILE FLAG: print the value after FLAG on the ExecStart= line.
value_in_unit() {
    awk -v flag="$2" '
        /^ExecStart=/ {
            n = split($0, w, /[ \t]+/)
            for (i = 1; i < n; i++) if (w[i] == flag) { print w[i + 1]; exit }
        }' "$1"
}

# An upgrade without flags keeps the data dir and address the service uses now.
if [[ -f $UNIT_DST ]]; then
    if [[ -z $data_dir ]]; then
        data_dir=$(value_in_unit "$UNIT_DST" --data-dir)
        [[ -z $data_dir ]] || info "Keeping data dir $data_dir from the installed service"
    fi
    if [[ -z $listen ]]; then
        listen=$(value_in_unit "$UNIT_DST" --listen)
        [[ -z $listen ]] || info "Keeping listen address $listen from the installed service"
    fi
fi
data_dir=${data_dir:-$DEFAULT_DATA_DIR}
listen=${listen:-$DEFAULT_LISTEN}

# Both end up in the unit file (space-separated ExecStart=), so keep them plain.
[[ $data_dir =~ ^/[A-Za-z0-9._/@+-]+$ ]] ||
    bad_arg "--data-dir must be an absolute path of letters, digits and ._/@+- (got '$data_dir')"
while [[ $data_dir == */ ]]; do data_dir=${data_dir%/}; done
[[ -n $data_dir ]] || bad_arg "--data-dir cannot be /"
[[ $listen =~ ^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):([0-9]{1,5})$ ]] ||
    bad_arg "--listen must look like HOST:PORT, e.g. 0.0.0.0:80 or [::]:8080 (got '$listen')"
listen_host=${BASH_REMATCH[1]}
listen_port=$((10#${BASH_REMATCH[2]}))
((10#$listen_port >= 1 && 10#$listen_port <= 65535)) || bad_arg "--listen port out of range: $listen_port"

# ------------------------------------------------------------------- install

nologin=$(command -v nologin 2>/dev/null || echo /usr/sbin/nologin)
if ! getent group "$SVC_USER" >/dev/null; then
    info "Creating system group $SVC_USER"
    groupadd --system "$SVC_USER"
fi
if ! getent passwd "$SVC_USER" >/dev/null; then
    info "Creating system user $SVC_USER (home $data_dir, no login)"
    useradd --system --gid "$SVC_USER" --home-dir "$data_dir" --no-create-home \
        --shell "$nologin" --comment "Conversure" "$SVC_USER"
fi

tmp_files=()
cleanup() { rm -f -- "${tmp_files[@]}"; }
trap cleanup EXIT

if [[ $binary -ef $BIN_DST ]]; then
    info "Binary already at $BIN_DST"
else
    info "Installing binary to $BIN_DST"
    install -d -m 0755 "$(dirname "$BIN_DST")"
    # Same directory as the target, so the final mv is an atomic rename(2)
    # (a running old binary keeps its inode and is not disturbed).
    tmp_bin=$(mktemp "$(dirname "$BIN_DST")/.conversure.XXXXXX")
    tmp_files+=("$tmp_bin")
    cp -- "$binary" "$tmp_bin"
    chown root:root "$tmp_bin"
    chmod 0755 "$tmp_bin"
    mv -f -- "$tmp_bin" "$BIN_DST"
fi

info "Preparing data dir $data_dir"
install -d -m 0750 -o "$SVC_USER" -g "$SVC_USER" "$data_dir"
chown "$SVC_USER:$SVC_USER" "$data_dir"
chmod 0750 "$data_dir"

info "Installing $UNIT_DST (from $unit_src)"
tmp_unit=$(mktemp "$(dirname "$UNIT_DST")/.$UNIT_NAME.XXXXXX")
tmp_files+=("$tmp_unit")
awk -v dd="$data_dir" -v la="$listen" '
    /^ExecStart=/ {
        n = split($0, w, / +/)
        line = ""
        for (i = 1; i <= n; i++) {
            if (i > 1 && w[i - 1] == "--data-dir") w[i] = dd
            if (i > 1 && w[i - 1] == "--listen") w[i] = la
            line = (i == 1 ? w[i] : line " " w[i])
        }
        print line
        next
    }
    /^ReadWritePaths=/ { print "ReadWritePaths=" dd; next }
    { print }' "$unit_src" >"$tmp_unit"
[[ $(value_in_unit "$tmp_unit" --data-dir) == "$data_dir" &&
    $(value_in_unit "$tmp_unit" --listen) == "$listen" ]] ||
    die "$unit_src has no ExecStart= line with --data-dir and --listen to rewrite"
chmod 0644 "$tmp_unit"
mv -f -- "$tmp_unit" "$UNIT_DST"

show_service_logs() {
    systemctl --no-pager --full status "$UNIT_NAME" >&2 || true
    journalctl --no-pager -u "$UNIT_NAME" -n 30 >&2 || true
}

systemctl daemon-reload || die "systemctl daemon-reload failed"
if systemctl is-active --quiet "$UNIT_NAME"; then
    info "Restarting $UNIT_NAME"
    systemctl enable --quiet "$UNIT_NAME" || die "could not enable $UNIT_NAME"
    systemctl restart "$UNIT_NAME" || {
        show_service_logs
        die "could not restart $UNIT_NAME (logs above)"
    }
else
    info "Enabling and starting $UNIT_NAME"
    systemctl enable --quiet --now "$UNIT_NAME" || {
        show_service_logs
        die "could not start $UNIT_NAME (logs above)"
    }
fi

# -------------------------------------------------------------- first start

# Where to probe /healthz locally.
case $listen_host in
"" | 0.0.0.0) probe_host=127.0.0.1 ;;
"[::]") probe_host=::1 ;;
\[*\]) probe_host=${listen_host:1:${#listen_host}-2} ;;
*) probe_host=$listen_host ;;
esac

health_ok() {
    local url_host=$probe_host
    [[ $url_host != *:* ]] || url_host="[$url_host]"
    local url="http://$url_host:$listen_port/healthz"
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O /dev/null -T 2 -t 1 "$url" 2>/dev/null
    else
        # Neither curl nor wget: a bare HTTP/1.0 request through bash.
        # shellcheck disable=SC2016 # expanded by the inner bash
        timeout 3 bash -c '
            exec 3<>"/dev/tcp/$1/$2" || exit 1
            printf "GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3
            IFS= read -r status <&3
            [[ $status == HTTP/1.[01]\ 200* ]]' _ "$probe_host" "$listen_port" 2>/dev/null
    fi
}

token_file=$data_dir/setup-token
info "Waiting up to ${TOKEN_WAIT_SECONDS}s for Conversure to start"
deadline=$((SECONDS + TOKEN_WAIT_SECONDS))
healthy=0
healthy_since=""
while :; do
    healthy=0
    if health_ok; then healthy=1; fi
    # Token present and the service answering: startup is complete, so the
    # token is the current one (a restart may replace an older file).
    if [[ -s $token_file ]] && ((healthy)); then break; fi
    # Answering without a token file: already installed (short grace period).
    if ((healthy)) && [[ ! -e $token_file ]]; then
        healthy_since=${healthy_since:-$SECONDS}
        if ((SECONDS - healthy_since >= 2)); then break; fi
    fi
    ((SECONDS < deadline)) || break
    sleep 0.5
done

# The address a browser should use.
case $listen_host in
"" | 0.0.0.0 | "[::]")
    public=$(hostname -I 2>/dev/null | awk '{ print $1 }') || public=""
    [[ -n $public ]] || public=$(hostname -f 2>/dev/null) || public=""
    [[ -n $public ]] || public=$(hostname 2>/dev/null) || public=""
    public=${public:-localhost}
    [[ $public != *:* ]] || public="[$public]"
    ;;
*) public=$listen_host ;;
esac
base_url="http://$public"
[[ $listen_port == 80 ]] || base_url="$base_url:$listen_port"

if ((!healthy)) && ! systemctl is-active --quiet "$UNIT_NAME"; then
    show_service_logs
    die "$UNIT_NAME is not running (it exited or is restarting after a failure); see the logs above or: journalctl -u conversure"
fi

if [[ -s $token_file ]]; then
    token=$(tr -d '[:space:]' <"$token_file")
    ((healthy)) || warn "the service is running but did not answer $probe_host:$listen_port/healthz within ${TOKEN_WAIT_SECONDS}s; if the page does not load, check: journalctl -u conversure"
    echo
    info "Conversure is running. Finish the setup in your browser:"
    echo
    echo "    Open $base_url/install?token=$token"
    echo
    echo "The link works once; keep it private."
elif ((healthy)); then
    echo
    info "Conversure is already installed and running (no setup token):"
    echo
    echo "    Open $base_url/"
    echo
else
    show_service_logs
    die "Conversure did not start within ${TOKEN_WAIT_SECONDS}s (no $token_file, no answer on $probe_host:$listen_port/healthz); see the logs above or: journalctl -u conversure"
fi
