/**
 * meta/tokenmap.json (reference/medusa.md §2.3): `{"<fqdn>": {"tokens": [...], "is_up": …,
 * "rack": …, "dc": …}}`, hosts in address order as Python sorts strings, tokens as exact integers.
 * Unlike Medusa, every datacenter is included (Medusa keeps only the contact node's DC, its #495).
 */
import { parseJsonWithBigInts, pyJsonDumps } from './python-json';

export interface TokenMapEntry {
  tokens: bigint[];
  isUp: boolean;
  rack: string;
  dc: string;
}

export type TokenMap = Record<string, TokenMapEntry>;

export function serializeTokenMap(map: TokenMap): string {
  const hosts = Object.keys(map).sort();
  return pyJsonDumps(Object.fromEntries(hosts.map((h) => {
    const e = map[h];
    return [h, { tokens: [...e.tokens].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), is_up: e.isUp, rack: e.rack, dc: e.dc }];
  })));
}

export function parseTokenMap(text: string): TokenMap {
  const raw = parseJsonWithBigInts(text) as Record<string, { tokens: unknown; is_up?: boolean; rack?: string; dc?: string }>;
  const out: TokenMap = {};
  for (const [host, e] of Object.entries(raw)) {
    // Medusa's restore accepts a single token as well as a list.
    const tokens = Array.isArray(e.tokens) ? e.tokens : [e.tokens];
    out[host] = { tokens: tokens.map((t) => BigInt(t as bigint | number | string)), isUp: e.is_up ?? true, rack: e.rack ?? '', dc: e.dc ?? '' };
  }
  return out;
}
