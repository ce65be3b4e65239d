/**
 * Pool objects found corrupt by `verify --enable-md5-checks`: same size as the manifest says, other
 * content (bit rot the provider's ETag, computed at write time, does not show). The next
 * differential backup of the node would otherwise keep such an object, since it compares sizes (and
 * ETags). So verify records each one under `Pindex/quarantine/<fqdn>/`, the planner sends those
 * files again, and the backup that replaced them removes the records when it finishes.
 *
 * Medusa reads only `index/backup_index/` and `index/latest_backup/`: this folder is invisible to it.
 */
import { createHash } from 'node:crypto';
import { Storage } from '../storage/storage';

export interface QuarantineRecord {
  key: string;
  reason: string;
  /** ISO time verify found it. */
  found: string;
}

const dir = (prefix: string, fqdn: string) => `${prefix ? `${prefix}/` : ''}index/quarantine/${fqdn}/`;

export function quarantineRecordKey(prefix: string, fqdn: string, objectKey: string): string {
  return `${dir(prefix, fqdn)}${createHash('sha256').update(objectKey).digest('hex').slice(0, 32)}.json`;
}

export async function quarantine(storage: Storage, prefix: string, fqdn: string, objectKey: string, reason: string): Promise<void> {
  const record: QuarantineRecord = { key: objectKey, reason, found: new Date().toISOString() };
  await storage.putBytes(quarantineRecordKey(prefix, fqdn, objectKey), JSON.stringify(record));
}

/** Quarantined object keys of a node → the record's key. An unreadable record is skipped (it is re-found by the next verify). */
export async function readQuarantine(storage: Storage, prefix: string, fqdn: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const o of storage.list(dir(prefix, fqdn))) {
    try {
      const r = JSON.parse((await storage.getBytes(o.key))?.toString('utf8') ?? '') as QuarantineRecord;
      if (typeof r.key === 'string') out.set(r.key, o.key);
    } catch {
      // not a record of ours
    }
  }
  return out;
}
