#!/usr/bin/env bash
# Builds the release artifact: <out>/medusa-temporal-<version>.tgz (default out: release/), an npm package of
# compiled JavaScript for Linux (x86_64 and aarch64) (no TypeScript compiler at start) with its production dependencies bundled, so that a
# Cassandra node without access to a registry installs it with one command:
#   npm install -g ./medusa-temporal-<version>.tgz
# The workflows are bundled ahead of time as well (dist/workflow-bundle.js), so an embedded command starts its
# worker without webpack. Prints the artifact's path.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$(mkdir -p "${1:-release}" && cd "${1:-release}" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/medusa-release.XXXXXX")
trap 'rm -rf "$stage"' EXIT

npx tsc -p tsconfig.build.json --outDir "$stage/dist"
cp -r bin README.md package-lock.json "$stage/"
# The package as published: what runs it, all of it bundled; nothing that builds or tests it.
node -e '
  const p = require(process.argv[1]);
  const out = {
    name: p.name, version: p.version, description: p.description, license: p.license, private: true,
    bin: p.bin, engines: p.engines, files: ["bin", "dist", "README.md"],
    dependencies: p.dependencies, devDependencies: p.devDependencies, bundleDependencies: Object.keys(p.dependencies),
  };
  require("fs").writeFileSync(process.argv[2], JSON.stringify(out, null, 2) + "\n");
' "$root/package.json" "$stage/package.json"
(cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
# Cassandra nodes run Linux: the Temporal core's binaries for other systems and its Rust sources stay out (~90 MB).
bridge="$stage/node_modules/@temporalio/core-bridge"
find "$bridge/releases" -mindepth 1 -maxdepth 1 -type d ! -name '*-unknown-linux-gnu' -exec rm -rf {} +
rm -rf "$bridge/sdk-core"
(cd "$stage" && node -e '
  require("@temporalio/worker").bundleWorkflowCode({ workflowsPath: require.resolve("./dist/workflows"), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } })
    .then((b) => require("fs").writeFileSync("dist/workflow-bundle.js", b.code), (e) => { console.error(e); process.exit(1); });
')
(cd "$stage" && npm pack --silent --pack-destination "$out" >/dev/null)
version=$(node -p 'require("./package.json").version')
echo "$out/medusa-temporal-$version.tgz"
