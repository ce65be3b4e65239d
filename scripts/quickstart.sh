#!/usr/bin/env bash
# The main job on a fresh machine: install and start the sandbox of real parts (Temporal dev
# server, S3 server, three SSH hosts that are Cassandra 5.0 nodes), load sample data, start a
# worker, run a real `medusa backup` of node 127.0.0.2 to local storage, and list what it wrote.
# The sandbox stays up afterwards; `npm run sandbox -- down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
[ -d node_modules ] || npm ci --no-audit --no-fund

npx tsx sandbox/cli.ts up >/dev/null
eval "$(npx tsx sandbox/cli.ts env)"
npx tsx sandbox/cli.ts load

node bin/medusa.js worker >"$SANDBOX_DIR/worker.log" 2>&1 &
worker=$!
trap 'kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true' EXIT
node bin/medusa.js check-worker --timeout 60 >/dev/null

name="quickstart-$(date +%Y%m%d%H%M%S)"
node bin/medusa.js --fqdn 127.0.0.2 backup --backup-name "$name"

bucket="$SANDBOX_DIR/storage/$SANDBOX_S3_BUCKET"
echo
echo "What the backup wrote under $bucket (Medusa's layout):"
(cd "$bucket" && find "127.0.0.2/$name" "index/backup_index/$name" index/latest_backup/127.0.0.2 -type f | sort)
echo "… and $(find "$bucket/127.0.0.2/data" -type f | wc -l) SSTable files in the node's differential pool, 127.0.0.2/data/."

cat <<MSG

The sandbox is running:
  Temporal Web UI   $SANDBOX_TEMPORAL_UI   (workflow medusa-backup/$name/127.0.0.2)
  Temporal gRPC     $TEMPORAL_ADDRESS
  S3 (versitygw)    $SANDBOX_S3_ENDPOINT  bucket $SANDBOX_S3_BUCKET
  SSH hosts         $SANDBOX_SSH_HOSTS (port $SANDBOX_SSH_PORT, user root, key $SANDBOX_SSH_KEY)
  Cassandra         one node per SSH host, CQL on port 9042
  medusa.ini        $MEDUSA_CONFIG_FILE

Use it from a shell:   eval "\$(npm run -s sandbox -- env)"
Run a worker:          npm run -s medusa -- worker
Back up a node:        npm run -s medusa -- --fqdn 127.0.0.3 backup --backup-name mine
Log into a host:       ssh -i \$SANDBOX_SSH_KEY -o UserKnownHostsFile=\$SANDBOX_SSH_KNOWN_HOSTS -p \$SANDBOX_SSH_PORT root@127.0.0.2 nodetool status
Stop it:               npm run sandbox -- down
MSG
