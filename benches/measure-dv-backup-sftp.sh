#!/usr/bin/env bash
# dv-backup, StorageType ssh: a run of N small files (default 100,000) from
# a Dataverse file store to SFTP (the sshd of scripts/services/sshd, on
# this machine), with files/s, MB/s and peak memory of dv-backup
# (/usr/bin/time -v; sshd and the remote commands not counted).
#
# Usage: [VERIFY=remote|readback] benches/measure-dv-backup-sftp.sh [N] [BYTES_PER_FILE] [JOBS]
#   VERIFY is [Backup] SshVerify: remote (default, as in dv-backup: md5sum
#   run on the host for each file, in one shell per connection, so the
#   user's startup files count once per connection) or readback (each copy
#   read back over SFTP).
#   needs PostgreSQL and sshd: eval "$(scripts/services/postgres start)"
#   and eval "$(scripts/services/sshd start)" first. Builds dv-backup
#   --release (where cargo puts it). Everything is made in a temp dir
#   (KEEP=1 keeps it; the SFTP copies go to its sftp/) and a database
#   dvbench_<pid>, dropped at the end (benches/dv-backup-bench.sh, shared
#   with measure-dv-backup-store.sh).
set -euo pipefail
: "${PERMAFROST_SSH_COMMAND:?start sshd: eval \"\$(scripts/services/sshd start)\"}"
# Port, key and known_hosts of the service, read from its ssh command.
read -r -a SSH_WORDS <<<"$PERMAFROST_SSH_COMMAND"
SSH_PORT='' SSH_KEY='' SSH_KNOWN_HOSTS='' SSH_TARGET=${SSH_WORDS[-1]}
for ((i = 0; i < ${#SSH_WORDS[@]}; i++)); do
  case "${SSH_WORDS[i]}" in
    -p) SSH_PORT=${SSH_WORDS[i + 1]} ;;
    -i) SSH_KEY=${SSH_WORDS[i + 1]} ;;
    UserKnownHostsFile=*) SSH_KNOWN_HOSTS=${SSH_WORDS[i]#UserKnownHostsFile=} ;;
  esac
done
if [ -z "$SSH_PORT" ] || [ -z "$SSH_KEY" ] || [ -z "$SSH_KNOWN_HOSTS" ] || [[ $SSH_TARGET != *@* ]]; then
  echo "PERMAFROST_SSH_COMMAND lacks -p PORT, -i KEY, UserKnownHostsFile= or USER@HOST: $PERMAFROST_SSH_COMMAND" >&2
  exit 2
fi

VERIFY=${VERIFY:-remote}
case "$VERIFY" in remote | readback) ;; *) echo "VERIFY must be remote or readback, not $VERIFY" >&2; exit 2 ;; esac

. "$(dirname "$0")/dv-backup-bench.sh"
bench_setup "${1:-100000}" "${2:-2048}"
mkdir "$WORK/sftp"
bench_config <<CONF
StorageType: ssh
SshHost: ${SSH_TARGET#*@}
SshPort: $SSH_PORT
SshUsername: ${SSH_TARGET%@*}
SshKey: $SSH_KEY
SshKnownHosts: $SSH_KNOWN_HOSTS
SshVerify: $VERIFY
BackupDirectory: $WORK/sftp
StatusFile: $WORK/status.sqlite
CONF
bench_run "${3:-4}" "$WORK/sftp"
