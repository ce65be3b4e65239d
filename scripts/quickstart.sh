#!/usr/bin/env bash
# The main job on a fresh machine: install and start the sandbox of real parts (Temporal dev
# server, S3 server, three SSH hosts that are Cassandra 5.0 nodes), load sample data, start a
# run a real `medusa backup` of node 127.0.0.2 to local storage in embedded mode, and list what it wrote.
# The sandbox stays up afterwards; `npm run sandbox -- down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
[ -d node_modules ] || npm ci --no-audit --no-fund

npx tsx sandbox/cli.ts up >/dev/null
eval "$(npx tsx sandbox/cli.ts env)"
npx tsx sandbox/cli.ts load

# As a user without a Temporal cluster would: nothing configured, so the command runs embedded — its own
# Temporal dev server with a persistent database in a state directory, and a worker in its own process.
name="quickstart-$(date +%Y%m%d%H%M%S)"
state="$SANDBOX_DIR/embedded-state"
env -u TEMPORAL_ADDRESS MEDUSA_STATE_DIR="$state" node bin/medusa.js --fqdn 127.0.0.2 backup --backup-name "$name"

bucket="$SANDBOX_DIR/storage/$SANDBOX_S3_BUCKET"
echo
echo "What the backup wrote under $bucket (Medusa's layout):"
(cd "$bucket" && find "127.0.0.2/$name" "index/backup_index/$name" index/latest_backup/127.0.0.2 -type f | sort)
echo "… and $(find "$bucket/127.0.0.2/data" -type f | wc -l) SSTable files in the node's differential pool, 127.0.0.2/data/."

cat <<MSG

The backup ran embedded: its workflow medusa-backup/$name/127.0.0.2 is kept in $state;
MEDUSA_STATE_DIR=$state npm run -s medusa -- worker   keeps that server up and prints its Web UI address.

The sandbox is running:
  Temporal Web UI   $SANDBOX_TEMPORAL_UI   (the sandbox's own server, used by the tests)
  Temporal gRPC     $TEMPORAL_ADDRESS
  S3 (versitygw)    $SANDBOX_S3_ENDPOINT  bucket $SANDBOX_S3_BUCKET
  SSH hosts         $SANDBOX_SSH_HOSTS (port $SANDBOX_SSH_PORT, user root, key $SANDBOX_SSH_KEY)
  Cassandra         one node per SSH host, CQL on port 9042
  medusa.ini        $MEDUSA_CONFIG_FILE

Use it from a shell:   eval "\$(npm run -s sandbox -- env)"
Run a worker:          npm run -s medusa -- worker
Back up a node:        npm run -s medusa -- --fqdn 127.0.0.3 backup --backup-name mine
List the backups:      npm run -s medusa -- list-backups --show-all     (verify, status, purge: see the README)
Log into a host:       ssh -i \$SANDBOX_SSH_KEY -o UserKnownHostsFile=\$SANDBOX_SSH_KNOWN_HOSTS -p \$SANDBOX_SSH_PORT root@127.0.0.2 nodetool status
Stop it:               npm run sandbox -- down
MSG
