/**
 * The node steps of a restore, each one idempotent so that a retry after a worker crash picks up
 * where the last attempt stopped:
 *
 * - prepareRestore: read the node's cassandra.yaml, create the restore's own directory — next to the
 *   data directory by default, so that putting files in place is a rename on the same file system
 *   and nothing is copied twice (Medusa downloads to /tmp and then moves across file systems).
 * - stopCassandra: `nodetool drain` (best effort: a drained node has nothing in its commitlog to
 *   replay), Medusa's `stop_cmd`, then wait until CQL is closed and no process of this host holds a
 *   file of the data or commitlog directory open.
 * - swapTables (offline): per downloaded table, the live table's files go to `previous/` and the
 *   downloaded ones take their place; `snapshots/` and `backups/` stay where they are (Medusa removes
 *   the whole table directory, snapshots included). The commitlog and saved caches are set aside too.
 * - startCassandra / waitForCassandra: Medusa's `start_cmd`, then wait until the node answers CQL.
 * - importTables (online): `nodetool import` of each downloaded table into the running node.
 * - cleanupRestore: remove the restore's directory (the replaced files with it).
 *
 * The replaced files are kept in `previous/` until the node is back, so a restore that fails half-way
 * never loses what was there.
 */
import { sleep } from '@temporalio/activity';
import { step } from '../step-context';
import { ApplicationFailure } from '@temporalio/common';
import { CassandraConfig } from '../../config/medusa-config';
import { NodeAccess, shellQuote } from '../../nodes/node-access';
import { tableName } from '../../plan/download';
import { nodetool, readCassandraYaml } from '../backup/node-commands';
import { ActivityContext } from '../context';
import { cqlClient } from '../cql';
import { classify } from '../failures';
import {
  ImportResult, NodeStepRequest, PinTokensRequest, PrepareRestoreRequest, RestoreLayout, SwapRequest, SwapResult, VerifyRestoreResult, WaitNodeRequest,
} from './types';

/** Directories are `<ks>/<table>-<32 hex id>`: anything else found in a download is not restored. */
const TABLE_DIR = /^[A-Za-z0-9_]+\/[A-Za-z0-9_]+-[0-9a-f]{32}$/;
/** A node's identity (host id, tokens, what it knows of its peers): never copied onto another host. */
const IDENTITY_TABLE = /^system\/(local|peers|peers_v2)-[0-9a-f]{32}$/;

/** cassandra.yaml with its top-level `key:` lines replaced (or added at the end), everything else as it was. */
export function setYamlKeys(text: string, values: Record<string, string>): string {
  let out = text.endsWith('\n') || text === '' ? text : `${text}\n`;
  for (const [key, value] of Object.entries(values)) {
    const line = new RegExp(`^${key}:.*$`, 'm');
    out = line.test(out) ? out.replace(line, `${key}: ${value}`) : `${out}${key}: ${value}\n`;
  }
  return out;
}

function parentOf(dir: string): string {
  const at = dir.replace(/\/+$/, '').lastIndexOf('/');
  return at <= 0 ? '/' : dir.slice(0, at);
}

/** Runs a shell script on the node (with sudo when the configuration says so); fails with its own error text. */
async function run(node: NodeAccess, sudo: boolean, script: string, what: string): Promise<string> {
  const r = await node.exec(sudo ? `sudo -n sh -c ${shellQuote(script)}` : script);
  if (r.code !== 0) {
    const text = (r.stderr.trim() || r.stdout.trim() || `exit status ${String(r.code ?? r.signal)}`).split('\n').slice(-3).join(' | ');
    throw new Error(`${what} failed: ${text}`);
  }
  return r.stdout;
}

/** True when something accepts connections at address:port, tested from the node itself. */
async function cqlPortOpen(node: NodeAccess, address: string, port: number): Promise<boolean> {
  const r = await node.exec(`timeout 5 bash -c ${shellQuote(`exec 3<>/dev/tcp/${address}/${port}`)} 2>/dev/null`);
  return r.code === 0;
}

