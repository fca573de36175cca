#!/usr/bin/env bash
# Tree hash throughput of glacier-sync against peer tools, on one file, in
# one run. Creates a file (default 2 GiB) in a scratch directory, warms the
# page cache, then times each tool several times and keeps the best run.
#
#   benches/compare-treehash.sh [SIZE_MIB] [RUNS]
#
# Peers: openssl dgst -sha256 (plain SHA-256 with the CPU's SHA instructions:
# the per-core ceiling), sha256sum, botocore's calculate_tree_hash (installed
# into a venv under .build/), and a Perl Digest::SHA tree hash (the way
# mt-aws-glacier computes it). Prints GB/s (10^9 bytes/s), peak RSS and the
# ratio of each to glacier-sync.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-2048}
runs=${2:-3}
scratch=${SCRATCH:-target/compare-treehash}
mkdir -p "$scratch"
file="$scratch/data-${size_mib}MiB.bin"
bytes=$((size_mib * 1024 * 1024))

echo "building glacier-sync (release)..." >&2
cargo build --release --quiet -p glacier-sync
bin=target/release/glacier-sync

if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" != "$bytes" ]; then
  echo "creating $file ($size_mib MiB of random data)..." >&2
  head -c "$bytes" /dev/urandom > "$file.tmp" && mv "$file.tmp" "$file"
fi

venv=.build/venv-compare
if [ ! -x "$venv/bin/python" ]; then
  echo "installing botocore into $venv..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet botocore
fi

cat "$file" > /dev/null   # warm the page cache

perl_treehash='
use strict; use Digest::SHA qw(sha256);
open(my $fh, "<:raw", $ARGV[0]) or die "$ARGV[0]: $!";
my @level; my $buf;
while (my $n = read($fh, $buf, 1048576)) { push @level, sha256($buf); }
@level = (sha256("")) unless @level;
while (@level > 1) {
  my @up;
  for (my $i = 0; $i < @level; $i += 2) {
    push @up, $i + 1 < @level ? sha256($level[$i] . $level[$i + 1]) : $level[$i];
  }
  @level = @up;
}
print unpack("H*", $level[0]), "\n";'
py_treehash='
import sys
from botocore.utils import calculate_tree_hash
with open(sys.argv[1], "rb") as f:
    print(calculate_tree_hash(f))'

threads=$(nproc)
names=("glacier-sync treehash -j1" "glacier-sync treehash -j$threads" "openssl dgst -sha256" "sha256sum" "botocore calculate_tree_hash" "perl Digest::SHA tree hash")
cmds=("$bin treehash -j1 $file" "$bin treehash -j$threads $file" "openssl dgst -sha256 $file" "sha256sum $file" "$venv/bin/python -c '$py_treehash' $file" "perl -e '$perl_treehash' $file")

declare -a best rss out
for i in "${!cmds[@]}"; do
  best[$i]=999999; rss[$i]=0
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    o=$(/usr/bin/time -f '%M' -o "$scratch/rss" bash -c "${cmds[$i]}")
    t1=$(date +%s.%N)
    el=$(echo "$t1 - $t0" | bc -l)
    if (( $(echo "$el < ${best[$i]}" | bc -l) )); then best[$i]=$el; fi
    r=$(tail -1 "$scratch/rss"); (( r > rss[$i] )) && rss[$i]=$r
    out[$i]=$(echo "$o" | tail -1 | awk '{print $1}')
  done
done

# The tree hashes must agree with each other (the plain SHA-256s differ).
th_ref=${out[0]}
for i in 1 4 5; do
  if [ "${out[$i]}" != "$th_ref" ]; then
    echo "MISMATCH: ${names[$i]} gave ${out[$i]}, glacier-sync gave $th_ref" >&2
    exit 1
  fi
done

printf '\n%s MiB file, page cache warm, best of %s runs, %s CPUs\n' "$size_mib" "$runs" "$threads"
printf '%-32s %8s %8s %11s %12s %12s\n' tool seconds GB/s "peak RSS" "-j1 speedup" "-j$threads speedup"
for i in "${!cmds[@]}"; do
  gbs=$(echo "$bytes / ${best[$i]} / 1000000000" | bc -l)
  r1=$(echo "${best[$i]} / ${best[0]}" | bc -l)
  rn=$(echo "${best[$i]} / ${best[1]}" | bc -l)
  printf '%-32s %8.3f %8.3f %8d KB %11.2fx %11.2fx\n' "${names[$i]}" "${best[$i]}" "$gbs" "${rss[$i]}" "$r1" "$rn"
done
echo "(speedup: how many times faster glacier-sync -j1 / -j$threads is than that tool)"
echo "all tree hashes agree: $th_ref"
