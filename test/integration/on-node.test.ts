/**
 * On a Cassandra node, the way a Medusa user runs it from cron: the installed tool (the release artifact the
 * sandbox puts on every host) runs inside a host's namespaces — its /etc/cassandra, data, hostname and
 * /etc/hosts — with a medusa.ini as a Python Medusa node has it: no [ssh] section, no fqdn, no Temporal
 * configured. It names the node as Python Medusa does, and `medusa backup` backs the node up through an
 * embedded Temporal server and an in-process worker that reads the node's files directly (no [ssh] key: any
 * attempt to log in anywhere would fail the command). Python Medusa 0.31 then lists and verifies those backups,
 * and a differential backup of ours after Python Medusa's own sends none of the SSTables it sent.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { hostName, HOST_DOMAIN } from '../../sandbox/parts/ssh-hosts';
import { parseManifest } from '../../src/plan/manifest';
import { CliRun } from '../support/cli';
import { sandbox, uniqueId } from '../support/env';
import { inHost, NODE_MEDUSA, NODES, onNode } from '../support/nodes';
import { pythonMedusa, pythonMedusaCommand, pythonMedusaOnNode, writePythonMedusaIni } from '../support/python-medusa';

jest.setTimeout(300_000);

const bucketDir = () => join(sandbox('SANDBOX_DIR'), 'storage', sandbox('SANDBOX_S3_BUCKET'));
const states = mkdtempSync(join(tmpdir(), 'on-node-state-'));

/** Our `medusa` on a host, as cron would start it there: no Temporal configured, so embedded, with the host's own state directory. */
function ours(host: string, ini: string, args: string[]): Promise<CliRun> {
  return inHost(host, ['env', '-u', 'TEMPORAL_ADDRESS', '-u', 'TEMPORAL_NAMESPACE', `MEDUSA_STATE_DIR=${join(states, host)}`,
    NODE_MEDUSA, '--config-file', ini, ...args], {}, tmpdir());
}

