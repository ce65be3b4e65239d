/**
 * The catalogue commands that only read storage — list-backups, status, verify, report-last-backup,
 * get-last-complete-cluster-backup, fetch-tokenmap — with Medusa's names, options and output (text,
 * and `--output json` where Medusa has it). They read the bucket directly with the medusa.ini
 * credentials, like Medusa does: no workflow, no Temporal server needed.
 */
import { createActivityContext } from '../activities/context';
import { CatalogueError, ClusterBackup, getClusterBackup, mapLimit, readCatalogue } from '../catalogue/catalogue';
import { formatBytes, formatTimestamp } from '../catalogue/index-names';
import { verifyBackup } from '../catalogue/verify';
import { findNodeBackups, writeIndex } from '../catalogue/build-index';
import { ConfigOverrides, loadMedusaConfig, MedusaConfig } from '../config/medusa-config';
import { ExitError } from '../errors';
import { PyJson, pyJsonDumps } from '../plan/python-json';
import { Storage } from '../storage/storage';

export interface CatalogueOptions {
  configFile: string;
  overrides: ConfigOverrides;
}

/** How many catalogue objects are read at once (tokenmaps, manifests). */
const READ_CONCURRENCY = 32;

async function withStorage<T>(o: CatalogueOptions, fn: (storage: Storage, config: MedusaConfig) => Promise<T>): Promise<T> {
  const config = loadMedusaConfig(o.configFile, o.overrides);
  const storage = createActivityContext(config, 'ssh').storage();
  try {
    await storage.check();
    return await fn(storage, config);
  } catch (err) {
    if (err instanceof CatalogueError) throw new ExitError(err.message);
    throw err;
  } finally {
    await storage.close();
  }
}

const out = (line = '') => process.stdout.write(`${line}\n`);

