#!/usr/bin/env bash
# dv-backup, StorageType store: a run of N small files (default 100,000)
# from a Dataverse file store into a local Permafrost store, with files/s,
# MB/s and peak memory (/usr/bin/time -v).
#
# Usage: benches/measure-dv-backup-store.sh [N] [BYTES_PER_FILE] [JOBS]
#   needs PostgreSQL: eval "$(scripts/services/postgres start)" first.
#   Builds dv-backup --release (where cargo puts it). Everything is
#   made in a temp dir (KEEP=1 keeps it) and a database dvbench_<pid>,
#   dropped at the end (benches/dv-backup-bench.sh, shared with
#   measure-dv-backup-sftp.sh).
set -euo pipefail
. "$(dirname "$0")/dv-backup-bench.sh"
bench_setup "${1:-100000}" "${2:-2048}"
bench_config <<CONF
StorageType: store
StoreLocation: file://$WORK/store
Catalog: $WORK/catalog.sqlite
StatusFile: $WORK/status.sqlite
CONF
bench_run "${3:-4}" "$WORK/store"
