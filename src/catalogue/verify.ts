/**
 * `verify`: is a backup complete, and is every object its manifests name in storage, with the size
 * (and, with md5 checks, the content) the manifest says? Medusa's rules (reference §5): every node of
 * the tokenmap finished; `-Statistics.db` files are not checked; a `-Summary.db` mismatch is a
 * warning (Cassandra rewrites index summaries); a full backup's folder must hold nothing else.
 *
 * Better than Medusa on purpose: with md5 checks the object's CONTENT is read and hashed — a provider's
 * ETag is computed when the object was written and does not notice later corruption — and compared
 * with the manifest's hash in whatever form the writer recorded (hex MD5, base64, multipart ETag).
 */
import { createHash } from 'node:crypto';
import { hashesMatch, isMultipartHash, multipartEtag } from '../plan/differential';
import { ManifestObject } from '../plan/manifest';
import { ObjectInfo, Storage } from '../storage/storage';
import { ClusterBackup, mapLimit, NodeBackup } from './catalogue';
import { quarantine } from './quarantine';

export interface VerifyReport {
  complete: boolean;
  /** Medusa's lines: `- Completion: …`, per node reasons, `- Manifest validated: OK!!` or the problems. */
  lines: string[];
  /** One per missing or different object: `  - [<key>] <what>`. */
  problems: string[];
  warnings: string[];
  checkedObjects: number;
  hashedObjects: number;
  /** Pool objects recorded for the next differential backup of their node to send again. */
  quarantined: string[];
}

const md5hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** Part sizes tried to reproduce a multipart ETag: the configured chunk size first, then common tool defaults. */
function partSizes(size: number, parts: number, configured: number): number[] {
  const candidates = [configured, 8 * 1024 * 1024, 5 * 1024 * 1024, 16 * 1024 * 1024, 50 * 1024 * 1024, 64 * 1024 * 1024, 100 * 1024 * 1024];
  return [...new Set(candidates)].filter((p) => Math.ceil(size / p) === parts);
}

/** Reads an object and hashes it: hex MD5, and the MD5s of each part for every candidate part size. */
async function contentHashes(storage: Storage, key: string, partSizeList: number[]): Promise<{ md5: string; multipart: string[] }> {
  const whole = createHash('md5');
  const parts = partSizeList.map((size) => ({ size, hashes: [] as string[], current: createHash('md5'), filled: 0 }));
  const body = await storage.download(key);
  for await (const chunk of body as AsyncIterable<Buffer>) {
    whole.update(chunk);
    for (const p of parts) {
      let off = 0;
      while (off < chunk.length) {
        const take = Math.min(p.size - p.filled, chunk.length - off);
        p.current.update(chunk.subarray(off, off + take));
        p.filled += take;
        off += take;
        if (p.filled === p.size) {
          p.hashes.push(p.current.digest('hex'));
          p.current = createHash('md5');
          p.filled = 0;
        }
      }
    }
  }
  for (const p of parts) if (p.filled > 0) p.hashes.push(p.current.digest('hex'));
  return { md5: whole.digest('hex'), multipart: parts.map((p) => multipartEtag(p.hashes, md5hex)) };
}

interface Checked {
  problem?: string;
  /** Same size, other content: a differential backup would keep it, so it is quarantined. */
  contentDiffers?: boolean;
  hashed: boolean;
}

