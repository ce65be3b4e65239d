#!/usr/bin/env node
// The installed `medusa` command: the compiled CLI when built, else the TypeScript source through tsx.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// The AWS SDK's multi-line notice about Node 20 would bury the CLI's own one-line errors.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const compiled = join(__dirname, '..', 'dist', 'client.js');
if (!existsSync(compiled)) require('tsx/cjs');
const entry = existsSync(compiled) ? compiled : join(__dirname, '..', 'src', 'client.ts');
// Exit only once stdout has been written out: a pipe takes big outputs (list-backups --output json) in several writes.
require(entry).main(process.argv).then((code) => process.stdout.write('', () => process.exit(code)));
