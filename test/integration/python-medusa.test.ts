/**
 * Interoperability with the real Python Medusa (PyPI cassandra-medusa, see test/support/python-medusa.ts), on the
 * sandbox:
 *  - our `backupCluster` writes a differential and then a full backup of the 3-node cluster, into local storage and
 *    into S3 (a prefix of their own each; the S3 full one with multipart objects); Python Medusa's `list-backups
 *    --show-all`, `status` (text and JSON), `fetch-tokenmap`, `get-last-complete-cluster-backup`, `download` and
 *    `verify` (and `verify --enable-md5-checks` on S3, where the manifest's MD5 is compared with the object's ETag)
 *    accept them and print what they print for a complete backup; a control shows the MD5 check does bite;
 *  - Python Medusa's own `medusa backup` runs on the sandbox nodes, inside their namespaces: after ours, it keeps
 *    the files of our pool; on its own, its catalogue commands see its backup; the snapshots it took are gone after.
 * The expected numbers (start and finish times, file counts and sizes) are computed here from what is in storage,
 * the way Medusa computes them (medusa/storage/cluster_backup.py, medusa/status.py), so a wrong index entry or
 * manifest shows up as a different line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CASSANDRA_VERSION } from '../../sandbox/settings';
import { Layout } from '../../src/plan/layout';
import { parseManifest } from '../../src/plan/manifest';
import { Storage } from '../../src/storage/storage';
import { backupCluster } from '../../src/workflows';
import { Harness, listKeys, sandboxConfig, startHarness, StorageKind } from '../support/backup-harness';
import { lines, medusa } from '../support/cli';
import { uniqueId } from '../support/env';
import { NODES, snapshotsLeft } from '../support/nodes';
import {
  backupWithPythonMedusa, CASSANDRA_MEDUSA_VERSION, clusterBackupWithPythonMedusa, MedusaWrittenBackup, pythonMedusa, pythonMedusaCommand,
  writePythonMedusaIni,
} from '../support/python-medusa';

let h: Harness;
beforeAll(async () => {
  pythonMedusaCommand();
  h = await startHarness();
}, 120_000);
afterAll(async () => h?.close());

/** Python's `datetime.fromtimestamp(epoch).strftime('%Y-%m-%d %H:%M:%S')`: local time, as Medusa prints it. */
function localTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Medusa's `format_bytes_str` (medusa/storage/__init__.py): binary units, `'{:.2f} {}'` (ties to even, as Python). */
function formatBytes(value: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let shift = 0;
  while (shift < units.length - 1 && Math.floor(value / 2 ** (shift * 10)) >= 1024) shift++;
  const d = BigInt(2 ** (shift * 10));
  const scaled = BigInt(value) * 100n;
  let q = scaled / d;
  const r2 = (scaled % d) * 2n;
  if (r2 > d || (r2 === d && q % 2n === 1n)) q += 1n;
  return `${q / 100n}.${String(q % 100n).padStart(2, '0')} ${units[shift]}`;
}

interface CatalogueEntry {
  name: string;
  started: number;
  finished: number;
  files: number;
  bytes: number;
  /** Manifest objects whose MD5 is a multipart ETag (`…-<parts>`). */
  multipart: number;
}

/** What Medusa reads for a cluster backup: earliest start and latest finish from the index, objects of every manifest. */
async function catalogueEntry(storage: Storage, prefix: string, name: string): Promise<CatalogueEntry> {
  const stamps = (await listKeys(storage, new Layout(prefix, NODES[0]).indexDir(name)))
    .map((k) => /(started|finished)_(.*)_([0-9]+)\.timestamp$/.exec(k)).filter((m): m is RegExpExecArray => m !== null);
  const of = (kind: string) => stamps.filter((m) => m[1] === kind).map((m) => Number(m[3]));
  expect(of('started')).toHaveLength(NODES.length);
  expect(of('finished')).toHaveLength(NODES.length);
  let files = 0;
  let bytes = 0;
  let multipart = 0;
  for (const n of NODES) {
    const manifest = parseManifest((await storage.getBytes(new Layout(prefix, n).meta(name, 'manifest.json')))!.toString());
    for (const o of manifest.flatMap((s) => s.objects)) {
      files++;
      bytes += o.size;
      if (o.MD5?.includes('-')) multipart++;
    }
  }
  return { name, started: Math.min(...of('started')), finished: Math.max(...of('finished')), files, bytes, multipart };
}

