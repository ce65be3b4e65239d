/**
 * The determinism line is enforced by lint: code under src/workflows/ may not import Node
 * built-ins, I/O libraries or activity values, and no promise may float anywhere.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
// Linted as if it were this file's text (the file itself is clean; only the text given here is checked).
const workflowFile = join(root, 'src', 'workflows', 'check-worker.ts');
const activityFile = join(root, 'src', 'activities', 'describe-worker.ts');

/** Runs the project's ESLint (its own process: the flat config is an ES module) on `code` as `filePath`. */
async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--format', 'json', '--stdin', '--stdin-filename', filePath],
    { cwd: root, input: code, encoding: 'utf8' });
  const [result] = JSON.parse(r.stdout) as { messages: { ruleId: string; line: number }[] }[];
  return result.messages.map((m) => `${m.ruleId}:${m.line}`);
}

test('workflow code may not import Node built-ins, I/O libraries or activities as values', async () => {
  const code = [
    "import { readFileSync } from 'node:fs';",
    "import { Client } from 'ssh2';",
    "import { S3Client } from '@aws-sdk/client-s3';",
    "import { createActivities } from '../activities';",
    "import type { Activities } from '../activities';",
    'export const used: unknown[] = [readFileSync, Client, S3Client, createActivities];',
    'export type A = Activities;',
  ].join('\n');
  expect(await ruleIds(code, workflowFile)).toEqual([
    'no-restricted-imports:1', 'no-restricted-imports:2', 'no-restricted-imports:3', 'no-restricted-syntax:4',
  ]);
}, 60_000);

test('workflow code may not read the process environment', async () => {
  expect(await ruleIds('export const x = process.env.HOME;\n', workflowFile)).toEqual(['no-restricted-globals:1']);
}, 60_000);

test('the same imports are allowed in activities, but a floating promise is an error everywhere', async () => {
  const code = "import { readFileSync } from 'node:fs';\nexport function f(): void {\n  Promise.resolve(readFileSync);\n}\n";
  expect(await ruleIds(code, activityFile)).toEqual(['@typescript-eslint/no-floating-promises:3']);
}, 60_000);
