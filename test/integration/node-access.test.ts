/**
 * One conformance suite for the NodeAccess port, run against both adapters: SSH to sandbox host
 * 127.0.0.2 (a real OpenSSH sshd with MaxSessions 10 and a real Cassandra node) and local on this
 * machine. Files are planted through the host's private file system (hostPath) or the temp dir.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { hostPath } from '../../sandbox/parts/ssh-hosts';
import { loadSettings } from '../../sandbox/settings';
import { createLocalNodeAccess } from '../../src/nodes/local-node-access';
import { NodeAccess } from '../../src/nodes/node-access';
import { openSshNodeAccess, SshNodeAccess } from '../../src/nodes/ssh-node-access';
import { SshTarget } from '../../src/nodes/ssh/connect';
import { SshConnectError } from '../../src/nodes/ssh/errors';
import { sandbox, uniqueId } from '../support/env';

const HOST = '127.0.0.2';
const OTHER_HOST = '127.0.0.3';
const target = (host: string, extra: Partial<SshTarget> = {}): SshTarget => ({
  host, port: Number(sandbox('SANDBOX_SSH_PORT')), username: sandbox('SANDBOX_SSH_USER'),
  keyFile: sandbox('SANDBOX_SSH_KEY'), knownHostsFile: sandbox('SANDBOX_SSH_KNOWN_HOSTS'), ...extra,
});

/** Where an adapter's files live: `dir` as the node sees it, `here` the same directory on this machine. */
interface Fixture {
  dir: string;
  here: string;
  open(killGraceMs?: number): Promise<NodeAccess>;
}

const fixtures: Record<'ssh' | 'local', () => Fixture> = {
  ssh: () => {
    // Beside Cassandra's data, not inside data/, where a stray directory would look like a keyspace.
    const dir = `/var/lib/cassandra/${uniqueId('node-access')}`;
    return { dir, here: hostPath(loadSettings(), HOST, dir), open: (killGraceMs) => openSshNodeAccess(target(HOST), { killGraceMs }) };
  },
  local: () => {
    const dir = mkdtempSync(join(tmpdir(), 'node-access-'));
    return { dir, here: dir, open: async (killGraceMs) => createLocalNodeAccess('localhost', { killGraceMs }) };
  },
};

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `data` in uneven chunks (1 byte, then 7, then 100,003-byte pieces), as a network source delivers it. */
function unevenChunks(data: Buffer): Readable {
  const pieces = [data.subarray(0, 1), data.subarray(1, 8)];
  for (let at = 8; at < data.length; at += 100_003) pieces.push(data.subarray(at, at + 100_003));
  return Readable.from(pieces);
}

