#!/usr/bin/env bash
# The main job on a fresh machine: install and start the sandbox of real parts (Temporal dev server, S3 server,
# three SSH hosts that are Cassandra 5.0 nodes with this tool installed), load sample data, then — as a user
# without a Temporal cluster would — run a real `medusa backup-cluster` of the whole sandbox cluster in embedded
# mode, list the backups and verify it. The sandbox stays up afterwards; `npm run sandbox -- down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
[ -d node_modules ] || npm ci --no-audit --no-fund

npx tsx sandbox/cli.ts up >/dev/null
eval "$(npx tsx sandbox/cli.ts env)"
npx tsx sandbox/cli.ts load

# Nothing configured, so the command runs embedded: its own Temporal dev server with a persistent database in a
# state directory, and a worker in its own process, which logs into each node and starts the tool installed there
# to move that node's files straight into storage.
name="quickstart-$(date +%Y%m%d%H%M%S)"
state="$SANDBOX_DIR/embedded-state"
medusa() { env -u TEMPORAL_ADDRESS MEDUSA_STATE_DIR="$state" node bin/medusa.js "$@"; }
medusa backup-cluster --backup-name "$name" --seed-target 127.0.0.2 --parallel-uploads 3
echo
medusa list-backups --show-all
medusa verify --backup-name "$name"

bucket="$SANDBOX_DIR/storage/$SANDBOX_S3_BUCKET"
echo
echo "What the backup wrote under $bucket (Medusa's layout), for each node:"
for node in ${SANDBOX_SSH_HOSTS//,/ }; do
  echo "  $node/$name/meta/: $(ls "$bucket/$node/$name/meta" | tr '\n' ' ')"
  echo "  $node/data/: $(find "$bucket/$node/data" -type f | wc -l) SSTable files in the node's differential pool"
done
echo "  index/backup_index/$name/: $(ls "$bucket/index/backup_index/$name" | wc -l) index entries"

cat <<MSG

The backup ran embedded: its workflow medusa-backup-cluster/$name (one child per node) is kept in $state;
MEDUSA_STATE_DIR=$state npm run -s medusa -- worker   keeps that server up and prints its Web UI address.

The sandbox is running:
  Temporal Web UI   $SANDBOX_TEMPORAL_UI   (the sandbox's own server, used by the tests)
  Temporal gRPC     $TEMPORAL_ADDRESS
  S3 (versitygw)    $SANDBOX_S3_ENDPOINT  bucket $SANDBOX_S3_BUCKET
  SSH hosts         $SANDBOX_SSH_HOSTS (port $SANDBOX_SSH_PORT, user root, key $SANDBOX_SSH_KEY); medusa installed on each
  Cassandra         one node per SSH host, CQL on port 9042
  medusa.ini        $MEDUSA_CONFIG_FILE

Use it from a shell:   eval "\$(npm run -s sandbox -- env)"
Run a worker:          npm run -s medusa -- worker
Back up a node:        npm run -s medusa -- --fqdn 127.0.0.3 backup --backup-name mine
List the backups:      npm run -s medusa -- list-backups --show-all     (verify, status, purge: see the README)
Log into a host:       ssh -i \$SANDBOX_SSH_KEY -o UserKnownHostsFile=\$SANDBOX_SSH_KNOWN_HOSTS -p \$SANDBOX_SSH_PORT root@127.0.0.2 medusa --config-file $MEDUSA_CONFIG_FILE list-backups
Stop it:               npm run sandbox -- down
MSG