/**
 * Processes of this host (same mount namespace as the command) that have a file under one of `dirs`
 * open. Without the rights to look at other users' processes this sees fewer, never more.
 */
async function processesHolding(node: NodeAccess, sudo: boolean, dirs: string[]): Promise<string[]> {
  const pattern = dirs.map((d) => `${d.replace(/\/+$/, '')}/*`).map(shellQuote).join(' ');
  const script = `me=$(readlink /proc/self/ns/mnt)
for p in /proc/[0-9]*; do
  [ "$(readlink $p/ns/mnt 2>/dev/null)" = "$me" ] || continue
  for f in $p/fd/*; do
    t=$(readlink "$f" 2>/dev/null) || continue
    for d in ${pattern}; do case "$t" in $d) echo "\${p#/proc/}"; break 2 ;; esac; done
  done
done | sort -u`;
  return (await run(node, sudo, script, 'looking for processes using the data directory')).split('\n').filter((l) => /^\d+$/.test(l) && l !== '');
}

async function withNode<T>(ctx: ActivityContext, fqdn: string, step: string, fn: (node: NodeAccess) => Promise<T>): Promise<T> {
  return classify(fqdn, step, async () => {
    const node = await ctx.openNode(fqdn);
    try {
      return await fn(node);
    } finally {
      await node.close();
    }
  });
}

/** Polls `ready` every 2 s, heartbeating, until it holds or `timeoutSeconds` pass; then fails with `failure`. */
async function waitUntil(ready: () => Promise<boolean>, timeoutSeconds: number, failure: () => ApplicationFailure): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    if (await ready()) return;
    if (Date.now() > deadline) throw failure();
    step().heartbeat();
    await sleep(2000);
  }
}