async function eventually(check: () => Promise<boolean> | boolean): Promise<boolean> {
  for (let i = 0; i < 30; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * True once no `sleep <seconds>` process is left on the node. The pattern is written `[s]leep`
 * so that it does not match the command line of the shell running pgrep.
 */
const sleepGone = (access: NodeAccess, seconds: string) => eventually(async () => (await access.exec(`pgrep -f '[s]leep ${seconds}'`)).code === 1);

/** For SSH: once the aborted channel is closed, its permit is back (6 free: one is kept for kills, the SFTP session holds one). */
const permitsBack = (access: NodeAccess) => eventually(() => !('freeChannels' in access) || (access as SshNodeAccess).freeChannels >= 6);

describe.each(['ssh', 'local'] as const)('NodeAccess over %s', (kind) => {
  const f = fixtures[kind]();
  const big = randomBytes(3 * 1024 * 1024);
  let access: NodeAccess;

  beforeAll(async () => {
    mkdirSync(f.here, { recursive: true });
    writeFileSync(join(f.here, 'big.db'), big);
    writeFileSync(join(f.here, 'small.txt'), 'hello node\n');
    access = await f.open();
  });
  afterAll(async () => {
    await access?.close();
    rmSync(f.here, { recursive: true, force: true });
  });

  test('exec separates stdout, stderr and the exit code, and gives the command an empty stdin', async () => {
    await expect(access.exec('echo out; echo err >&2; exit 3')).resolves.toEqual({ stdout: 'out\n', stderr: 'err\n', code: 3 });
    await expect(access.exec('cat; echo "$0"')).resolves.toEqual({ stdout: 'sh\n', stderr: '', code: 0 });
  });

  test('a command that is not found exits 127 with the reason on stderr', async () => {
    const r = await access.exec('no-such-command-medusa');
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/no-such-command-medusa.*not found/);
  });

  test('a command killed by a signal has code null and the signal name', async () => {
    await expect(access.exec('echo before; kill -TERM $$')).resolves.toEqual({ stdout: 'before\n', stderr: '', code: null, signal: 'SIGTERM' });
  });

  test('createReadStream reads a 3 MiB file byte-identical, from the start or from an offset', async () => {
    expect((await readAll(await access.createReadStream(`${f.dir}/big.db`))).equals(big)).toBe(true);
    const start = 1_234_567;
    expect((await readAll(await access.createReadStream(`${f.dir}/big.db`, { start }))).equals(big.subarray(start))).toBe(true);
    await expect(access.createReadStream(`${f.dir}/missing.db`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('stat gives size and whole-second mtime, and undefined for a missing path', async () => {
    const here = statSync(join(f.here, 'big.db'));
    await expect(access.stat(`${f.dir}/big.db`)).resolves.toEqual({ size: big.length, mtimeMs: Math.floor(here.mtimeMs / 1000) * 1000 });
    await expect(access.stat(`${f.dir}/missing.db`)).resolves.toBeUndefined();
    await expect(access.stat(`${f.dir}/no/such/dir`)).resolves.toBeUndefined();
  });

  test('readFile returns the content; a missing file rejects with ENOENT', async () => {
    await expect(access.readFile(`${f.dir}/small.txt`)).resolves.toEqual(Buffer.from('hello node\n'));
    await expect(access.readFile(`${f.dir}/missing.txt`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('writeFile creates missing directories, replaces atomically and leaves no temp file', async () => {
    const path = `${f.dir}/plans/new/backup.json`;
    await access.writeFile(path, '{"first":true}');
    await expect(access.readFile(path)).resolves.toEqual(Buffer.from('{"first":true}'));
    await access.writeFile(path, Buffer.from('{"second":true}'));
    await expect(access.readFile(path)).resolves.toEqual(Buffer.from('{"second":true}'));
    expect(readFileSync(join(f.here, 'plans/new/backup.json'), 'utf8')).toBe('{"second":true}');
    expect(readdirSync(join(f.here, 'plans/new'))).toEqual(['backup.json']);
  });

  test('writeStream writes a 3 MiB stream byte-identical, creating parents, replacing atomically, leaving no temp file', async () => {
    const path = `${f.dir}/download/ks/t-1/.idx/nb-1-big-Data.db`;
    await expect(access.writeStream(path, unevenChunks(big))).resolves.toBe(big.length);
    expect(readFileSync(join(f.here, 'download/ks/t-1/.idx/nb-1-big-Data.db')).equals(big)).toBe(true);
    const ino = statSync(join(f.here, 'download/ks/t-1/.idx/nb-1-big-Data.db')).ino;
    await expect(access.writeStream(path, Readable.from([Buffer.from('second')]))).resolves.toBe(6);
    await expect(access.readFile(path)).resolves.toEqual(Buffer.from('second'));
    // A rename, not an overwrite in place: readers never saw a half-written file.
    expect(statSync(join(f.here, 'download/ks/t-1/.idx/nb-1-big-Data.db')).ino).not.toBe(ino);
    await expect(access.writeStream(`${f.dir}/download/empty.db`, Readable.from([]))).resolves.toBe(0);
    await expect(access.stat(`${f.dir}/download/empty.db`)).resolves.toMatchObject({ size: 0 });
    expect(readdirSync(join(f.here, 'download/ks/t-1/.idx'))).toEqual(['nb-1-big-Data.db']);
  });

  test('writeStream from a failing source leaves neither the file nor a temp file, and keeps an older file', async () => {
    const fresh = `${f.dir}/failing/new.db`;
    const failing = (after: Buffer) => new Readable({
      read() {
        if (this.readableLength === 0 && !(this as { sent?: boolean }).sent) {
          (this as { sent?: boolean }).sent = true;
          this.push(after);
          setTimeout(() => this.destroy(new Error('storage connection reset')), 50);
        }
      },
    });
    await expect(access.writeStream(fresh, failing(big.subarray(0, 100_000)))).rejects.toThrow(/storage connection reset/);
    await expect(access.stat(fresh)).resolves.toBeUndefined();
    await access.writeFile(`${f.dir}/failing/old.db`, 'old content');
    await expect(access.writeStream(`${f.dir}/failing/old.db`, failing(big.subarray(0, 100_000)))).rejects.toThrow(/storage connection reset/);
    await expect(access.readFile(`${f.dir}/failing/old.db`)).resolves.toEqual(Buffer.from('old content'));
    expect(readdirSync(join(f.here, 'failing'))).toEqual(['old.db']);
  });

  test('an abort stops writeStream promptly with an AbortError, leaving no file and no temp file', async () => {
    const path = `${f.dir}/aborted/slow.db`;
    // A source that sends 64 KiB and then stalls, as a throttled download would.
    const stalled = new Readable({ read() { if (!(this as { sent?: boolean }).sent) { (this as { sent?: boolean }).sent = true; this.push(big.subarray(0, 65_536)); } } });
    const controller = new AbortController();
    const began = Date.now();
    const writing = access.writeStream(path, stalled, { signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await expect(writing).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - began).toBeLessThan(5000);
    expect(stalled.destroyed).toBe(true);
    await expect(access.stat(path)).resolves.toBeUndefined();
    expect(await eventually(() => readdirSync(join(f.here, 'aborted')).length === 0)).toBe(true);
    const already = new AbortController();
    already.abort();
    await expect(access.writeStream(`${f.dir}/aborted/never.db`, Readable.from([big]), { signal: already.signal })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(access.stat(`${f.dir}/aborted/never.db`)).resolves.toBeUndefined();
  });

  test('freeBytes gives the available bytes of the file system, as df reports them; ENOENT for a missing path', async () => {
    const free = await access.freeBytes(f.dir);
    const df = await access.exec(`df -PB1 ${f.dir} | tail -1`);
    const available = Number(df.stdout.trim().split(/\s+/)[3]);
    expect(free).toBeGreaterThan(0);
    // Other writers on the machine move it a little between the two readings.
    expect(Math.abs(free - available)).toBeLessThan(256 * 1024 * 1024);
    await expect(access.freeBytes(`${f.dir}/no/such/dir`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('an abort stops a running command promptly and kills its process group', async () => {
    const marker = `${30 + Math.random()}`.slice(0, 9);
    const controller = new AbortController();
    const began = Date.now();
    const running = access.exec(`sleep ${marker}; echo finished`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 500);
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - began).toBeLessThan(5000);
    expect(await sleepGone(access, marker)).toBe(true);
    expect(await permitsBack(access)).toBe(true);
  });

  test('a command that ignores SIGTERM is killed after the grace period', async () => {
    const quick = await f.open(300);
    try {
      const marker = `${40 + Math.random()}`.slice(0, 9);
      const controller = new AbortController();
      const running = quick.exec(`trap '' TERM; sleep ${marker}`, { signal: controller.signal });
      setTimeout(() => controller.abort(), 300);
      await expect(running).rejects.toMatchObject({ name: 'AbortError' });
      expect(await sleepGone(quick, marker)).toBe(true);
    } finally {
      await quick.close();
    }
  });

  test('an already aborted signal rejects without running the command', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(access.exec(`touch ${f.dir}/ran`, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(access.stat(`${f.dir}/ran`)).resolves.toBeUndefined();
  });

  test('20 concurrent commands and concurrent reads on one NodeAccess all succeed', async () => {
    const execs = Array.from({ length: 20 }, (_, i) => access.exec(`sleep 0.3; echo ${i}`));
    const reads = Array.from({ length: 4 }, async (_, i) => readAll(await access.createReadStream(`${f.dir}/big.db`, { start: i * 1000 })));
    const [results, contents, small] = await Promise.all([Promise.all(execs), Promise.all(reads), access.readFile(`${f.dir}/small.txt`)]);
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
    expect(results.every((r) => r.code === 0)).toBe(true);
    contents.forEach((c, i) => expect(c.equals(big.subarray(i * 1000))).toBe(true));
    expect(small.toString()).toBe('hello node\n');
    // Every exec channel is given back; only the SFTP session keeps its permit.
    if (kind === 'ssh') expect((access as SshNodeAccess).freeChannels).toBe(6);
  });
});

describe('NodeAccess over ssh only', () => {
  test('the node is the sandbox host itself, with its own Cassandra 5.0', async () => {
    const access = await openSshNodeAccess(target(HOST));
    try {
      await expect(access.exec('echo $SANDBOX_HOST')).resolves.toMatchObject({ stdout: `${HOST}\n`, code: 0 });
      const v = await access.exec('nodetool version');
      expect(v.code).toBe(0);
      expect(v.stdout).toMatch(/^ReleaseVersion: 5\.0/m);
    } finally {
      await access.close();
    }
  });

  test('a file planted on another host only is not visible through this one', async () => {
    const dir = `/var/lib/cassandra/${uniqueId('node-access-other')}`;
    const here = hostPath(loadSettings(), OTHER_HOST, dir);
    mkdirSync(here, { recursive: true });
    writeFileSync(join(here, 'only-there.txt'), 'other host');
    const [access, other] = await Promise.all([openSshNodeAccess(target(HOST)), openSshNodeAccess(target(OTHER_HOST))]);
    try {
      await expect(other.readFile(`${dir}/only-there.txt`)).resolves.toEqual(Buffer.from('other host'));
      await expect(access.stat(`${dir}/only-there.txt`)).resolves.toBeUndefined();
      await expect(access.exec(`test -e ${dir}/only-there.txt`)).resolves.toMatchObject({ code: 1 });
    } finally {
      await Promise.all([access.close(), other.close()]);
      rmSync(here, { recursive: true, force: true });
    }
  });

  test('fewer than 3 channels is refused: one is kept for kills and the SFTP session holds one', async () => {
    await expect(openSshNodeAccess(target(HOST), { maxChannels: 2 })).rejects.toBeInstanceOf(RangeError);
  });

  test('a dropped connection rejects the running command and later calls with SshConnectError', async () => {
    // A TCP relay we can cut; known_hosts names the relay's address with the host's key.
    const sockets: Socket[] = [];
    const relay = createServer((inbound) => {
      const outbound = new Socket().connect(Number(sandbox('SANDBOX_SSH_PORT')), HOST);
      sockets.push(inbound, outbound);
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('error', () => outbound.destroy());
      outbound.on('error', () => inbound.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const port = (relay.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'node-access-kh-'));
    const line = readFileSync(sandbox('SANDBOX_SSH_KNOWN_HOSTS'), 'utf8').split('\n').find((l) => l.startsWith(`[${HOST}]:`))!;
    writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${line.split(' ').slice(1).join(' ')}\n`);
    const access = await openSshNodeAccess(target('127.0.0.1', { port, knownHostsFile: join(dir, 'known_hosts') }));
    try {
      await expect(access.exec('echo $SANDBOX_HOST')).resolves.toMatchObject({ stdout: `${HOST}\n` });
      const running = access.exec('sleep 3; echo late');
      await new Promise((r) => setTimeout(r, 300));
      for (const s of sockets) s.destroy();
      await expect(running).rejects.toBeInstanceOf(SshConnectError);
      await expect(access.exec('true')).rejects.toBeInstanceOf(SshConnectError);
      await expect(access.readFile('/etc/hostname')).rejects.toBeInstanceOf(SshConnectError);
    } finally {
      await access.close();
      relay.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
