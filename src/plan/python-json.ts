/**
 * JSON text exactly as Python's `json.dumps(value)` writes it with default arguments: separators
 * `", "` and `": "`, no indentation, non-ASCII escaped as \uXXXX (surrogate pairs for astral
 * characters). Medusa writes its manifest and tokenmap this way, and its tests compare the meta and
 * index copies as strings, so byte-identical output matters. bigint values are written as exact
 * integers (Cassandra tokens exceed a double's precision).
 */
export type PyJson = null | boolean | number | bigint | string | PyJson[] | { [key: string]: PyJson };

const ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const code = s.charCodeAt(i);
    if (ESCAPES[ch]) out += ESCAPES[ch];
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

function pyNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`${n} cannot be written as JSON`);
  // Python writes floats with a decimal point (1.0); every number we write is an integer or a real float.
  return Number.isInteger(n) ? String(n) : String(n);
}

export function pyJsonDumps(value: PyJson): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return pyNumber(value);
  if (typeof value === 'string') return pyString(value);
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(', ')}]`;
  return `{${Object.entries(value).map(([k, v]) => `${pyString(k)}: ${pyJsonDumps(v)}`).join(', ')}}`;
}

/**
 * Parses JSON keeping integers that do not fit a double exactly as bigint (Cassandra tokens in
 * Medusa's tokenmap.json), everything else as JSON.parse would.
 */
export function parseJsonWithBigInts(text: string): unknown {
  // Quote long integer literals outside strings, parse, then turn the marked strings back into bigint.
  const marker = '\u0000bigint:';
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const m = /^-?\d+(?![\d.eE])/.exec(text.slice(i, i + 64));
    if (m && (ch === '-' || /\d/.test(ch)) && !/[\d.]/.test(text[i - 1] ?? '')) {
      const n = m[0];
      out += Number.isSafeInteger(Number(n)) ? n : JSON.stringify(marker + n);
      i += n.length - 1;
      continue;
    }
    out += ch;
  }
  return JSON.parse(out, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(marker) ? BigInt(v.slice(marker.length)) : v));
}
