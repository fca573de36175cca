#!/usr/bin/env bash
# The catalog's two backends side by side: inserts N synthetic files
# (default 1,000,000) into an SQLite catalog and into a PostgreSQL one
# with crates/catalog/examples/scale.rs, and prints insertion rows/s,
# bytes per file and search p50/p90/p99 (after `optimize` / `VACUUM
# ANALYZE`) of both in one table.
#
#   eval "$(scripts/services/postgres start)"
#   flock /work/cpu.lock benches/compare-catalog-backends.sh [N]
#
# The PostgreSQL catalog goes into a database made for the run and
# dropped at the end; the SQLite one into a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
: "${PERMAFROST_POSTGRES_URL:?run eval \"\$(scripts/services/postgres start)\" first}"
base=${PERMAFROST_POSTGRES_URL%/*}
base=${base/postgresql:\/\//postgres://}
db="compare_backends_$$"
work=$(mktemp -d)
cleanup() {
  psql -q "$PERMAFROST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT
cargo build -q --release -p catalog --features postgres --example scale
target=$(cargo metadata -q --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target/release/examples/scale
echo "SQLite: $n files" >&2
"$bin" "$n" "$work/catalog.db" > "$work/sqlite.txt"
psql -q "$PERMAFROST_POSTGRES_URL" -c "CREATE DATABASE $db"
echo "PostgreSQL: $n files" >&2
"$bin" "$n" --catalog "$base/$db" > "$work/postgres.txt"
python3 - "$n" "$work/sqlite.txt" "$work/postgres.txt" <<'PY'
import re, sys
n, paths = sys.argv[1], sys.argv[2:]

def read(path):
    text = open(path).read()
    after = text.split("-- after optimize", 1)[-1]
    out = {
        "insert": re.search(r": ([\d.]+) rows/s wall", text).group(1),
        "bytes": re.search(r"(\d+) bytes per file", text).group(1),
    }
    for key, label in (("paths", "two words of an existing path"), ("pairs", "random vocabulary pairs")):
        m = re.search(label + r".*?p50 ([\d.]+) ms, p90 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms", after)
        out[key] = " / ".join(m.groups()[:3])
    m = re.search(r'"budget 2019"\s+\d+ hits on page 1: ([\d.]+) ms', after)
    out["phrase"] = m.group(1) if m else "-"
    return out

s, p = (read(x) for x in paths)
rows = [
    ("insertion, rows/s (wall clock)", "insert"),
    ("database, bytes per file", "bytes"),
    ("two words of an existing path, p50 / p90 / p99 ms", "paths"),
    ("random vocabulary pairs, p50 / p90 / p99 ms", "pairs"),
    ('"budget 2019" (phrase), first page, ms', "phrase"),
]
print(f"{int(n):,} files")
print(f"{'':52} {'SQLite':>24} {'PostgreSQL':>24}")
for label, key in rows:
    print(f"{label:52} {s[key]:>24} {p[key]:>24}")
PY