/** What Python Medusa's own configuration loading makes of `[storage] fqdn` on that host. */
async function pythonFqdn(host: string, ini: string): Promise<string> {
  const python = join(dirname(pythonMedusaCommand()), 'python');
  const code = 'import pathlib, sys\nfrom medusa.config import load_config\nprint(load_config({}, pathlib.Path(sys.argv[1])).storage.fqdn)';
  const r = await inHost(host, [python, '-c', code, ini]);
  if (r.code !== 0) throw new Error(`Python Medusa's load_config on ${host} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r.stdout.trim();
}

const manifestOf = (prefix: string, host: string, name: string) =>
  parseManifest(readFileSync(join(bucketDir(), prefix, host, name, 'meta', 'manifest.json'), 'utf8'));

test.each(NODES.map((host, i) => [host, i] as const))("on %s our default node name is Python Medusa's, with resolve_ip_addresses True and False", async (host, i) => {
  const prefix = uniqueId('names').replace(/-/g, '');
  for (const resolve of ['True', 'False'] as const) {
    const ini = writePythonMedusaIni({ storage: 'local', prefix, fqdn: null, noSsh: true, resolveIpAddresses: resolve });
    // report-last-backup, as cron runs it for monitoring, names the node it reports on.
    const r = await ours(host, ini, ['report-last-backup']);
    const name = /^Latest node backup of (\S+): none$/m.exec(r.stdout)?.[1];
    expect({ resolve, name }).toEqual({ resolve, name: await pythonFqdn(host, ini) });
    // And concretely: the address as in the token maps, or the host's name in its name service.
    expect(name).toBe(resolve === 'False' ? host : `${hostName(i)}.${HOST_DOMAIN}`);
  }
});

describe('medusa backup on the node itself', () => {
  const prefix = uniqueId('onnode').replace(/-/g, '');
  const name = uniqueId('cron');
  let ini: string;

  beforeAll(() => {
    ini = writePythonMedusaIni({ storage: 'local', prefix, fqdn: null, noSsh: true });
  });

  test('runs on every node from its own medusa.ini (no [ssh], no fqdn, no Temporal); Python Medusa 0.31 lists and verifies the backup', async () => {
    for (const host of NODES) {
      const r = await ours(host, ini, ['backup', '--backup-name', name]);
      expect({ host, code: r.code, stderr: r.stderr }).toEqual({ host, code: 0, stderr: expect.stringContaining('embedded Temporal server started') });
      expect(r.stdout).toMatch(new RegExp(`^backup ${name} of ${host.replace(/\./g, '\\.')} finished \\(differential\\)`));
      expect(manifestOf(prefix, host, name).length).toBeGreaterThan(0);
    }
    const verify = await pythonMedusa(ini, ['verify', '--backup-name', name]);
    expect({ code: verify.code, out: verify.stdout + verify.stderr }).toEqual({ code: 0, out: expect.stringContaining(name) });
    // Without --show-all Medusa lists the backups that include the node it computes for itself: ours is among them.
    const listed = await pythonMedusaOnNode('127.0.0.3', ini, ['list-backups']);
    expect(listed.code).toBe(0);
    expect(listed.stdout + listed.stderr).toContain(name);
    const snapshots = await onNode('127.0.0.3', `find /var/lib/cassandra/data -type d -path '*/snapshots/medusa-${name}'`);
    expect(snapshots.trim()).toBe('');
  });

  test('medusa download on a node, from the same medusa.ini: that node\'s backup lands in a directory of the node, checked', async () => {
    const host = '127.0.0.4';
    const dest = `/var/lib/cassandra/download-${name}`;
    await onNode(host, `mkdir -p ${dest}`);
    try {
      const r = await ours(host, ini, ['download', '--backup-name', name, '--download-destination', dest]);
      expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
      const objects = manifestOf(prefix, host, name).flatMap((t) => t.objects);
      const listed = (await onNode(host, `cd ${dest} && find . -type f -printf '%s %P\\n' | sort -k2`)).trim().split('\n');
      expect(listed.length).toBe(objects.length + 3);
      expect(listed).toEqual(expect.arrayContaining(['manifest.json', 'schema.cql', 'tokenmap.json'].map((f) => expect.stringMatching(new RegExp(` ${f}$`)))));
    } finally {
      await onNode(host, `rm -rf ${dest}`);
    }
  });

  test("after Python Medusa's own differential backup, ours sends none of the SSTables Medusa sent", async () => {
    const host = '127.0.0.3';
    const p2 = uniqueId('afterpy').replace(/-/g, '');
    const ini2 = writePythonMedusaIni({ storage: 'local', prefix: p2, fqdn: null, noSsh: true });
    const theirs = uniqueId('py');
    try {
      const py = await pythonMedusaOnNode(host, ini2, ['backup', '--backup-name', theirs, '--mode', 'differential']);
      expect({ code: py.code, err: py.code === 0 ? '' : py.stderr.slice(-2000) }).toEqual({ code: 0, err: '' });
    } finally {
      await onNode(host, `nodetool clearsnapshot -t medusa-${theirs}`);
    }
    const sentByMedusa = new Set(manifestOf(p2, host, theirs).flatMap((t) => t.objects.map((o) => o.path)));
    const before = Date.now() - 1000;
    const mine = uniqueId('ours');
    const r = await ours(host, ini2, ['backup', '--backup-name', mine]);
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
    const objects = manifestOf(p2, host, mine).flatMap((t) => t.objects.map((o) => o.path));
    const shared = objects.filter((k) => sentByMedusa.has(k));
    // Almost everything was there already (a node writes a few new system SSTables between two backups).
    expect(shared.length).toBeGreaterThan(objects.length * 0.8);
    const resent = shared.filter((k) => statSync(join(bucketDir(), k)).mtimeMs >= before);
    expect(resent).toEqual([]);
  });

  test('--fqdn naming another node, with no [ssh] to reach it: one line, exit 2, nothing written', async () => {
    const p3 = uniqueId('notme').replace(/-/g, '');
    const ini3 = writePythonMedusaIni({ storage: 'local', prefix: p3, fqdn: null, noSsh: true });
    const r = await ours('127.0.0.3', ini3, ['--fqdn', '127.0.0.2', 'backup', '--backup-name', 'x1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^medusa: --fqdn 127\.0\.0\.2 is not this host \(127\.0\.0\.3\) and .* has no \[ssh\] key_file to reach it: run the command on 127\.0\.0\.2, or configure \[ssh\]\n$/);
    expect(() => statSync(join(bucketDir(), p3))).toThrow();
  });
});