function sortKeys(v: PyJson): PyJson {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

/** Cluster backups sorted by start, with what the listing needs already read (in parallel, bounded). */
async function sortedByStart(backups: ClusterBackup[]): Promise<{ backup: ClusterBackup; started: number; finished: number | null }[]> {
  const rows = await mapLimit(backups, READ_CONCURRENCY, async (backup) => ({ backup, started: await backup.started(), finished: await backup.finished() }));
  return rows.sort((a, b) => a.started - b.started || (a.backup.name < b.backup.name ? -1 : 1));
}

export async function listBackupsCommand(o: CatalogueOptions & { showAll: boolean; output: string }): Promise<void> {
  await withStorage(o, async (storage, config) => {
    const all = await readCatalogue(storage, config.storage.prefix);
    if (all.length === 0) process.stderr.write('No backups found in index. Consider running "medusa build-index"\n');
    let rows = await sortedByStart(all);
    if (!o.showAll) rows = rows.filter((r) => r.backup.node(config.storage.fqdn));
    if (o.output === 'json') {
      out(pyJsonDumps(await mapLimit(rows, READ_CONCURRENCY, (r) => r.backup.toJson()) as unknown as PyJson));
      return;
    }
    let incomplete = false;
    for (const r of rows) {
      let finished: string;
      if (r.finished !== null) finished = formatTimestamp(r.finished);
      else {
        incomplete = true;
        finished = `Incomplete [${(await r.backup.completeNodes()).length} of ${Object.keys(await r.backup.tokenmap()).length} nodes finished]`;
      }
      out(`${r.backup.name} (started: ${formatTimestamp(r.started)}, finished: ${finished})`);
    }
    if (incomplete) {
      out();
      out('Incomplete backups found. You can run "medusa status --backup-name <name>" for more details');
    }
  });
}

export async function statusCommand(o: CatalogueOptions & { backupName: string; output: string }): Promise<void> {
  await withStorage(o, async (storage, config) => {
    const found = (await readCatalogue(storage, config.storage.prefix, o.backupName)).find((b) => b.name === o.backupName);
    if (!found) {
      if (o.output === 'json') out('{}');
      throw new ExitError(`no backup named ${o.backupName} in ${storage.description}`);
    }
    const json = await found.toJson();
    if (o.output === 'json') {
      // Medusa: json.dumps(…, sort_keys=True), Python's separators.
      out(pyJsonDumps(sortKeys(json as unknown as PyJson)));
      return;
    }
    out(json.finished !== null ? found.name : `${found.name} [Incomplete!]`);
    out(`- Started: ${formatTimestamp(json.started)}, Finished: ${json.finished !== null ? formatTimestamp(json.finished) : 'never'}`);
    out(`- ${json.completed_nodes} nodes completed, ${json.incomplete_nodes} nodes incomplete, ${json.missing_nodes} nodes missing`);
    if (json.incomplete_nodes) {
      out('- Incomplete nodes:');
      for (const n of json.incomplete_nodes_list) out(`    ${n.fqdn}`);
    }
    if (json.missing_nodes) {
      out('- Missing nodes:');
      for (const f of json.missing_nodes_list) out(`    ${f}`);
    }
    out(`- ${json.num_objects} files, ${formatBytes(json.size)}`);
  });
}

export async function verifyCommand(o: CatalogueOptions & { backupName: string; enableMd5Checks: boolean }): Promise<void> {
  await withStorage(o, async (storage, config) => {
    const backup = await getClusterBackup(storage, config.storage.prefix, o.backupName);
    const report = await verifyBackup(storage, backup, { md5: o.enableMd5Checks || config.checks.enableMd5Checks, multipartChunkSize: config.storage.multipartChunkSize });
    for (const l of report.lines) out(l);
    for (const w of report.warnings) process.stderr.write(`warning: ${w.trim()}\n`);
    if (report.quarantined.length) {
      out(`- ${report.quarantined.length} corrupt pool object(s) recorded: the next differential backup of their node sends them again`);
    }
    if (!report.complete) throw new ExitError(`backup ${o.backupName} is incomplete`);
    if (report.problems.length) throw new ExitError(`backup ${o.backupName} failed verification: ${report.problems.length} of ${report.checkedObjects} objects missing or different`);
  });
}

async function latestComplete(backups: ClusterBackup[]): Promise<{ backup: ClusterBackup; finished: number } | undefined> {
  const rows = await sortedByStart(backups);
  let best: { backup: ClusterBackup; finished: number } | undefined;
  for (const r of rows) if (r.finished !== null && (!best || r.finished >= best.finished)) best = { backup: r.backup, finished: r.finished };
  return best;
}

export async function getLastCompleteCommand(o: CatalogueOptions): Promise<void> {
  await withStorage(o, async (storage, config) => {
    const best = await latestComplete(await readCatalogue(storage, config.storage.prefix));
    if (!best) throw new ExitError('Could not find any full backup for the cluster');
    out(best.backup.name);
  });
}

export async function fetchTokenmapCommand(o: CatalogueOptions & { backupName: string }): Promise<void> {
  await withStorage(o, async (storage, config) => {
    const tokenmap = await (await getClusterBackup(storage, config.storage.prefix, o.backupName)).tokenmap();
    for (const [host, e] of Object.entries(tokenmap).sort(([a], [b]) => (a < b ? -1 : 1))) {
      out(host);
      out(`[${e.tokens.map(String).join(', ')}]`);
    }
  });
}

export async function reportLastBackupCommand(o: CatalogueOptions & { now?: () => number }): Promise<void> {
  await withStorage(o, async (storage, config) => {
    const now = Math.floor((o.now ?? Date.now)() / 1000);
    const fqdn = config.storage.fqdn;
    const backups = await readCatalogue(storage, config.storage.prefix);
    // This node's latest finished backup, from the catalogue itself (no build-index needed).
    let mine: { name: string; finished: number } | undefined;
    for (const b of backups) {
      const finished = await b.node(fqdn)?.finished();
      if (finished !== undefined && finished !== null && (!mine || finished > mine.finished)) mine = { name: b.name, finished };
    }
    if (mine) out(`Latest node backup of ${fqdn}: ${mine.name}, finished ${formatTimestamp(mine.finished)}, ${now - mine.finished} seconds ago`);
    else out(`Latest node backup of ${fqdn}: none`);
    const best = await latestComplete(backups);
    if (best) out(`Latest complete cluster backup: ${best.backup.name}, finished ${formatTimestamp(best.finished)}, ${now - best.finished} seconds ago`);
    else out('Latest complete cluster backup: none');
    const rows = await sortedByStart(backups);
    const last = rows.at(-1);
    if (last) {
      const j = await last.backup.toJson();
      out(`Latest cluster backup: ${j.name}, ${j.finished !== null ? 'complete' : 'incomplete'}: ${j.completed_nodes} nodes completed, `
        + `${j.incomplete_nodes} nodes incomplete, ${j.missing_nodes} nodes missing, ${j.num_objects} files, ${formatBytes(j.size)}`);
    }
    if (!mine) throw new ExitError(`no finished backup of ${fqdn} in ${storage.description}`);
  });
}

export async function buildIndexCommand(o: CatalogueOptions & { noop: boolean }): Promise<void> {
  await withStorage(o, async (storage, config) => {
    const found = await findNodeBackups(storage, config.storage.prefix);
    for (const line of await writeIndex(storage, config.storage.prefix, found, o.noop)) out(line);
    if (found.length === 0) out(`no node backup found in ${storage.description}${config.storage.prefix ? ` (prefix ${config.storage.prefix})` : ''}`);
  });
}
