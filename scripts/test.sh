#!/usr/bin/env bash
# scripts/test.sh: the one command that runs every check of Conversure.
#
#   bash scripts/test.sh [extra args for `cargo test`...]
#
# It runs, in this order and stopping at the first failure:
#   1. cargo fmt --all -- --check
#   2. cargo clippy --all-targets --locked -- -D warnings
#   3. cargo test --locked "$@"    (against a throwaway PostgreSQL cluster)
#
# What it does around that:
#   * Installs what is missing, non-interactively: the rustfmt/clippy rustup
#     components, Debian's `postgresql` package when no `initdb` is found
#     (on PATH or under /usr/lib/postgresql/*/bin; the highest version wins),
#     and Debian's `chromium` and `chromium-driver` for the browser tests when
#     /usr/bin/chromium or /usr/bin/chromedriver is missing.
#     Installing needs root, or password-less sudo.
#   * Starts a private PostgreSQL cluster in a fresh temp dir, on a free TCP
#     port on 127.0.0.1 (fsync off, trust auth, socket in the temp dir), with a
#     superuser role `conversure`, and exports for the tests:
#        TEST_DATABASE_URL=postgres://conversure@127.0.0.1:<port>/postgres
#        CONVERSURE_REQUIRE_POSTGRES=1   (tests fail instead of skipping)
#     As root (CI), initdb/pg_ctl run as the `postgres` system user (or a
#     `conversure-test` system user created when that is missing), because
#     initdb refuses to run as root.
#   * Always stops the cluster and deletes its temp dir on exit, failure or
#     Ctrl-C. Every run uses a new dir and port, so runs never collide and the
#     script is safe to run repeatedly (or concurrently) on a developer machine.
#
# Environment knobs:
#   TEST_ONLY_PG=1        Only prove the Postgres part works: start the cluster,
#                         run `select version()` and a CREATE/DROP DATABASE
#                         through psql with $TEST_DATABASE_URL, then stop and
#                         clean up. No cargo at all.
#   CONVERSURE_PG_BINDIR  Use the initdb/pg_ctl in this directory instead of
#                         searching for the highest installed version.
#
# CI runs this through `.ci/run` as root, with CI=true and no stdin.

set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
# runuser/useradd live in sbin; root shells entered with plain `su` may lack it.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

PG_ROLE=conversure
# A second role that must log in with this password (tests of wrong-password handling).
PG_PASSWORD_ROLE=conversure_pw
PG_PASSWORD=right-horse-battery

IS_ROOT=0
if [[ $(id -u) -eq 0 ]]; then IS_ROOT=1; fi

APT_UPDATED=0
CURRENT_SECTION=""
SCRIPT_START=$SECONDS

# Cluster state, filled in by pg_start and read by pg_stop.
PG_BINDIR=""
PG_VERSION=""
PG_TMP=""
PG_DATA=""
PG_PORT=""
PG_RUN_AS=""

log() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# section NAME CMD...: run CMD under a `==> NAME` header and print its timing.
section() {
    local name=$1 t0=$SECONDS
    shift
    CURRENT_SECTION=$name
    log "$name"
    "$@"
    log "$name: ok ($((SECONDS - t0))s)"
    CURRENT_SECTION=""
}

# ---------------------------------------------------------------- installing

# apt_install PKG...: install Debian packages; `apt-get update` runs once.
apt_install() {
    local -a sudo=()
    if ((!IS_ROOT)); then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "need root (or password-less sudo) to install: $*. Install it yourself, e.g. 'sudo apt-get install $*', and re-run."
        fi
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "apt-get not found; install these yourself and re-run: $*"
    if ((!APT_UPDATED)); then
        note "apt-get update"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
        APT_UPDATED=1
    fi
    note "apt-get install $*"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "$@" </dev/null
}

ensure_rust_tools() {
    command -v cargo >/dev/null 2>&1 ||
        die "cargo not found: install the Rust toolchain (https://rustup.rs) and re-run"
    local comp sub
    for comp in rustfmt clippy; do
        sub=${comp/rustfmt/fmt}
        if ! cargo "$sub" --version >/dev/null 2>&1; then
            command -v rustup >/dev/null 2>&1 ||
                die "'cargo $sub' is missing and rustup is not available to add the '$comp' component"
            note "rustup component add $comp"
            rustup component add "$comp" </dev/null
        fi
    done
    note "$(cargo --version)"
    note "$(cargo fmt --version)"
    note "$(cargo clippy --version)"
}