const STORAGES: StorageKind[] = ['local', 's3'];
const MULTIPART_THRESHOLD = 64 * 1024;

describe.each(STORAGES)(`our backups in %s storage, read by Python Medusa ${CASSANDRA_MEDUSA_VERSION}`, (kind) => {
  const prefix = uniqueId(`py${kind}`).replace(/-/g, '');
  const diff = `${prefix}-diff`;
  const full = `${prefix}-full`;
  let ini: string;
  let entries: CatalogueEntry[];
  let storage: Storage;

  beforeAll(async () => {
    for (const [backupName, mode] of [[diff, 'differential'], [full, 'full']] as const) {
      const config = sandboxConfig(kind, { prefix });
      // The S3 full backup sends every file of 64 KiB or more as a multipart upload (ETag `<md5 of part md5s>-1`).
      if (kind === 's3' && mode === 'full') config.storage.multiPartUploadThreshold = MULTIPART_THRESHOLD;
      const worker = await h.worker(config);
      storage = worker.storage;
      const r = await h.client.workflow.execute(backupCluster, {
        taskQueue: worker.taskQueue, workflowId: uniqueId('pycluster'), workflowExecutionTimeout: '10 minutes',
        args: [{ backupName, mode, seedTarget: NODES[0], prefix, parallelUploads: 3 }],
      });
      expect(r.nodes.map((n) => [n.fqdn, n.phase])).toEqual(NODES.map((n) => [n, 'finished']));
    }
    entries = [await catalogueEntry(storage, prefix, diff), await catalogueEntry(storage, prefix, full)];
    ini = writePythonMedusaIni({ storage: kind, prefix });
  }, 600_000);

  test('list-backups --show-all lists both backups, finished, in start order', async () => {
    const r = await pythonMedusa(ini, ['list-backups', '--show-all']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/ERROR|Traceback/) });
    expect(lines(r.stdout)).toEqual(entries.map((e) => `${e.name} (started: ${localTime(e.started)}, finished: ${localTime(e.finished)})`));
  });

  test.each([['differential', 0], ['full', 1]])('status of the %s backup: complete on 3 nodes, with its files and size', async (_mode, i) => {
    const e = entries[i];
    const r = await pythonMedusa(ini, ['status', '--backup-name', e.name]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/ERROR|Traceback/) });
    expect(lines(r.stdout)).toEqual([
      e.name,
      `- Started: ${localTime(e.started)}, Finished: ${localTime(e.finished)}`,
      '- 3 nodes completed, 0 nodes incomplete, 0 nodes missing',
      `- ${e.files} files, ${formatBytes(e.bytes)}`,
    ]);
    expect(e.files).toBeGreaterThan(100 * NODES.length);
  });

  test.each([['differential', 0], ['full', 1]])('status -o json of the %s backup: its type, every node with its server version', async (mode, i) => {
    const e = entries[i];
    const r = await pythonMedusa(ini, ['status', '--backup-name', e.name, '-o', 'json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { nodes: { fqdn: string; server_type: string; release_version: string; num_objects: number }[] };
    expect(j).toMatchObject({
      name: e.name, started: e.started, finished: e.finished, backup_type: mode, size: e.bytes, num_objects: e.files,
      completed_nodes: 3, incomplete_nodes: 0, incomplete_nodes_list: [], missing_nodes: 0, missing_nodes_list: [],
    });
    expect(j.nodes.map((n) => [n.fqdn, n.server_type, n.release_version]).sort()).toEqual(NODES.map((n) => [n, 'cassandra', CASSANDRA_VERSION]));
  });

  test('fetch-tokenmap prints every node with its tokens as in our tokenmap.json; the latest complete backup is the full one', async () => {
    const tokenmap = (await storage.getBytes(new Layout(prefix, NODES[0]).meta(diff, 'tokenmap.json')))!.toString();
    const expected = [...tokenmap.matchAll(/"([^"]+)": \{"tokens": (\[[^\]]*\])/g)].flatMap((m) => [m[1], m[2]]);
    expect(expected).toHaveLength(2 * NODES.length);
    const r = await pythonMedusa(ini, ['fetch-tokenmap', '--backup-name', diff]);
    expect({ code: r.code, stdout: lines(r.stdout) }).toEqual({ code: 0, stdout: expected });
    const last = await pythonMedusa(ini, ['get-last-complete-cluster-backup']);
    expect({ code: last.code, stdout: last.stdout }).toEqual({ code: 0, stdout: `${full}\n` });
  });

  test('download of a node\'s differential backup (--fqdn 127.0.0.3) fetches every manifest object, byte for byte', async () => {
    const layout = new Layout(prefix, NODES[1]);
    const dest = mkdtempSync(join(tmpdir(), 'python-medusa-download-'));
    try {
      const r = await pythonMedusa(ini, ['--fqdn', NODES[1], 'download', '--backup-name', diff, '--download-destination', dest]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/ERROR|Traceback/) });
      const manifestBytes = (await storage.getBytes(layout.meta(diff, 'manifest.json')))!;
      expect(readFileSync(join(dest, 'manifest.json'))).toEqual(manifestBytes);
      const objects = parseManifest(manifestBytes.toString()).flatMap((t) => t.objects);
      for (const o of objects) {
        const rel = o.path.slice(layout.dataRoot('differential', diff).length);
        expect({ rel, same: readFileSync(join(dest, rel)).equals((await storage.getBytes(o.path))!) }).toEqual({ rel, same: true });
      }
    } finally {
      rmSync(dest, { recursive: true, force: true });
    }
  });

  if (kind === 's3') {
    test('the S3 full backup holds multipart objects, the differential one none', () => {
      expect(entries[0].multipart).toBe(0);
      expect(entries[1].multipart).toBeGreaterThanOrEqual(NODES.length);
    });
  }

  const verifyArgs: [string, string[]][] = [['differential', []], ['full', []]];
  if (kind === 's3') verifyArgs.push(['differential', ['--enable-md5-checks']], ['full', ['--enable-md5-checks']]);
  test.each(verifyArgs)('verify of the %s backup %j: complete, every manifest object in storage as listed', async (mode, extra) => {
    const e = entries[mode === 'differential' ? 0 : 1];
    const r = await pythonMedusa(ini, ['verify', '--backup-name', e.name, ...extra]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/ERROR|WARNING|Traceback/) });
    expect(lines(r.stdout)).toEqual([`Validating ${e.name} ...`, '- Completion: OK!', '- Manifest validated: OK!!']);
  });

  if (kind === 'local') {
    test('a mixed catalogue: Python Medusa\'s differential backup of 127.0.0.2 after ours keeps the files of our pool', async () => {
      const ours = parseManifest((await storage.getBytes(new Layout(prefix, NODES[0]).meta(diff, 'manifest.json')))!.toString());
      const pool = new Set(ours.flatMap((t) => t.objects.map((o) => o.path)));
      const theirs = await backupWithPythonMedusa({ prefix, backupName: `${prefix}-py`, host: NODES[0], mode: 'differential' });
      const manifest = parseManifest((await storage.getBytes(new Layout(prefix, NODES[0]).meta(`${prefix}-py`, 'manifest.json')))!.toString());
      const kept = manifest.flatMap((t) => t.objects).filter((o) => pool.has(o.path)).length;
      expect(kept).toBeGreaterThan(100);
      expect(theirs.run.stderr).toContain(`INFO: - ${kept} kept from previous backup (${prefix}-py)\n`);
      // Our backups still verify with Medusa's new one beside them.
      const v = await pythonMedusa(ini, ['verify', '--backup-name', diff]);
      expect({ code: v.code, stdout: lines(v.stdout) }).toEqual({ code: 0, stdout: [`Validating ${diff} ...`, '- Completion: OK!', '- Manifest validated: OK!!'] });
    }, 180_000);
  }

  if (kind === 's3') {
    test('control: a Data.db rewritten with other bytes of the same size passes the size check and fails the MD5 check, by name', async () => {
      const manifest = parseManifest((await storage.getBytes(new Layout(prefix, NODES[1]).meta(diff, 'manifest.json')))!.toString());
      const victim = manifest.flatMap((t) => t.objects).find((o) => o.path.includes('/shop/') && o.path.endsWith('-Data.db'))!;
      const bytes = (await storage.getBytes(victim.path))!;
      await storage.putBytes(victim.path, Buffer.from(bytes.map((b) => b ^ 0xff)));
      const sizeOnly = await pythonMedusa(ini, ['verify', '--backup-name', diff]);
      expect(sizeOnly.code).toBe(0);
      const md5 = await pythonMedusa(ini, ['verify', '--backup-name', diff, '--enable-md5-checks']);
      expect({ code: md5.code, stdout: lines(md5.stdout) }).toEqual({
        code: 1, stdout: [`Validating ${diff} ...`, '- Completion: OK!', '- Manifest validation: Failed!', `  - [${victim.path}] Blob different`],
      });
    });
  }
});

