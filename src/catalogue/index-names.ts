/**
 * Names of the index objects (reference/medusa.md §1.2) read back, with Medusa's own parsing rules:
 * the timestamp pattern is tried first, the fqdn is what lies between the kind and the extension
 * (fqdns may hold `_` and `.`), and a key that does not split into exactly 4 parts (no prefix) or
 * 5 (prefix) is not an index entry. Pure code.
 */
export type IndexKind = 'tokenmap' | 'schema' | 'manifest' | 'differential' | 'incremental' | 'started' | 'finished';

export interface IndexEntry {
  key: string;
  backupName: string;
  kind: IndexKind;
  fqdn: string;
  /** Epoch seconds of started_/finished_ entries. */
  epoch?: number;
}

const TIMESTAMP = /^(started|finished)_(.*)_([0-9]+)\.timestamp$/;
const OTHER = /^(tokenmap|schema|manifest|differential|incremental)_(.*)$/;

export function parseIndexKey(key: string, prefix: string): IndexEntry | undefined {
  const parts = key.split('/');
  const offset = prefix ? 1 : 0;
  if (parts.length !== 4 + offset || (prefix && parts[0] !== prefix) || parts[offset] !== 'index' || parts[offset + 1] !== 'backup_index') return undefined;
  const backupName = parts[offset + 2];
  const blob = parts[offset + 3];
  const t = TIMESTAMP.exec(blob);
  if (t) return { key, backupName, kind: t[1] as IndexKind, fqdn: t[2], epoch: Number(t[3]) };
  const o = OTHER.exec(blob);
  if (!o) return undefined;
  return { key, backupName, kind: o[1] as IndexKind, fqdn: o[2].replace(/\.(json|cql|txt|timestamp)$/, '') };
}

/** Medusa's `format_bytes_str`: binary units named B, KB, MB, GB, TB, two decimals. */
export function formatBytes(value: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let shift = 0;
  while (shift < units.length - 1 && value / 2 ** (shift * 10) >= 1024) shift++;
  return `${(value / 2 ** (shift * 10)).toFixed(2)} ${units[shift]}`;
}

/** Medusa's `datetime.fromtimestamp(t).strftime('%Y-%m-%d %H:%M:%S')`: local time. */
export function formatTimestamp(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