# ------------------------------------------------------------------ postgres

# pg_version_of INITDB: print "15.18" for "initdb (PostgreSQL) 15.18 (Debian ...)".
pg_version_of() {
    "$1" --version 2>/dev/null | sed -nE '1{s/^[^0-9]*([0-9]+(\.[0-9]+)*).*/\1/p;q;}'
}

# find_initdb: set PG_BINDIR/PG_VERSION to the highest initdb found; 1 if none.
find_initdb() {
    local -a cands=()
    local c v best="" best_v=""
    if [[ -n ${CONVERSURE_PG_BINDIR:-} ]]; then
        [[ -x $CONVERSURE_PG_BINDIR/initdb ]] ||
            die "CONVERSURE_PG_BINDIR=$CONVERSURE_PG_BINDIR has no executable initdb"
        cands=("$CONVERSURE_PG_BINDIR/initdb")
    else
        if c=$(command -v initdb 2>/dev/null); then cands+=("$c"); fi
        for c in /usr/lib/postgresql/*/bin/initdb; do
            if [[ -x $c ]]; then cands+=("$c"); fi
        done
    fi
    for c in "${cands[@]}"; do
        v=$(pg_version_of "$c") || continue
        [[ -n $v ]] || continue
        if [[ -z $best ]] ||
            { [[ $v != "$best_v" ]] &&
                [[ $(printf '%s\n%s\n' "$best_v" "$v" | sort -V | tail -n 1) == "$v" ]]; }; then
            best=$c
            best_v=$v
        fi
    done
    [[ -n $best ]] || return 1
    # Follow symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb)
    # so pg_ctl and psql are taken from the same installation.
    PG_BINDIR=$(dirname "$(readlink -f "$best")")
    PG_VERSION=$best_v
    [[ -x $PG_BINDIR/pg_ctl ]] || die "found $best but no pg_ctl next to it in $PG_BINDIR"
}

ensure_postgres() {
    if ! find_initdb; then
        log "PostgreSQL server not found: installing Debian's postgresql"
        apt_install postgresql
        find_initdb || die "postgresql installed, but no initdb under /usr/lib/postgresql/*/bin"
    fi
    note "PostgreSQL $PG_VERSION from $PG_BINDIR"
}

# ensure_smtp_test_server: the mail tests run a real SMTP server,
# tests/support/smtp_server.py, on aiosmtpd. It runs under Debian's python
# (the python3 on PATH may be a pyenv build that does not see Debian
# packages), so install python3-aiosmtpd when that python cannot import it,
# and tell the tests which python to use.
ensure_smtp_test_server() {
    export CONVERSURE_TEST_PYTHON=/usr/bin/python3
    if ! "$CONVERSURE_TEST_PYTHON" -c 'import aiosmtpd' >/dev/null 2>&1; then
        log "aiosmtpd not found for $CONVERSURE_TEST_PYTHON: installing Debian's python3-aiosmtpd"
        apt_install python3-aiosmtpd
        "$CONVERSURE_TEST_PYTHON" -c 'import aiosmtpd' ||
            die "python3-aiosmtpd installed, but $CONVERSURE_TEST_PYTHON still cannot import aiosmtpd"
    fi
    note "aiosmtpd $("$CONVERSURE_TEST_PYTHON" -c 'import aiosmtpd; print(aiosmtpd.__version__)') for $CONVERSURE_TEST_PYTHON"
}

# ensure_browser: the end-to-end tests (tests/it/e2e.rs) drive Debian's
# Chromium through its ChromeDriver at these fixed paths; install both when
# either is missing (idempotent: nothing happens when they are there).
ensure_browser() {
    if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
        log "Chromium or ChromeDriver not found: installing Debian's chromium and chromium-driver"
        apt_install chromium chromium-driver
        [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] ||
            die "chromium and chromium-driver installed, but /usr/bin/chromium or /usr/bin/chromedriver is missing"
    fi
    note "$(/usr/bin/chromedriver --version 2>/dev/null | head -n 1)"
}

# ensure_pebble: tests/it/tls.rs obtains certificates from Debian's pebble
# (Let's Encrypt's ACME test server) on loopback.
ensure_pebble() {
    if [[ ! -x /usr/bin/pebble ]]; then
        log "pebble not found: installing Debian's pebble"
        apt_install pebble
        [[ -x /usr/bin/pebble ]] || die "pebble installed, but /usr/bin/pebble is missing"
    fi
    note "pebble at /usr/bin/pebble"
}

