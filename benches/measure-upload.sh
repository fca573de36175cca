#!/usr/bin/env bash
# Uploads one 2 GiB file with the glacier-multipart engine to the local
# directory store, to the fake Glacier HTTP endpoint (through the real AWS
# SDK store) and to S3 (the S3 store, against the moto test server of
# scripts/services/moto), with 1 and 4 parts in flight, and prints
# throughput, peak memory (maximum resident set, from /usr/bin/time -f %M)
# and the CPU seconds of the uploading process (for S3: the client's
# hashing, tree hash twice plus CRC64NVME, against the wall time).
#   benches/measure-upload.sh [SIZE_MIB]   (default 2048)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-2048}"
work=$(mktemp -d "${TMPDIR:-/tmp}/measure-upload.XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
cargo build --release -p permafrost-benches --example upload-measure -p fake-glacier --bin fake-glacier
bin="${CARGO_TARGET_DIR:-target}/release/examples/upload-measure"
fake="${CARGO_TARGET_DIR:-target}/release/fake-glacier"
head -c "$((size_mib << 20))" /dev/urandom >"$work/input.bin"
cat "$work/input.bin" >/dev/null # into the page cache
for c in 1 4; do
  out=$(/usr/bin/time -f 'peak_rss_kib=%M' "$bin" local "$work/input.bin" "$c" 16 2>&1)
  echo "$out" | tr '\n' ' '; echo
done
# The fake runs in its own process (it keeps archives in memory), fed by a
# FIFO that stays open until we are done; it is stopped by its PID.
for c in 1 4; do
  mkfifo "$work/in"
  "$fake" <"$work/in" >"$work/endpoint" &
  pid=$!
  exec 3>"$work/in"
  for _ in $(seq 100); do [ -s "$work/endpoint" ] && break; sleep 0.1; done
  out=$(GLACIER_ENDPOINT=$(head -1 "$work/endpoint") /usr/bin/time -f 'peak_rss_kib=%M' "$bin" fake "$work/input.bin" "$c" 16 2>&1)
  echo "$out" | tr '\n' ' '; echo
  exec 3>&-
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$work/in" "$work/endpoint"
done
# S3: moto in its own process (a Python server, so it is the slower side
# here), a fresh bucket per run, stopped by scripts/services/moto stop.
eval "$(scripts/services/moto start)"
trap 'scripts/services/moto stop; rm -rf "$work"' EXIT
for c in 1 4; do
  bucket="measure-$c-$$"
  curl -fsS -X PUT "$PERMAFROST_S3_ENDPOINT/$bucket" >/dev/null
  out=$(S3_ENDPOINT=$PERMAFROST_S3_ENDPOINT S3_BUCKET=$bucket /usr/bin/time -f 'peak_rss_kib=%M cpu_user_s=%U cpu_sys_s=%S' "$bin" s3 "$work/input.bin" "$c" 16 2>&1)
  echo "$out" | tr '\n' ' '; echo
done
