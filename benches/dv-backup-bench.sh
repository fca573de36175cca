# Shared by benches/measure-dv-backup-*.sh (sourced, not run): a Dataverse
# installation of N small files in a file store and its PostgreSQL database,
# a config.ini for it, and a run of dv-backup timed by /usr/bin/time -v.
#
# A script sources it after `set -euo pipefail`, then calls
#   bench_setup N BYTES_PER_FILE   temp dir $WORK (KEEP=1 keeps it), database
#                                  dvbench_<pid> (dropped at exit), release
#                                  build $BIN, the files under $WORK/files,
#                                  their total $BYTES
#   bench_config <<EOF ... EOF     writes $WORK/config.ini: [Database] and
#                                  [Repository] for the installation, then
#                                  the [Backup] section read from stdin
#   bench_run JOBS DEST_DIR        `dv-backup run -j JOBS`, its report, then
#                                  files, MB, wall, user, sys, files/s, MB/s
#                                  and peak RSS (of dv-backup only); DEST_DIR
#                                  is measured for the size at the destination.
#                                  WRAP="heaptrack -o FILE" (any command)
#                                  runs dv-backup under it, for a heap profile
# Needs PostgreSQL: eval "$(scripts/services/postgres start)" first.

cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${PERMAFROST_POSTGRES_HOST:?start PostgreSQL: eval \"\$(scripts/services/postgres start)\"}"
: "${PERMAFROST_POSTGRES_PORT:?start PostgreSQL: eval \"\$(scripts/services/postgres start)\"}"
PSQL=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | head -1)
[ -x "$PSQL" ] || PSQL=psql
DB=dvbench_$$
WORK=$(mktemp -d)
pg() { "$PSQL" -q -v ON_ERROR_STOP=1 -h "$PERMAFROST_POSTGRES_HOST" -p "$PERMAFROST_POSTGRES_PORT" -U postgres "$@"; }
bench_cleanup() {
  pg -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap bench_cleanup EXIT

bench_setup() {
  local n=$1 size=$2 datasets
  case "$n" in "" | *[!0-9]*) echo "N must be a whole number of files, not '$n'" >&2; exit 2 ;; esac
  case "$size" in "" | *[!0-9]*) echo "BYTES_PER_FILE must be a whole number, not '$size'" >&2; exit 2 ;; esac
  datasets=$(( n / 1000 > 0 ? n / 1000 : 1 ))
  N=$n

  echo "building dv-backup (release)" >&2
  cargo build -q --release --locked -p dv-backup
  # Where cargo put it (CARGO_TARGET_DIR, build.target-dir, or target/).
  BIN="$(cargo metadata -q --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/dv-backup"

  echo "making $n files of about $size bytes in $datasets datasets" >&2
  python3 - "$WORK" "$n" "$size" "$datasets" <<'EOF'
import hashlib, os, sys
work, n, size, datasets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
files = os.path.join(work, "files")
with open(os.path.join(work, "dvobject.tsv"), "w") as obj, open(os.path.join(work, "dataset.tsv"), "w") as ds, \
     open(os.path.join(work, "datafile.tsv"), "w") as df:
    for d in range(datasets):
        did = 10 + d
        obj.write(f"{did}\tDataset\t1\t2024-01-01 00:00:00\t2024-01-01 00:00:00\tdoi\t10.5072\tFK2/DS{d:05d}\t\\N\n")
        ds.write(f"{did}\t1\n")  # datasettype_id: the schema's one type, 'dataset'
        os.makedirs(os.path.join(files, "10.5072", f"FK2/DS{d:05d}"), exist_ok=True)
    first = 10 + datasets
    for i in range(n):
        fid = first + i
        d = i % datasets
        sid = f"18b3{i:08x}-{(i * 2654435761) % (1 << 48):012x}"
        body = (f"data file {i} of the benchmark; " * (size // 24 + 1)).encode()[: size // 2 + (i * 7919) % size]
        with open(os.path.join(files, "10.5072", f"FK2/DS{d:05d}", sid), "wb") as f:
            f.write(body)
        t = f"2024-01-01 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000000:06d}"
        obj.write(f"{fid}\tDataFile\t{10 + d}\t{t}\t{t}\t\\N\t\\N\t\\N\tfile://{sid}\n")
        df.write(f"{fid}\tMD5\t{hashlib.md5(body).hexdigest()}\tapplication/octet-stream\t{len(body)}\t-1\n")
EOF

  pg -d postgres -c "CREATE DATABASE $DB" >/dev/null
  pg -d "$DB" -f crates/dataverse-source/tests/dataverse-source/schema.sql >/dev/null
  pg -d "$DB" >/dev/null <<EOF
INSERT INTO dvobject (id, dtype, createdate, modificationtime) VALUES (1, 'Dataverse', '2020-01-01', '2020-01-01');
\copy dvobject (id, dtype, owner_id, createdate, modificationtime, protocol, authority, identifier, storageidentifier) FROM '$WORK/dvobject.tsv'
\copy dataset (id, datasettype_id) FROM '$WORK/dataset.tsv'
\copy datafile (id, checksumtype, checksumvalue, contenttype, filesize, rootdatafileid) FROM '$WORK/datafile.tsv'
SELECT setval('dvobject_id_seq', (SELECT max(id) FROM dvobject));
EOF
  BYTES=$(du -sb --apparent-size "$WORK/files" | cut -f1)
}

bench_config() {
  {
    cat <<EOF
[Database]
Host: $PERMAFROST_POSTGRES_HOST
Port: $PERMAFROST_POSTGRES_PORT
Database: $DB
Username: postgres

[Repository]
FileSystemDirectory: $WORK/files

[Backup]
EOF
    cat
  } >"$WORK/config.ini"
}

bench_run() {
  local jobs=$1 dest=$2
  sync
  echo "running dv-backup run -j $jobs" >&2
  local rc=0
  /usr/bin/time -v -o "$WORK/time.txt" ${WRAP:-} "$BIN" -c "$WORK/config.ini" -q run -j "$jobs" --no-email >"$WORK/report.txt" || rc=$?
  cat "$WORK/report.txt"
  if [ "$rc" != 0 ]; then
    echo "dv-backup run exited $rc (see the report above); no numbers for a failed run" >&2
    exit "$rc"
  fi
  python3 - "$WORK/time.txt" "$N" "$BYTES" "$(du -sb "$dest" | cut -f1)" <<'EOF'
import sys
t = {}
for line in open(sys.argv[1]):
    k, _, v = line.strip().rpartition(": ")
    t[k] = v
n, data, stored = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
w = t["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
rss = int(t["Maximum resident set size (kbytes)"]) / 1024
print(f"files: {n}  content: {data / 1e6:.1f} MB  at the destination: {stored / 1e6:.1f} MB")
print(f"wall {secs:.1f} s  user {t['User time (seconds)']} s  sys {t['System time (seconds)']} s")
print(f"{n / secs:.0f} files/s  {data / secs / 1e6:.2f} MB/s  peak RSS {rss:.1f} MiB")
EOF
}
