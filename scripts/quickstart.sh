#!/usr/bin/env bash
# The main job on a fresh machine: install, start the sandbox of real parts (Temporal, S3, SSH hosts
# that are Cassandra nodes), load sample data, start a worker and prove the chain
# (CLI → Temporal → worker) with `medusa check-worker`.
# The sandbox stays up afterwards; `npm run sandbox -- down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
[ -d node_modules ] || npm ci --no-audit --no-fund

npx tsx sandbox/cli.ts up >/dev/null
eval "$(npx tsx sandbox/cli.ts env)"
npx tsx sandbox/cli.ts load

npx tsx src/worker.ts >"$SANDBOX_DIR/worker.log" 2>&1 &
worker=$!
trap 'kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true' EXIT
node bin/medusa.js check-worker --timeout 60

cat <<MSG

The sandbox is running:
  Temporal Web UI   $SANDBOX_TEMPORAL_UI
  Temporal gRPC     $TEMPORAL_ADDRESS
  S3 (versitygw)    $SANDBOX_S3_ENDPOINT  bucket $SANDBOX_S3_BUCKET
  SSH hosts         $SANDBOX_SSH_HOSTS (port $SANDBOX_SSH_PORT, user root, key $SANDBOX_SSH_KEY)
  Cassandra         one node per SSH host, CQL on port 9042; try: ssh … root@127.0.0.2 nodetool status
  medusa.ini        $MEDUSA_CONFIG_FILE

Use it from a shell:   eval "\$(npm run -s sandbox -- env)"
Log into a host:       ssh -i \$SANDBOX_SSH_KEY -o UserKnownHostsFile=\$SANDBOX_SSH_KNOWN_HOSTS -p \$SANDBOX_SSH_PORT root@127.0.0.2
Stop it:               npm run sandbox -- down
MSG