describe(`Python Medusa ${CASSANDRA_MEDUSA_VERSION}'s own backups of the sandbox nodes (in order)`, () => {
  const prefix = uniqueId('pyown').replace(/-/g, '');
  const name = `${prefix}-own`;
  const TIME = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d';
  let first: MedusaWrittenBackup;

  test('medusa backup --mode differential on 127.0.0.2, inside its namespaces, exits 0 and leaves no snapshot', async () => {
    first = await backupWithPythonMedusa({ prefix, backupName: name, host: NODES[0], mode: 'differential' });
    expect(first.run.code).toBe(0);
    expect(first.run.stderr).toMatch(/INFO: Backup done: .* \((full|differential)\)\n/);
    expect(first.run.stderr).not.toMatch(/ERROR|Traceback/);
    expect(await snapshotsLeft(`medusa-${name}`)).toEqual([]);
  }, 180_000);

  test('its own list-backups and status see it: one node finished, the other two missing', async () => {
    const ls = await pythonMedusa(first.ini, ['list-backups', '--show-all']);
    expect(ls.code).toBe(0);
    expect(lines(ls.stdout)).toEqual([
      expect.stringMatching(new RegExp(`^${name} \\(started: ${TIME}, finished: Incomplete \\[1 of 3 nodes finished\\]\\)$`)),
      '',
      'Incomplete backups found. You can run "medusa status --backup-name <name>" for more details',
    ]);
    const st = await pythonMedusa(first.ini, ['status', '--backup-name', name]);
    expect(st.code).toBe(0);
    const out = lines(st.stdout);
    // Medusa prints its missing nodes from a Python set: in no fixed order.
    expect([...out.slice(0, 4), ...out.slice(4, 6).sort(), ...out.slice(6)]).toEqual([
      `${name} [Incomplete!]`,
      expect.stringMatching(new RegExp(`^- Started: ${TIME}, Finished: never$`)),
      '- 1 nodes completed, 0 nodes incomplete, 2 nodes missing',
      '- Missing nodes:',
      '    127.0.0.3',
      '    127.0.0.4',
      expect.stringMatching(/^- \d+ files, \d+\.\d\d (KB|MB)$/),
    ]);
    // Ours, with the very ini Medusa used, prints what Medusa prints (missing nodes sorted).
    const ourLs = await medusa(['--config-file', first.ini, 'list-backups', '--show-all']);
    expect({ code: ourLs.code, stdout: ourLs.stdout }).toEqual({ code: 0, stdout: ls.stdout });
    const ourSt = await medusa(['--config-file', first.ini, 'status', '--backup-name', name]);
    expect({ code: ourSt.code, stdout: ourSt.stdout.split('\n') }).toEqual({ code: 0, stdout: [...out.slice(0, 4), ...out.slice(4, 6).sort(), ...out.slice(6), ''] });
    const ourV = await medusa(['--config-file', first.ini, 'verify', '--backup-name', name]);
    expect({ code: ourV.code, stdout: lines(ourV.stdout) }).toEqual({
      code: 1, stdout: [`Validating ${name} ...`, '- Completion: Not complete!', '  - [127.0.0.3] Backup missing', '  - [127.0.0.4] Backup missing'],
    });
  }, 120_000);

  test('with the other two nodes backed up too, Medusa sees a complete cluster backup and verifies it', async () => {
    await clusterBackupWithPythonMedusa({ prefix, backupName: name, hosts: NODES.slice(1), mode: 'differential' });
    const ls = await pythonMedusa(first.ini, ['list-backups', '--show-all']);
    expect(ls.code).toBe(0);
    expect(lines(ls.stdout)).toEqual([expect.stringMatching(new RegExp(`^${name} \\(started: ${TIME}, finished: ${TIME}\\)$`))]);
    const st = await pythonMedusa(first.ini, ['status', '--backup-name', name]);
    expect(st.code).toBe(0);
    expect(lines(st.stdout)).toEqual([
      name,
      expect.stringMatching(new RegExp(`^- Started: ${TIME}, Finished: ${TIME}$`)),
      '- 3 nodes completed, 0 nodes incomplete, 0 nodes missing',
      expect.stringMatching(/^- \d+ files, \d+\.\d\d (KB|MB)$/),
    ]);
    const v = await pythonMedusa(first.ini, ['verify', '--backup-name', name]);
    expect({ code: v.code, stdout: lines(v.stdout) }).toEqual({ code: 0, stdout: [`Validating ${name} ...`, '- Completion: OK!', '- Manifest validated: OK!!'] });

    // Our commands on the catalogue Medusa wrote: the same listing and status, and verify (content read and hashed) passes.
    for (const args of [['list-backups', '--show-all'], ['status', '--backup-name', name], ['get-last-complete-cluster-backup']]) {
      const theirs = await pythonMedusa(first.ini, args);
      const ours = await medusa(['--config-file', first.ini, ...args]);
      expect({ args, code: ours.code, stdout: ours.stdout }).toEqual({ args, code: 0, stdout: theirs.stdout });
    }
    const theirsJson = JSON.parse((await pythonMedusa(first.ini, ['status', '--backup-name', name, '-o', 'json'])).stdout) as { nodes: { fqdn: string }[] };
    const oursJson = JSON.parse((await medusa(['--config-file', first.ini, 'status', '--backup-name', name, '-o', 'json'])).stdout) as { nodes: { fqdn: string }[] };
    const byFqdn = (j: { nodes: { fqdn: string }[] }) => ({ ...j, nodes: [...j.nodes].sort((a, b) => (a.fqdn < b.fqdn ? -1 : 1)) });
    expect(byFqdn(oursJson)).toEqual(byFqdn(theirsJson));
    expect(Object.keys(oursJson)).toEqual(Object.keys(theirsJson));
    const ourV = await medusa(['--config-file', first.ini, 'verify', '--backup-name', name, '--enable-md5-checks']);
    expect({ code: ourV.code, stdout: lines(ourV.stdout), stderr: ourV.stderr }).toEqual({
      code: 0, stdout: [`Validating ${name} ...`, '- Completion: OK!', '- Manifest validated: OK!!'], stderr: '',
    });
  }, 300_000);
});
