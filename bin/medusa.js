#!/usr/bin/env node
// The installed `medusa` command: the compiled CLI when built, else the TypeScript source through tsx.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const compiled = join(__dirname, '..', 'dist', 'client.js');
if (!existsSync(compiled)) require('tsx/cjs');
const entry = existsSync(compiled) ? compiled : join(__dirname, '..', 'src', 'client.ts');
require(entry).main(process.argv).then((code) => process.exit(code));
