/**
 * Benchmark: how long the catalogue commands take on a big catalogue (issue 7: 1,000 backups × 3
 * nodes "takes seconds, not minutes"). Writes a synthetic catalogue into a fresh prefix of the
 * sandbox storage — every index entry Medusa writes per node backup, plus the meta manifest and
 * server_version each node backup has — then times the real CLI: list-backups, list-backups
 * --output json, status. Prints figures; asserts nothing.
 *
 *   eval "$(npm run -s sandbox -- env)"
 *   npx tsx scripts/bench-catalogue.ts [--backups 1000] [--storage local|s3] [--keep]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createActivityContext } from '../src/activities/context';
import { mapLimit } from '../src/catalogue/catalogue';
import { loadMedusaConfig } from '../src/config/medusa-config';
import { Layout } from '../src/plan/layout';

const { values } = parseArgs({ options: { backups: { type: 'string', default: '1000' }, storage: { type: 'string', default: 's3' }, keep: { type: 'boolean', default: false } } });
const backups = Number(values.backups);
const nodes = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const prefix = `bench${Date.now().toString(36)}`;

function ini(): string {
  const base = readFileSync(process.env.MEDUSA_CONFIG_FILE ?? '', 'utf8');
  let text = base.replace(/^\[storage\]$/m, `[storage]\nprefix = ${prefix}\nfqdn = ${nodes[0]}`);
  if (values.storage === 's3') {
    const endpoint = new URL(process.env.SANDBOX_S3_ENDPOINT ?? '');
    text = base.replace(/\[storage\][\s\S]*?(?=\n\[)/, `[storage]
storage_provider = s3_compatible
bucket_name = ${process.env.SANDBOX_S3_BUCKET}
host = ${endpoint.hostname}
port = ${endpoint.port}
secure = False
s3_addressing_style = path
region = ${process.env.SANDBOX_S3_REGION}
key_file = ${process.env.SANDBOX_S3_KEY_FILE}
prefix = ${prefix}
fqdn = ${nodes[0]}
`);
  }
  const file = join(mkdtempSync(join(tmpdir(), 'bench-')), 'medusa.ini');
  writeFileSync(file, text);
  return file;
}

function timeCli(file: string, args: string[]): { seconds: number; lines: number; code: number | null } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(__dirname, '..', 'bin', 'medusa.js'), '--config-file', file, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) process.stderr.write(r.stderr);
  return { seconds, lines: r.stdout.split('\n').length - 1, code: r.status };
}

async function main(): Promise<void> {
  const file = ini();
  const storage = createActivityContext(loadMedusaConfig(file), 'ssh').storage();
  const tokenmap = JSON.stringify(Object.fromEntries(nodes.map((n, i) => [n, { tokens: [i * 1000], is_up: true, rack: 'r1', dc: 'dc1' }])));
  const manifest = JSON.stringify([{ keyspace: 'ks', columnfamily: 't-0', objects: Array.from({ length: 20 }, (_, i) => ({ path: `x/${i}`, MD5: null, size: 1000 })) }]);
  const writes: [string, string][] = [];
  const t0 = Math.floor(Date.now() / 1000) - backups * 3600;
  for (let b = 0; b < backups; b++) {
    const name = `b${String(b).padStart(5, '0')}`;
    for (const n of nodes) {
      const l = new Layout(prefix, n);
      const started = t0 + b * 3600;
      writes.push([l.index(name, 'tokenmap'), tokenmap], [l.index(name, 'schema'), 'CREATE KEYSPACE ks;'], [l.index(name, 'differential'), 'differential'],
        [l.indexTimestamp(name, 'started', started), String(started)], [l.index(name, 'manifest'), manifest],
        [l.indexTimestamp(name, 'finished', started + 600), String(started + 600)],
        [l.meta(name, 'manifest.json'), manifest], [l.meta(name, 'server_version.json'), '{"server_type": "cassandra", "release_version": "5.0.8"}']);
    }
  }
  const w0 = Date.now();
  await mapLimit(writes, 64, async ([key, body]) => { await storage.putBytes(key, body); });
  process.stdout.write(`catalogue: ${backups} backups × ${nodes.length} nodes, ${writes.length} objects written to ${storage.description}/${prefix} in ${((Date.now() - w0) / 1000).toFixed(1)} s\n`);
  for (const args of [['list-backups'], ['list-backups', '--output', 'json'], ['status', '--backup-name', `b${String(backups - 1).padStart(5, '0')}`]]) {
    const r = timeCli(file, args);
    process.stdout.write(`medusa ${args.join(' ')}: ${r.seconds.toFixed(2)} s, ${r.lines} lines, exit ${r.code}\n`);
  }
  if (!values.keep) {
    const keys: string[] = [];
    for await (const o of storage.list(`${prefix}/`)) keys.push(o.key);
    await mapLimit(keys, 64, (k) => storage.delete(k));
  }
  await storage.close();
}

main().catch((err: Error) => {
  process.stderr.write(`bench-catalogue: ${err.message}\n`);
  process.exit(1);
});
