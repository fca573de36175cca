#!/usr/bin/env bash
# `glacier-sync archive` (walk, bundle, upload into the local store, catalog
# every file) against `tar -cf - DIR | zstd -1 -T0 > FILE` writing to the
# same disk, from a warm page cache; peak memory from /usr/bin/time -v.
#
# The tree (generated once, outside the repository): FILES text files of
# 200 B - 8 KB in directories of 100.
#   TREE=/tmp/permafrost-archive-tree FILES=200000 benches/compare-archive.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TREE="${TREE:-/tmp/permafrost-archive-tree}"
FILES="${FILES:-200000}"
OUT="${OUT:-$(dirname "$TREE")/permafrost-archive-out}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
for t in tar zstd python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "compare-archive: $t is missing (scripts/services/tools start)"; exit 1; }
done
if [ ! -f "$TREE/.complete-$FILES" ]; then
  echo "generating $FILES files under $TREE ..."
  rm -rf "$TREE"; mkdir -p "$TREE"
  python3 - "$TREE" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(2, 10))) for _ in range(5000)]
for i in range(n):
    d = os.path.join(root, f"g{i % 50:02d}", f"s{(i // 50) % 40:02d}")
    os.makedirs(d, exist_ok=True)
    k = rng.randint(200, 8000)
    body = ' '.join(rng.choice(words) for _ in range(k // 5)).encode()[:k]
    with open(os.path.join(d, f"f{i}.txt"), 'wb') as f:
        f.write(body)
PY
  touch "$TREE/.complete-$FILES"
fi
cargo build --release -q -p glacier-sync
bin="$CARGO_TARGET_DIR/release/glacier-sync"
bytes=$(find "$TREE" -type f -printf '%s\n' | awk '{s+=$1} END{printf "%.0f", s}')
rm -rf "$OUT"; mkdir -p "$OUT"
tar -cf - "$TREE" 2>/dev/null | cat >/dev/null   # warm the cache
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$OUT/$label.time" "$@" >/dev/null
  read -r secs kib < "$OUT/$label.time"
  printf '%-10s %6.2f s  %8.0f files/s  %7.1f MB/s  peak %6.1f MiB\n' "$label" "$secs" \
    "$(echo "$FILES / $secs" | bc -l)" "$(echo "$bytes / $secs / 1000000" | bc -l)" "$(echo "$kib / 1024" | bc -l)"
  echo "$secs"  > "$OUT/$label.secs"
}
measure archive env PERMAFROST_HOME="$OUT/home" "$bin" -q archive "$TREE"
measure tar-zstd sh -c "tar -cf - '$TREE' 2>/dev/null | zstd -1 -q -T0 > '$OUT/tree.tar.zst'"
printf 'ratio (tar|zstd time / archive time): %.2f\n' \
  "$(echo "$(cat "$OUT/tar-zstd.secs") / $(cat "$OUT/archive.secs")" | bc -l)"
