#!/usr/bin/env bash
# The PostgreSQL benchmark on a private cluster: initdb + pg_ctl as uid 65534 (initdb refuses root; no user is
# created) in a new directory, listening only on a unix socket there, default durability (fsync on); runs
# export-cleanup-pg-bench against it; stops the cluster and removes the directory on exit, also on failure.
# Never touches the machine's own PostgreSQL service.
#
#   swift build -c release && scripts/pg-bench.sh --jobs 200000 [--repeat 3]
#
# Needs: postgresql-15 (its binaries in /usr/lib/postgresql/15/bin), setpriv (util-linux), GNU time for peak RSS.
# CONFIGURATION=debug runs the debug build (a quick check, not a measurement).
# BENCH_DIR=... puts the cluster and the export files elsewhere (default: a new directory under /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$PG_BIN/initdb" ] || { echo "pg-bench: $PG_BIN/initdb is missing (apt-get install postgresql-15)" >&2; exit 1; }
bin_dir=$(swift build -c "${CONFIGURATION:-release}" --show-bin-path)
[ -x "$bin_dir/export-cleanup-pg-bench" ] && [ -x "$bin_dir/export-cleanup" ] ||
    { echo "pg-bench: build first: swift build -c release" >&2; exit 1; }

dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/export-cleanup-pg-bench.XXXXXX")
chmod 0755 "$dir"
mkdir "$dir/pg"
chown 65534:65534 "$dir/pg"
as_nobody() { (cd "$dir/pg" && HOME="$dir/pg" setpriv --reuid=65534 --regid=65534 --clear-groups "$@"); }
cleanup() {
    as_nobody "$PG_BIN/pg_ctl" -D "$dir/pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

as_nobody "$PG_BIN/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_nobody "$PG_BIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir/pg' -c shared_buffers=256MB -c max_wal_size=4GB" start >/dev/null
as_nobody "$PG_BIN/psql" -h "$dir/pg" -U postgres -qc "CREATE DATABASE bench" postgres

"$bin_dir/export-cleanup-pg-bench" --db "postgresql://postgres@/bench?host=$dir/pg" --dir "$dir/files" "$@"
