#!/usr/bin/env bash
# Archive throughput of a run shared by workers (`glacier-sync archive
# --workers N` on a PostgreSQL catalog), for 1, 2 and 4 in-process
# workers over the same tree of small files on the local directory store;
# prints files/s per worker count. Each count gets a fresh database.
#
#   eval "$(scripts/services/postgres start)"
#   flock /work/cpu.lock benches/measure-workers.sh [FILES] [BINARY]
#
# FILES defaults to 20000; BINARY to the glacier-sync of the cargo target
# directory (build it first: `cargo build -p glacier-sync [--release]`).
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-20000}
bin=${2:-${CARGO_TARGET_DIR:-target}/debug/glacier-sync}
[[ -x "$bin" ]] || { echo "measure-workers: no binary at $bin (build glacier-sync, or pass its path)" >&2; exit 1; }
: "${PERMAFROST_POSTGRES_URL:?run eval \"\$(scripts/services/postgres start)\" first}"
base=${PERMAFROST_POSTGRES_URL%/*}
base=${base/postgresql:\/\//postgres://}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
per_dir=500
for ((d = 0; d < files / per_dir; d++)); do
  mkdir -p "$work/tree/dir$d"
  for ((f = 0; f < per_dir; f++)); do printf 'directory %d file %d\n' "$d" "$f" > "$work/tree/dir$d/file-$f.txt"; done
done
echo "workers  files  seconds  files/s"
for n in 1 2 4; do
  db="measure_workers_$$_$n"
  psql -q "$PERMAFROST_POSTGRES_URL" -c "CREATE DATABASE $db"
  start=$(date +%s.%N)
  PERMAFROST_HOME="$work/home$n" "$bin" -q archive "$work/tree" --catalog "$base/$db" \
    --vault "$work/store$n/main" --workers "$n" --unit-files 1000 -j 2 >/dev/null
  end=$(date +%s.%N)
  awk -v n="$n" -v f="$files" -v s="$start" -v e="$end" \
    'BEGIN { printf "%7d  %5d  %7.1f  %7.0f\n", n, f, e - s, f / (e - s) }'
  psql -q "$PERMAFROST_POSTGRES_URL" -c "DROP DATABASE $db WITH (FORCE)"
  rm -rf "$work/store$n" "$work/home$n"
done
