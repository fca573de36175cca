#!/usr/bin/env bash
# The cost of deciding that nothing changed: an incremental
# `glacier-sync backup run` over N unchanged files (walk the spec, compare
# every entry with the catalog, record the level) against
# `find TREE -newer STAMP` (walk and stat every entry) on the same tree, from
# a warm page cache. Prints wall seconds, files/s and peak RSS of the best of
# RUNS runs of each, and the ratio backup/find.
#
# The tree (generated once, outside the repository): N files of a few bytes
# in directories of 1000; the set's FULL is stored once (per OUT), untimed.
#   N=20000 benches/compare-backup-incremental.sh        # a quick run
#   benches/compare-backup-incremental.sh                # N=1000000
#   BIN=target/debug/glacier-sync N=20000 ...            # skip the release build
#   CARGO_FLAGS=--no-default-features N=20000 ...        # local store only
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000000}"
RUNS="${RUNS:-3}"
TREE="${TREE:-/tmp/permafrost-backup-tree-$N}"
OUT="${OUT:-/tmp/permafrost-backup-bench-$N}"
for t in find python3 bc /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "compare-backup-incremental: $t is missing"; exit 1; }
done
if [ ! -f "$TREE/.complete" ]; then
  echo "generating $N files under $TREE ..." >&2
  rm -rf "$TREE"; mkdir -p "$TREE"
  python3 - "$TREE/t" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 1000:04d}")
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}"), "w") as f:
        f.write(f"{i}\n")
PY
  touch "$TREE/.complete"
fi
if [ -z "${BIN:-}" ]; then
  # CARGO_FLAGS=--no-default-features: a build with the local store only
  # (the stores do not take part in deciding what changed).
  # The binary where cargo put it (its own message, whatever the target dir).
  # shellcheck disable=SC2086
  BIN=$(cargo build --release -q -p glacier-sync ${CARGO_FLAGS:-} --message-format=json |
    python3 -c 'import json, sys
exe = [m["executable"] for m in map(json.loads, sys.stdin)
       if m.get("reason") == "compiler-artifact" and m.get("executable")
       and m["target"]["name"] == "glacier-sync"]
print(exe[-1])')
fi
entries=$(find "$TREE/t" | wc -l)

# A set over the tree with its FULL stored (once per tree and binary).
cat="$OUT/catalog.sqlite"
if [ ! -f "$OUT/.full-done" ]; then
  rm -rf "$OUT"; mkdir -p "$OUT"
  printf '{"includes": ["%s"], "excludes": []}\n' "$TREE/t" > "$OUT/spec.json"
  # A level cap no run of this script reaches: every timed run is an
  # incremental.
  "$BIN" -q backup init bench --vault "file://$OUT/store/v" --spec "$OUT/spec.json" \
    --max-level 1000000 --catalog "$cat"
  echo "storing the FULL of $N files (untimed) ..." >&2
  "$BIN" -q backup run bench --catalog "$cat" --max-files 10000 >/dev/null
  touch "$OUT/.full-done"
fi
touch "$OUT/stamp"
find "$TREE/t" >/dev/null   # warm the cache

measure() { # label, command...
  local label=$1; shift
  local best=999999 kib=0 t0 t1 secs k
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$OUT/$label.time" "$@" >"$OUT/$label.out"
    t1=$(date +%s.%N)
    secs=$(echo "$t1 - $t0" | bc -l)
    k=$(tail -1 "$OUT/$label.time")
    if (( $(echo "$secs < $best" | bc -l) )); then best=$secs; fi
    if (( k > kib )); then kib=$k; fi
  done
  printf '%-26s %8.3f s  %10.0f entries/s  peak RSS %7.1f MiB\n' "$label" "$best" \
    "$(echo "$entries / $best" | bc -l)" "$(echo "$kib / 1024" | bc -l)"
  echo "$best" > "$OUT/$label.secs"
}
echo "$N files ($entries entries), best of $RUNS runs:"
measure "backup run (incremental)" "$BIN" -q --json backup run bench --catalog "$cat"
if ! tr -d ' \n' < "$OUT/backup run (incremental).out" | grep -q '"files":0'; then
  echo "compare-backup-incremental: the incremental stored files:"
  cat "$OUT/backup run (incremental).out"; exit 1
fi
measure "find -newer" find "$TREE/t" -newer "$OUT/stamp"
if [ -s "$OUT/find -newer.out" ]; then
  echo "compare-backup-incremental: find -newer found changes"; exit 1
fi
printf 'ratio backup/find: %.1fx\n' \
  "$(echo "$(cat "$OUT/backup run (incremental).secs") / $(cat "$OUT/find -newer.secs")" | bc -l)"
