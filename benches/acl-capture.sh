#!/usr/bin/env bash
# What ACL capture costs per file: `glacier-sync archive --acls auto` against
# `--acls none` on the same tree of FILES small files that all carry POSIX
# ACLs (set with setfacl: a named user and a named group in every file; each
# of the 50 top directories names its own uid, and directories hold a
# default ACL), into a fresh local store and catalog each time, from a warm
# page cache. Prints files/s of both, the cost per file, and the name
# lookups of the run (one per distinct principal).
#   TREE=/tmp/permafrost-acl-tree FILES=100000 benches/acl-capture.sh
#   BIN=target/debug/glacier-sync ...   measure another build (default: release)
set -euo pipefail
cd "$(dirname "$0")/.."
TREE="${TREE:-/tmp/permafrost-acl-tree}"
FILES="${FILES:-100000}"
OUT="${OUT:-$(dirname "$TREE")/permafrost-acl-out}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
for t in setfacl getfacl python3; do
  command -v "$t" >/dev/null || { echo "acl-capture: $t is missing (scripts/services/tools start)"; exit 1; }
done
if [ ! -f "$TREE.complete-$FILES" ]; then
  echo "generating $FILES files with POSIX ACLs under $TREE ..."
  rm -rf "$TREE" "$TREE".complete-*; mkdir -p "$TREE"
  probe="$TREE/.probe"; : >"$probe"
  setfacl -m u:1:r "$probe" || { echo "acl-capture: the filesystem of $TREE takes no POSIX ACLs"; exit 1; }
  rm -f "$probe"
  python3 - "$TREE" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"g{i % 50:02d}", f"s{(i // 50) % 40:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.txt"), 'wb') as f:
        f.write(b"x" * (200 + i % 800))
PY
  for g in "$TREE"/g*; do
    k=${g##*/g}
    setfacl -R -m "u:$((20000 + 10#$k)):rw-,g:bin:r--" "$g"
    find "$g" -type d -exec setfacl -d -m "u:$((20000 + 10#$k)):rwx,g:bin:r-x" {} +
  done
  touch "$TREE.complete-$FILES"
fi
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p glacier-sync
  BIN="$CARGO_TARGET_DIR/release/glacier-sync"
fi
[ -x "$BIN" ] || { echo "acl-capture: $BIN is not built"; exit 1; }
printf 'key=K\nsecret=s\nregion=us-east-1\n' >"$(dirname "$TREE")/acl-bench.cfg"
find "$TREE" -type f -exec cat {} + >/dev/null   # warm the cache
getfacl -R -n "$TREE" >/dev/null 2>&1

run() { # ACLS -> "seconds json"
  local acls=$1
  rm -rf "$OUT"; mkdir -p "$OUT"
  "$BIN" create-vault "file://$OUT/store/bench" --config "$(dirname "$TREE")/acl-bench.cfg" >/dev/null 2>&1
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" --json archive "$TREE" --acls "$acls" --vault "file://$OUT/store/bench" --catalog "$OUT/catalog.sqlite" \
    --config "$(dirname "$TREE")/acl-bench.cfg" >"$OUT/run.json" 2>"$OUT/run.err"
  t1=$(date +%s.%N)
  echo "$(echo "$t1 - $t0" | bc -l) $(tr -d '\n ' <"$OUT/run.json")"
}

read -r t_none _ < <(run none)
read -r t_auto json < <(run auto)
python3 - "$FILES" "$t_none" "$t_auto" "$json" "$BIN" <<'PY'
import json, sys
n, t_none, t_auto = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
run = json.loads(sys.argv[4])
acls = run["acls"]
print(f"binary: {sys.argv[5]}")
print(f"files archived: {run['files']} (tree of {n}; with ACLs: {acls['with_acls']} incl. directories)")
print(f"--acls none: {t_none:.2f} s  {n / t_none:,.0f} files/s")
print(f"--acls auto: {t_auto:.2f} s  {n / t_auto:,.0f} files/s")
print(f"capture cost: {(t_auto - t_none) / n * 1e6:.1f} us per file ({(t_auto / t_none - 1) * 100:.1f}% slower)")
names = acls["names"]
print(f"name lookups: {names['lookups']} (hits {names['hits']}, failures {names['failures']})")
PY
