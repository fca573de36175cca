#!/usr/bin/env bash
# Bundling speed against `tar -cf - DIR | zstd -1 -T0`, and walking speed
# against `find DIR -printf '%s\n'`, on the same tree, from a warm page
# cache. Prints times, throughputs and ratios (target: >= 1.5x for both).
#
# The tree (generated once, outside the repository): FILES files of 1-16 KiB,
# half compressible text, half random, in directories of 500, plus BIG files
# of 100 MiB (half text, half random).
#   TREE=/tmp/permafrost-bundle-tree FILES=200000 BIG=3 RUNS=5 benches/compare-bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TREE="${TREE:-/tmp/permafrost-bundle-tree}"
FILES="${FILES:-200000}"
BIG="${BIG:-3}"
# Output on tmpfs when there is one, so the disk does not set the pace.
if [ -d /dev/shm ]; then OUT="${OUT:-/dev/shm/permafrost-bundle-out}"; else OUT="${OUT:-/tmp/permafrost-bundle-out}"; fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"

for t in tar zstd find python3; do
  command -v "$t" >/dev/null || { echo "compare-bundle: $t is missing (scripts/services/tools start)"; exit 1; }
done

if [ ! -f "$TREE/.complete-$FILES-$BIG" ]; then
  echo "generating $FILES small files and $BIG x 100 MiB under $TREE ..."
  rm -rf "$TREE"; mkdir -p "$TREE"
  python3 - "$TREE" "$FILES" "$BIG" <<'PY'
import os, random, sys
root, n, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(2, 10))) for _ in range(5000)]
text = (' '.join(rng.choice(words) for _ in range(400_000))).encode()
for i in range(n):
    d = os.path.join(root, 'small', f'd{i // 500:04d}')
    if i % 500 == 0:
        os.makedirs(d, exist_ok=True)
    size = rng.randint(1024, 16384)
    if i % 2 == 0:
        off = rng.randrange(0, len(text) - size)
        data = text[off:off + size]
    else:
        data = os.urandom(size)
    with open(os.path.join(d, f'f{i:06d}.{"txt" if i % 2 == 0 else "bin"}'), 'wb') as f:
        f.write(data)
os.makedirs(os.path.join(root, 'big'), exist_ok=True)
for j in range(big):
    with open(os.path.join(root, 'big', f'big{j}.dat'), 'wb') as f:
        for k in range(100):
            if k % 2 == 0:
                off = rng.randrange(0, len(text) - (1 << 20))
                f.write(text[off:off + (1 << 20)])
            else:
                f.write(os.urandom(1 << 20))
PY
  touch "$TREE/.complete-$FILES-$BIG"
fi

# PF_BIN: an already built pf-bundle (e.g. of an older commit) instead.
if [ -n "${PF_BIN:-}" ]; then
  PF="$PF_BIN"
else
  echo "building the release example (pf-bundle) ..."
  cargo build --quiet --release -p bundler --example pf-bundle
  PF="$CARGO_TARGET_DIR/release/examples/pf-bundle"
fi

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }
rm -rf "$OUT"; mkdir -p "$OUT"
trap 'rm -rf "$OUT"' EXIT
BYTES=$(du -sb --apparent-size "$TREE" | cut -f1)
echo "tree: $(find "$TREE" -type f | wc -l) files, $BYTES bytes; $(nproc) cores"

# Warm the page cache (and the dentry cache) for everyone.
tar -cf - -C "$TREE" . >/dev/null

# Best of RUNS (default 5) runs of "$@": prints "REAL CPU" (wall seconds,
# user+system seconds). CPU time is reported too because other jobs on a
# shared machine stretch wall times, parallel programs' most. The outputs
# of earlier runs are removed before each run, outside the timing, so
# that neither side pays for freeing the other's (or its own old) pages.
RUNS="${RUNS:-5}"
clean() { rm -rf "$OUT/ours" "$OUT/peer.tar.zst"; }
best() {
  local br="" bc="" f; f=$(mktemp)
  for _ in $(seq "$RUNS"); do
    clean
    /usr/bin/time -f '%e %U %S' -o "$f" "$@" >/dev/null
    read -r r u s <"$f"
    local c; c=$(python3 -c "print(f'{$u + $s:.2f}')")
    if [ -z "$br" ] || python3 -c "import sys; sys.exit(0 if $r < $br else 1)"; then br=$r; fi
    if [ -z "$bc" ] || python3 -c "import sys; sys.exit(0 if $c < $bc else 1)"; then bc=$c; fi
  done
  rm -f "$f"
  echo "$br $bc"
}

peer_walk() { find "$TREE" -printf '%s\n'; }
our_walk() { "$PF" walk "$TREE"; }
peer_bundle() { tar -cf - -C "$TREE" . | zstd -1 -T0 -q -f -o "$OUT/peer.tar.zst"; }
our_bundle() { "$PF" bundle "$OUT/ours" "$TREE"; }
export -f peer_walk our_walk peer_bundle our_bundle
export TREE PF OUT
export -f clean

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r tw_peer cw_peer < <(best bash -c peer_walk)
read -r tw_ours cw_ours < <(best bash -c our_walk)
read -r tb_peer cb_peer < <(best bash -c peer_bundle)
peer_size=$(stat -c %s "$OUT/peer.tar.zst")
read -r tb_ours cb_ours < <(best bash -c our_bundle)
ours_size=$(du -sb --apparent-size "$OUT/ours" | cut -f1)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$BYTES" "$tw_peer" "$tw_ours" "$tb_peer" "$tb_ours" "$ours_size" "$peer_size" "$cw_peer" "$cw_ours" "$cb_peer" "$cb_ours" <<'PY'
import sys
b, twp, two, tbp, tbo, so, sp, cwp, cwo, cbp, cbo = sys.argv[1:]
b = int(b); twp, two, tbp, tbo, cwp, cwo, cbp, cbo = (max(float(x), 0.01) for x in (twp, two, tbp, tbo, cwp, cwo, cbp, cbo))
print(f"walk:   find -printf %s        {twp:7.3f} s wall {cwp:6.2f} s cpu")
print(f"        ours                   {two:7.3f} s wall {cwo:6.2f} s cpu")
print(f"        ratio {twp / two:.2f}x wall, {cwp / cwo:.2f}x cpu (target >= 1.5x wall)")
print(f"bundle: tar | zstd -1 -T0      {tbp:7.3f} s wall {cbp:6.2f} s cpu ({b / tbp / 1e9:.2f} GB/s, {int(sp)} bytes)")
print(f"        ours (index, SHA-256)  {tbo:7.3f} s wall {cbo:6.2f} s cpu ({b / tbo / 1e9:.2f} GB/s, {int(so)} bytes)")
print(f"        ratio {tbp / tbo:.2f}x wall, {cbp / cbo:.2f}x cpu (target >= 1.5x wall)")
PY