# ensure_installer_tools: tests/it/installer.rs downloads a release the way
# installer/install.sh does on a VPS: curl (it fetches file:// URLs) and zstd.
ensure_installer_tools() {
    if ! command -v curl >/dev/null 2>&1 || ! command -v zstd >/dev/null 2>&1; then
        log "curl or zstd not found: installing Debian's curl and zstd"
        apt_install curl zstd
    fi
    note "$(zstd --version)"
}

# pg_run CMD...: run a Postgres tool as the cluster owner, from inside the
# temp dir (the owner may not be allowed into the current directory).
pg_run() {
    if [[ -n $PG_RUN_AS ]]; then
        (cd "$PG_TMP" && runuser -u "$PG_RUN_AS" -- "$@")
    else
        "$@"
    fi
}

# pick_port: print a TCP port on 127.0.0.1 that nothing listens on right now.
pick_port() {
    local port _
    if command -v python3 >/dev/null 2>&1 &&
        port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null) && [[ $port =~ ^[0-9]+$ ]]; then
        printf '%s\n' "$port"
        return 0
    fi
    # No usable python3: probe random high ports; a refused connect means free.
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    return 1
}

# choose_cluster_owner: as root, set PG_RUN_AS to a system user initdb accepts.
choose_cluster_owner() {
    PG_RUN_AS=""
    ((IS_ROOT)) || return 0
    if getent passwd postgres >/dev/null 2>&1; then
        PG_RUN_AS=postgres
    else
        PG_RUN_AS=conversure-test
        if ! getent passwd "$PG_RUN_AS" >/dev/null 2>&1; then
            note "creating system user $PG_RUN_AS to own the test cluster"
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$PG_RUN_AS"
        fi
    fi
    command -v runuser >/dev/null 2>&1 || die "runuser not found (Debian package util-linux)"
}

# make_pg_tmp: create PG_TMP, owned by the cluster owner.
make_pg_tmp() {
    local base
    for base in "${TMPDIR:-/tmp}" /tmp; do
        PG_TMP=$(mktemp -d "$base/conversure-pg.XXXXXXXX") || continue
        if [[ -z $PG_RUN_AS ]]; then
            return 0
        fi
        chown "$PG_RUN_AS:" "$PG_TMP"
        # The owner must be able to reach it (TMPDIR may be under /root).
        if (cd / && runuser -u "$PG_RUN_AS" -- test -w "$PG_TMP") 2>/dev/null; then
            return 0
        fi
        rm -rf -- "$PG_TMP"
        PG_TMP=""
    done
    die "could not create a temp dir that user $PG_RUN_AS can write to"
}

pg_start() {
    ensure_postgres
    choose_cluster_owner
    make_pg_tmp
    PG_DATA=$PG_TMP/data
    note "cluster dir $PG_TMP${PG_RUN_AS:+ (owner: $PG_RUN_AS)}"

    if ! pg_run "$PG_BINDIR/initdb" --pgdata="$PG_DATA" --username="$PG_ROLE" \
        --auth=trust --encoding=UTF8 --locale=C --no-sync \
        >"$PG_TMP/initdb.log" 2>&1; then
        cat "$PG_TMP/initdb.log" >&2
        die "initdb failed (log above)"
    fi
    # One role must prove its password (the first matching pg_hba line wins), so the tests can check how a wrong
    # Postgres password is reported; everyone else keeps trust auth.
    pg_run sed -i "1i host all $PG_PASSWORD_ROLE 127.0.0.1/32 scram-sha-256" "$PG_DATA/pg_hba.conf"

    local attempt
    for attempt in 1 2 3 4 5; do
        PG_PORT=$(pick_port) || die "could not find a free TCP port on 127.0.0.1"
        rm -f -- "$PG_TMP/postgres.log"
        # The role created by initdb --username is the bootstrap superuser, so
        # it can CREATE DATABASE (the tests make one database per test).
        if pg_run "$PG_BINDIR/pg_ctl" start --wait --timeout=60 --silent \
            --pgdata="$PG_DATA" --log="$PG_TMP/postgres.log" \
            -o "-p $PG_PORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c listen_addresses=127.0.0.1 -c unix_socket_directories='$PG_TMP' -c max_connections=300" \
            >/dev/null 2>&1; then
            export TEST_DATABASE_URL="postgres://$PG_ROLE@127.0.0.1:$PG_PORT/postgres"
            local psql=$PG_BINDIR/psql
            [[ -x $psql ]] || psql=$(command -v psql) || die "psql not found"
            "$psql" "$TEST_DATABASE_URL" -X -q -v ON_ERROR_STOP=1 \
                -c "CREATE ROLE $PG_PASSWORD_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD'" >/dev/null ||
                die "could not create the password-checked test role"
            export TEST_DATABASE_PASSWORD_URL="postgres://$PG_PASSWORD_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
            note "listening on 127.0.0.1:$PG_PORT"
            note "TEST_DATABASE_URL=$TEST_DATABASE_URL"
            return 0
        fi
        # Another process may have taken the port between probe and bind: retry.
        if grep -q 'could not bind\|Address already in use' "$PG_TMP/postgres.log" 2>/dev/null; then
            warn "port $PG_PORT was taken, retrying (attempt $attempt)"
            pg_run "$PG_BINDIR/pg_ctl" stop --pgdata="$PG_DATA" -m immediate --wait >/dev/null 2>&1 || true
            continue
        fi
        break
    done
    cat "$PG_TMP/postgres.log" >&2 2>/dev/null || true
    die "could not start PostgreSQL (server log above)"
}