export function makeNodeRestoreActivities(ctx: ActivityContext) {
  const sudo = () => ctx.config.storage.useSudoForRestore;
  const c = (): CassandraConfig => ctx.config.cassandra;

  return {
    async prepareRestore(r: PrepareRestoreRequest): Promise<RestoreLayout> {
      return withNode(ctx, r.fqdn, 'prepare the restore', async (node) => {
        const yaml = await readCassandraYaml(node, c().configFile);
        const base = r.tempDir ? r.tempDir.replace(/(.)\/+$/, '$1') : parentOf(yaml.dataDir);
        const stagingDir = `${base}/medusa-restore-${r.runKey}`;
        const downloadDir = `${stagingDir}/download`;
        await run(node, sudo(), `mkdir -p ${shellQuote(downloadDir)} ${shellQuote(`${stagingDir}/previous`)}`, `creating ${stagingDir}`);
        if (sudo()) {
          // The download runs as the SSH (or worker) user: it must be able to write there.
          await run(node, true, `chown -R "$SUDO_UID:$SUDO_GID" ${shellQuote(stagingDir)}`, `handing ${stagingDir} to the restoring user`);
        }
        return {
          fqdn: r.fqdn, dataDir: yaml.dataDir, commitlogDir: yaml.commitlogDir, savedCachesDir: yaml.savedCachesDir, stagingDir, downloadDir,
          rpcAddress: yaml.rpcAddress ?? '127.0.0.1', nativePort: yaml.nativePort,
        };
      });
    },

    async stopCassandra(r: WaitNodeRequest): Promise<void> {
      const { layout } = r;
      await withNode(ctx, layout.fqdn, 'stop Cassandra', async (node) => {
        if (await cqlPortOpen(node, layout.rpcAddress, layout.nativePort)) {
          // A drained node has flushed everything and has nothing to replay; a failure here is not fatal (stop_cmd still stops it).
          await nodetool(node, c(), c().useSudo, ['drain']).catch(() => undefined);
        }
        step().heartbeat();
        const stop = await node.exec(c().stopCmd);
        if (stop.code !== 0) {
          throw new Error(`stop_cmd \`${c().stopCmd}\` exited ${String(stop.code ?? stop.signal)}: ${(stop.stderr.trim() || stop.stdout.trim()).split('\n').slice(-2).join(' | ')}`);
        }
        let holders: string[] = [];
        await waitUntil(async () => {
          if (await cqlPortOpen(node, layout.rpcAddress, layout.nativePort)) return false;
          holders = await processesHolding(node, sudo(), [layout.dataDir, layout.commitlogDir]);
          return holders.length === 0;
        }, r.timeoutSeconds, () => ApplicationFailure.nonRetryable(
          `${layout.fqdn}: Cassandra is still running ${r.timeoutSeconds} s after stop_cmd \`${c().stopCmd}\``
          + `${holders.length ? ` (processes ${holders.join(', ')} hold files in ${layout.dataDir})` : ` (${layout.rpcAddress}:${layout.nativePort} still answers)`}; nothing was changed on the node`,
          'NodeDidNotStop',
        ));
      });
    },

    async swapTables(r: SwapRequest): Promise<SwapResult> {
      const { layout } = r;
      return withNode(ctx, layout.fqdn, 'put the restored files in place', async (node) => {
        const found = await run(node, false, `cd ${shellQuote(layout.downloadDir)} && find . -mindepth 2 -maxdepth 2 -type d -printf '%P\\n'`, `listing ${layout.downloadDir}`);
        const notRestored = (t: string) => r.otherHost !== undefined && (IDENTITY_TABLE.test(t) || (r.otherHost.keepAuth && t.startsWith('system_auth/')));
        const tables = found.split('\n').filter((t) => TABLE_DIR.test(t) && !notRestored(t)).sort();
        const q = shellQuote;
        let files = 0;
        if (r.otherHost) {
          // The target's own identity goes aside too: without a saved system.local it starts as a new
          // member of its ring and takes the tokens of cassandra.yaml (pinned to the source's).
          const aside = `${layout.stagingDir}/previous/system`;
          await run(node, sudo(), `mkdir -p ${q(aside)} && for d in ${q(layout.dataDir)}/system/local-* ${q(layout.dataDir)}/system/peers-* ${q(layout.dataDir)}/system/peers_v2-*; do `
            + `if [ -d "$d" ]; then mv -- "$d" ${q(aside)}/; fi; done`, 'setting the node\'s identity aside');
        }
        for (const t of tables) {
          const from = `${layout.downloadDir}/${t}`;
          const live = `${layout.dataDir}/${t}`;
          const aside = `${layout.stagingDir}/previous/${t}`;
          // Everything of the live table but its snapshots and incremental backups goes aside (once: the
          // marker says it is done, so a retry never sets restored files aside), then the downloaded files
          // (2i sub-directories included) move in; the downloaded directory goes last, so a retry finds
          // either the work still to do or nothing.
          const script = `set -e
mkdir -p ${q(live)} ${q(aside)}
if [ ! -e ${q(`${aside}/.medusa-set-aside`)} ]; then
  find ${q(live)} -mindepth 1 -maxdepth 1 ! -name snapshots ! -name backups -exec mv -t ${q(aside)} -- {} +
  touch ${q(`${aside}/.medusa-set-aside`)}
fi
find ${q(from)} -mindepth 1 -maxdepth 1 -exec mv -t ${q(live)} -- {} +
chown -R --reference=${q(layout.dataDir)} ${q(live)}
rmdir ${q(from)}
find ${q(live)} -type f ! -path '*/snapshots/*' ! -path '*/backups/*' | wc -l`;
          files += Number((await run(node, sudo(), script, `restoring ${t}`)).trim() || 0);
          step().heartbeat();
        }
        if (r.clearCommitlog) {
          for (const [dir, name] of [[layout.commitlogDir, 'commitlog'], [layout.savedCachesDir, 'saved_caches']]) {
            const aside = `${layout.stagingDir}/previous-${name}`;
            await run(node, sudo(), `mkdir -p ${q(aside)} && if [ -d ${q(dir)} ]; then find ${q(dir)} -mindepth 1 -maxdepth 1 -exec mv -t ${q(aside)} -- {} +; fi`, `setting ${dir} aside`);
          }
        }
        return { tables, files };
      });
    },

    /** Onto another host: cassandra.yaml gets the source's tokens (the original is kept in the restore directory). */
    async pinTokens(r: PinTokensRequest): Promise<void> {
      const { layout } = r;
      await withNode(ctx, layout.fqdn, 'pin the tokens', async (node) => {
        if (r.tokens.length === 0 || !r.tokens.every((t) => /^-?\d+$/.test(t))) throw ApplicationFailure.nonRetryable(`bad tokens for ${layout.fqdn}: ${r.tokens.join(',')}`, 'BadInput');
        const file = c().configFile;
        const kept = `${layout.stagingDir}/cassandra.yaml.before-restore`;
        // The original is saved once: a retry must not save the already pinned file over it.
        if (!(await node.stat(kept))) await node.writeFile(kept, await node.readFile(file));
        const text = (await node.readFile(kept)).toString('utf8');
        const pinned = setYamlKeys(text, { initial_token: `'${r.tokens.join(',')}'`, num_tokens: String(r.tokens.length), auto_bootstrap: 'false' });
        const next = `${layout.stagingDir}/cassandra.yaml.pinned`;
        await node.writeFile(next, pinned);
        // cp over the existing file keeps its owner and mode.
        await run(node, sudo(), `cp -- ${shellQuote(next)} ${shellQuote(file)}`, `writing ${file}`);
      });
    },

    async startCassandra(r: WaitNodeRequest): Promise<void> {
      const { layout } = r;
      await withNode(ctx, layout.fqdn, 'start Cassandra', async (node) => {
        if (!(await cqlPortOpen(node, layout.rpcAddress, layout.nativePort))) {
          const start = await node.exec(c().startCmd);
          if (start.code !== 0) {
            throw ApplicationFailure.nonRetryable(
              `${layout.fqdn}: start_cmd \`${c().startCmd}\` exited ${String(start.code ?? start.signal)}: ${(start.stderr.trim() || start.stdout.trim()).split('\n').slice(-2).join(' | ')}; `
              + `the restored files are in place, the replaced ones in ${layout.stagingDir}/previous`, 'NodeDidNotStart');
          }
        }
        await waitUntil(() => cqlPortOpen(node, layout.rpcAddress, layout.nativePort), r.timeoutSeconds, () => ApplicationFailure.nonRetryable(
          `${layout.fqdn}: Cassandra did not answer CQL on ${layout.rpcAddress}:${layout.nativePort} within ${r.timeoutSeconds} s of start_cmd \`${c().startCmd}\` `
          + `(read its system.log); the restored files are in place, the replaced ones in ${layout.stagingDir}/previous`, 'NodeDidNotStart'));
        // CQL answers before the node has rejoined the ring: wait until it sees itself Up/Normal.
        await waitUntil(async () => {
          const s = await nodetool(node, c(), c().useSudo, ['statusbinary']).catch(() => undefined);
          return s?.stdout.trim() === 'running';
        }, r.timeoutSeconds, () => ApplicationFailure.nonRetryable(`${layout.fqdn}: Cassandra's native transport is not running ${r.timeoutSeconds} s after start`, 'NodeDidNotStart'));
      });
    },

    /** After an offline restore: this node sees every member of its ring Up/Normal (so the cluster serves at any consistency). */
    async waitForRing(r: WaitNodeRequest): Promise<void> {
      const { layout } = r;
      await withNode(ctx, layout.fqdn, 'wait for the ring', async (node) => {
        let last = '';
        await waitUntil(async () => {
          const out = await nodetool(node, c(), c().useSudo, ['status']).catch(() => undefined);
          if (!out) return false;
          const members = out.stdout.split('\n').filter((l) => /^[UD][NLJM]\s/.test(l));
          last = members.filter((l) => !l.startsWith('UN')).map((l) => l.split(/\s+/).slice(0, 2).join(' ')).join(', ');
          return members.length > 0 && last === '';
        }, r.timeoutSeconds, () => ApplicationFailure.nonRetryable(
          `${layout.fqdn}: the ring is not all Up/Normal ${r.timeoutSeconds} s after the restore (${last || 'nodetool status failed'}); the restored nodes are running`, 'NodeDidNotStart'));
      });
    },

    async importTables(r: NodeStepRequest): Promise<ImportResult> {
      const { layout } = r;
      return withNode(ctx, layout.fqdn, 'import the restored tables', async (node) => {
        const found = await run(node, false, `cd ${shellQuote(layout.downloadDir)} && find . -mindepth 2 -maxdepth 2 -type d -printf '%P\\n'`, `listing ${layout.downloadDir}`);
        const dirs = found.split('\n').filter((t) => TABLE_DIR.test(t)).sort();
        // Cassandra moves the files out of the directory: they must be its own.
        if (dirs.length) await run(node, sudo(), `chown -R --reference=${shellQuote(layout.dataDir)} ${shellQuote(layout.downloadDir)}`, `handing ${layout.downloadDir} to Cassandra`);
        const tables: string[] = [];
        let files = 0;
        for (const d of dirs) {
          const [ks, dir] = d.split('/');
          const table = tableName(dir);
          const path = `${layout.downloadDir}/${d}`;
          const count = Number((await run(node, false, `find ${shellQuote(path)} -maxdepth 1 -type f -name '*-Data.db' | wc -l`, `counting ${path}`)).trim() || 0);
          if (count > 0) {
            const out = await nodetool(node, c(), c().useSudo, ['import', ks, table, path]);
            const failed = /failed to import/i.test(out.stdout + out.stderr);
            if (failed) throw new Error(`nodetool import ${ks} ${table} ${path}: ${(out.stdout.trim() || out.stderr.trim()).split('\n').slice(-2).join(' | ')}`);
            const left = Number((await run(node, false, `find ${shellQuote(path)} -maxdepth 1 -type f -name '*-Data.db' | wc -l`, `counting ${path}`)).trim() || 0);
            if (left > 0) throw new Error(`nodetool import ${ks} ${table} left ${left} of ${count} SSTables in ${path} (read the node's system.log)`);
          }
          files += count;
          tables.push(`${ks}.${table}`);
          step().heartbeat();
        }
        return { tables, files };
      });
    },

    async cleanupRestore(r: NodeStepRequest): Promise<void> {
      const { layout } = r;
      await withNode(ctx, layout.fqdn, 'remove the restore files', async (node) => {
        if (!/\/medusa-restore-[^/]+$/.test(layout.stagingDir)) throw ApplicationFailure.nonRetryable(`refusing to remove ${layout.stagingDir}: not a restore directory`, 'BadInput');
        await run(node, sudo(), `rm -rf -- ${shellQuote(layout.stagingDir)}`, `removing ${layout.stagingDir}`);
      });
    },

    /** Medusa's verify step: the [checks] query on the node must return expected_rows rows (and expected_result, when set). */
    async verifyRestore(r: NodeStepRequest): Promise<VerifyRestoreResult> {
      const { layout } = r;
      const { query, expectedRows, expectedResult } = ctx.config.checks;
      if (!query) return {};
      return classify(layout.fqdn, 'verify the restore', async () => {
        const client = cqlClient(c(), layout.rpcAddress, layout.nativePort);
        try {
          await client.connect();
          const rs = await client.execute(query);
          if (expectedRows !== undefined && rs.rows.length !== expectedRows) {
            throw ApplicationFailure.nonRetryable(`${layout.fqdn}: the verify query \`${query}\` returned ${rs.rows.length} rows, not ${expectedRows}`, 'VerifyFailed');
          }
          if (expectedResult !== undefined) {
            const got = rs.rows.map((row) => row.values().map(String).join(',')).join(',');
            if (got !== expectedResult) throw ApplicationFailure.nonRetryable(`${layout.fqdn}: the verify query \`${query}\` returned ${got}, not ${expectedResult}`, 'VerifyFailed');
          }
          return { query, rows: rs.rows.length };
        } finally {
          await client.shutdown();
        }
      });
    },
  };
}
