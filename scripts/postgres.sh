#!/usr/bin/env bash
# A throw-away PostgreSQL server for the test suite, on loopback only.
#
#   scripts/postgres.sh start   start it (idempotent); the last line on stdout is the SQLAlchemy URL
#   scripts/postgres.sh stop    stop it (the data directory is kept, so the next start is quick)
#   scripts/postgres.sh url     print the SQLAlchemy URL
#
# Environment: CALLINTEL_PG_DIR (data directory, default /tmp/callintel-pg; its parent
# directories must be traversable by the user that runs the server) and CALLINTEL_PG_PORT
# (default 55432).
#
# TEST ONLY: authentication is "trust" (any local client may connect as any role, without a
# password) and durability is off (fsync, synchronous_commit, full_page_writes). Never point
# this at data you want to keep. It does not touch the distribution's own cluster or service.
#
# Run as root, it installs the Debian package `postgresql` when no server binaries are found
# and runs the server as the `postgres` OS user (PostgreSQL refuses to run as root). Run as
# another user, it runs the binaries directly; that user must own the data directory.
set -euo pipefail

PG_DIR=$(realpath -m -- "${CALLINTEL_PG_DIR:-/tmp/callintel-pg}")
PG_PORT=${CALLINTEL_PG_PORT:-55432}
PG_HOST=127.0.0.1
ROLE=callintel
DATABASE=callintel
LOG=$PG_DIR/postgres.log
MARKER=$PG_DIR/.callintel-test-cluster
WAIT_SECONDS=30

# The server must not inherit a working directory it cannot read (e.g. /root).
cd /

say() { echo "postgres.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

url() { echo "postgresql+psycopg://$ROLE@$PG_HOST:$PG_PORT/$DATABASE"; }

if [[ $(id -u) -eq 0 ]]; then
    SERVER_USER=postgres
    as_server() { runuser -u "$SERVER_USER" -- "$@"; }
else
    SERVER_USER=$(id -un)
    as_server() { "$@"; }
fi

find_bindir() {
    # The real binaries of the newest installed major version, e.g. /usr/lib/postgresql/15/bin.
    local initdb
    initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    [[ -x $initdb ]] && dirname "$initdb"
}

install_server() {
    [[ $(id -u) -eq 0 ]] || die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin; install the 'postgresql' package or run this as root"
    say "installing the Debian package postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # postgresql-common first, so that the package does not create (and start) its default cluster.
    apt-get install -y -qq postgresql-common >&2
    sed -ri 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf
    apt-get install -y -qq postgresql >&2
}

BIN=$(find_bindir) || { install_server; BIN=$(find_bindir) || die "PostgreSQL installed, but no initdb in /usr/lib/postgresql/*/bin"; }
MAJOR=$(basename "$(dirname "$BIN")")

is_running() { as_server "$BIN/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; }

is_ready() { "$BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -t 1; }

cluster_ok() {
    # A complete data directory of our major version, whose control file reads back.
    [[ -f $PG_DIR/PG_VERSION && -f $PG_DIR/postgresql.conf ]] \
        && [[ $(cat "$PG_DIR/PG_VERSION") == "$MAJOR" ]] \
        && as_server "$BIN/pg_controldata" "$PG_DIR" >/dev/null 2>&1
}

wipe() {
    # Only what this script made (or an empty or half-made cluster): never a directory of other files.
    if [[ -d $PG_DIR && ! -e $MARKER && ! -e $PG_DIR/PG_VERSION && -n $(ls -A "$PG_DIR") ]]; then
        die "$PG_DIR exists and is not a test cluster made by this script; set CALLINTEL_PG_DIR elsewhere"
    fi
    say "removing $PG_DIR"
    rm -rf -- "$PG_DIR"
}

init_cluster() {
    say "initialising a test cluster in $PG_DIR (PostgreSQL $MAJOR)"
    mkdir -p -- "$PG_DIR"
    if [[ $(id -u) -eq 0 ]]; then chown "$SERVER_USER": "$PG_DIR"; fi
    chmod 700 "$PG_DIR"
    # --auth=trust: test only, see the header.
    local output
    if ! output=$(as_server "$BIN/initdb" -D "$PG_DIR" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C --no-sync 2>&1); then
        echo "$output" >&2
        die "initdb failed"
    fi
    as_server tee -a "$PG_DIR/postgresql.conf" >/dev/null <<EOF

# Added by scripts/postgres.sh: a throw-away server for tests.
listen_addresses = '$PG_HOST'
unix_socket_directories = '$PG_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    as_server touch "$MARKER"
}

start_server() {
    # The log goes to a file in the data directory; the port comes from the environment.
    as_server "$BIN/pg_ctl" -D "$PG_DIR" -l "$LOG" -o "-p $PG_PORT" -w -t "$WAIT_SECONDS" start >&2
}

log_tail() { if [[ -f $LOG ]]; then tail -n 30 "$LOG" >&2; fi; }

wait_ready() {
    # 0 once the server answers on our port, 1 if it is gone; fails after WAIT_SECONDS.
    local deadline=$((SECONDS + WAIT_SECONDS))
    until is_ready; do
        is_running || return 1
        if ((SECONDS >= deadline)); then
            log_tail
            die "a server runs from $PG_DIR but does not answer on $PG_HOST:$PG_PORT after ${WAIT_SECONDS}s (log: $LOG)"
        fi
        sleep 0.5
    done
}

ensure_role_and_database() {
    local psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tA)
    if [[ -z $("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'") ]]; then
        "${psql[@]}" -c "CREATE ROLE $ROLE LOGIN SUPERUSER"
    fi
    if [[ -z $("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'") ]]; then
        "${psql[@]}" -c "CREATE DATABASE $DATABASE OWNER $ROLE"
    fi
}

start() {
    if [[ $(id -u) -eq 0 ]]; then
        id -u "$SERVER_USER" >/dev/null 2>&1 || die "no OS user '$SERVER_USER' to run the server as"
        # A test cluster left by a run as another user.
        if [[ -e $MARKER && $(stat -c %U "$PG_DIR") != "$SERVER_USER" ]]; then
            chown -R "$SERVER_USER": "$PG_DIR"
        fi
    fi
    # pg_ctl trusts the PID in postmaster.pid, so also wait for the server to answer: it may be
    # starting up, or that PID may be a dead server's (a zombie not yet reaped after a crash).
    if [[ -d $PG_DIR ]] && is_running && wait_ready; then
        say "already running ($PG_DIR)"
        ensure_role_and_database
        url
        return
    fi
    if [[ -d $PG_DIR ]] && ! cluster_ok; then
        say "$PG_DIR is not a usable PostgreSQL $MAJOR data directory"
        wipe
    fi
    if is_ready; then
        die "another PostgreSQL server answers on $PG_HOST:$PG_PORT; set CALLINTEL_PG_PORT to a free port"
    fi
    [[ -d $PG_DIR ]] || init_cluster
    if ! start_server; then
        say "the server did not start; log:"
        log_tail
        say "re-initialising $PG_DIR and trying once more"
        wipe
        init_cluster
        start_server || { log_tail; die "the server did not start (log: $LOG)"; }
    fi
    wait_ready || { log_tail; die "the server stopped while starting (log: $LOG)"; }
    ensure_role_and_database
    say "running on $PG_HOST:$PG_PORT, data in $PG_DIR"
    url
}

stop() {
    if [[ -d $PG_DIR ]] && is_running; then
        as_server "$BIN/pg_ctl" -D "$PG_DIR" -m fast -w -t "$WAIT_SECONDS" stop >&2
    else
        say "not running ($PG_DIR)"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
