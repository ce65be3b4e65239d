/**
 * Medusa's human sizes: "20MB", "50MB/s", "1.5GB", or a whole number of bytes. Units are binary
 * (MB = 1024²), as in Medusa's `_human_size_to_bytes`, so part sizes — and hence multipart ETags —
 * agree with what Python Medusa computes.
 */
const UNITS: [string, number][] = [['PB', 1024 ** 5], ['TB', 1024 ** 4], ['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024], ['B', 1]];

export function parseSize(text: string, what: string): number {
  const s = text.replace(/\s+/g, '').replace(/\/s$/, '');
  for (const [unit, mult] of UNITS) {
    if (s.toUpperCase().endsWith(unit)) {
      const n = Number(s.slice(0, -unit.length));
      if (s.length > unit.length && Number.isFinite(n) && n >= 0) return Math.floor(n * mult);
      break;
    }
  }
  if (/^\d+$/.test(s)) return Number(s);
  throw new Error(`${what} = ${text} is not a size (like 50MB, 1GB or a number of bytes)`);
}
