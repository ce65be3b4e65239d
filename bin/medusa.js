#!/usr/bin/env node
// The `medusa` command. Installed from the release artifact (npm install -g medusa-temporal-<v>.tgz) it runs the
// compiled JavaScript in dist/; in a checkout of the source, the TypeScript in src/ through tsx.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// A Node.js too old for the tool (a node's distribution package, say) fails in one line, not in a stack trace.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 17)) {
  process.stderr.write(`medusa: medusa-temporal needs Node.js 20.17 or later; ${process.execPath} is ${process.version}\n`);
  process.exit(1);
}
// The AWS SDK's multi-line notice about Node 20 would bury the CLI's own one-line errors.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const source = join(__dirname, '..', 'src', 'client.ts');
const inCheckout = existsSync(source);
if (inCheckout) require('tsx/cjs');
const entry = inCheckout ? source : join(__dirname, '..', 'dist', 'client.js');
// Exit only once stdout has been written out: a pipe takes big outputs (list-backups --output json) in several writes.
require(entry).main(process.argv).then((code) => process.stdout.write('', () => process.exit(code)));