# pg_stop: stop the cluster and remove its dir. Safe to call more than once.
pg_stop() {
    if [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]]; then
        log "Stopping PostgreSQL"
        if ! pg_run "$PG_BINDIR/pg_ctl" stop --pgdata="$PG_DATA" -m immediate \
            --wait --timeout=30 >/dev/null 2>&1; then
            local pid
            pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
            if [[ $pid =~ ^[0-9]+$ ]]; then
                warn "pg_ctl stop failed; killing postmaster $pid"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi
    if [[ -n $PG_TMP && -d $PG_TMP ]]; then
        rm -rf -- "$PG_TMP"
    fi
    PG_DATA=""
    PG_TMP=""
}

on_exit() {
    local rc=$?
    set +e
    pg_stop
    if ((rc != 0)); then
        log "FAILED${CURRENT_SECTION:+ in: $CURRENT_SECTION} (exit $rc, after $((SECONDS - SCRIPT_START))s)"
    fi
    exit "$rc"
}

pg_smoke_test() {
    local psql=$PG_BINDIR/psql
    [[ -x $psql ]] || psql=$(command -v psql) || die "psql not found"
    "$psql" "$TEST_DATABASE_URL" -X -v ON_ERROR_STOP=1 -At -c 'select version()'
    "$psql" "$TEST_DATABASE_URL" -X -v ON_ERROR_STOP=1 -q \
        -c 'create database conversure_smoke' -c 'drop database conversure_smoke'
    note "CREATE/DROP DATABASE as $PG_ROLE: ok"
}

# ---------------------------------------------------------------------- main

main() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."

    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP

    # A developer's libpq settings must not leak into the tests' connections.
    unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGPASSFILE PGDATABASE \
        PGSERVICE PGSERVICEFILE PGOPTIONS PGSSLMODE PGSSLCERT PGSSLKEY PGSSLROOTCERT

    if [[ ${TEST_ONLY_PG:-} == 1 ]]; then
        section "Starting throwaway PostgreSQL" pg_start
        section "Checking PostgreSQL with psql" pg_smoke_test
        pg_stop
        log "TEST_ONLY_PG: all good ($((SECONDS - SCRIPT_START))s)"
        return 0
    fi

    # A one-off build gains nothing from incremental state, which would double
    # the footprint of target/ on CI's disk.
    if [[ ${CI:-} == true ]]; then export CARGO_INCREMENTAL=0; fi
    section "Checking Rust toolchain" ensure_rust_tools
    section "cargo fmt --all -- --check" cargo fmt --all -- --check
    section "cargo clippy --all-targets --locked -- -D warnings" \
        cargo clippy --all-targets --locked -- -D warnings
    section "Starting throwaway PostgreSQL" pg_start
    section "Checking the test SMTP server (aiosmtpd)" ensure_smtp_test_server
    section "Checking the browser for the end-to-end tests (Chromium)" ensure_browser
    section "Checking the ACME test server (pebble)" ensure_pebble
    section "Checking the installer test tools (curl, zstd)" ensure_installer_tools
    export CONVERSURE_REQUIRE_POSTGRES=1
    section "cargo test --locked $*" cargo test --locked "$@"
    pg_stop
    log "All checks passed ($((SECONDS - SCRIPT_START))s)"
}

# Run main unless sourced (sourcing lets developers reuse pg_start/pg_stop).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