async function checkObject(storage: Storage, o: ManifestObject, stored: ObjectInfo | undefined, md5: boolean, chunkSize: number): Promise<Checked> {
  if (!stored) return { problem: "Doesn't exists", hashed: false };
  if (stored.size !== o.size) return { problem: `Blob different (size ${stored.size} in storage, ${o.size} in the manifest)`, hashed: false };
  if (!md5) return { hashed: false };
  // The provider's own hash first (cheap; what Medusa compares), then the content itself.
  if (o.MD5 && stored.hash && isMultipartHash(stored.hash) === isMultipartHash(o.MD5) && !hashesMatch(o.MD5, stored.hash, stored.hash)) {
    return { problem: `Blob different (hash ${stored.hash} in storage, ${o.MD5} in the manifest)`, contentDiffers: true, hashed: false };
  }
  const expected = o.MD5 ?? stored.hash;
  if (!expected) return { hashed: false };
  const multipart = isMultipartHash(expected);
  const sizes = multipart ? partSizes(o.size, Number(expected.split('-')[1]), chunkSize) : [];
  if (multipart && sizes.length === 0) return { hashed: false };
  const h = await contentHashes(storage, stored.key, sizes);
  const ok = multipart ? h.multipart.some((m) => m.toLowerCase() === expected.toLowerCase()) : hashesMatch(expected, h.md5);
  return ok ? { hashed: true } : { problem: `Blob different (content MD5 ${h.md5} does not match ${expected})`, contentDiffers: true, hashed: true };
}

async function verifyNode(storage: Storage, node: NodeBackup, md5: boolean, chunkSize: number, report: VerifyReport): Promise<void> {
  const manifest = await node.manifest();
  if (!manifest) {
    report.problems.push(`  - [${node.layout.meta(node.name, 'manifest.json')}] manifest missing`);
    return;
  }
  const inStorage = new Map<string, ObjectInfo>();
  for await (const o of storage.list(node.dataRoot)) if (!o.key.includes('-Statistics.db')) inStorage.set(o.key, o);
  const objects = manifest.flatMap((s) => s.objects).filter((o) => !o.path.includes('-Statistics.db'));
  const results = await mapLimit(objects, 8, (o) => checkObject(storage, o, inStorage.get(o.path), md5, chunkSize));
  for (const [i, r] of results.entries()) {
    report.checkedObjects++;
    if (r.hashed) report.hashedObjects++;
    if (!r.problem) continue;
    const line = `  - [${objects[i].path}] ${r.problem}`;
    if (objects[i].path.includes('-Summary.db')) {
      report.warnings.push(`${line} (a Summary.db file, which Cassandra rewrites: not a failure)`);
      continue;
    }
    report.problems.push(line);
    // Missing or resized pool objects are sent again by the next differential backup anyway; a same-size one only if recorded.
    if (r.contentDiffers && node.differential) {
      await quarantine(storage, node.prefix, node.fqdn, objects[i].path, r.problem);
      report.quarantined.push(objects[i].path);
    }
  }
  // A full backup's folder holds exactly its manifest's files; a differential pool holds other backups' files too.
  if (!node.differential) {
    const listed = new Set(objects.map((o) => o.path));
    for (const key of [...inStorage.keys()].sort()) if (!listed.has(key)) report.problems.push(`  - [${key}] exists in storage, but not in manifest`);
  }
}

export async function verifyBackup(storage: Storage, backup: ClusterBackup, o: { md5: boolean; multipartChunkSize: number }): Promise<VerifyReport> {
  const report: VerifyReport = { complete: false, lines: [`Validating ${backup.name} ...`], problems: [], warnings: [], checkedObjects: 0, hashedObjects: 0, quarantined: [] };
  if (!(await backup.isComplete())) {
    report.lines.push('- Completion: Not complete!');
    for (const n of await backup.incompleteNodes()) report.lines.push(`  - [${n.fqdn}] Backup started at ${await n.started()}, but not finished yet`);
    for (const f of await backup.missingNodes()) report.lines.push(`  - [${f}] Backup missing`);
    return report;
  }
  report.complete = true;
  report.lines.push('- Completion: OK!');
  for (const n of backup.nodes) await verifyNode(storage, n, o.md5, o.multipartChunkSize, report);
  if (report.problems.length) report.lines.push('- Manifest validation: Failed!', ...report.problems);
  else report.lines.push('- Manifest validated: OK!!');
  return report;
}
