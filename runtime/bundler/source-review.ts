// The parts of the reviewer's scan that read more than one line: direct use of the host bridge,
// config reads through the plugin's own helper functions, signature checks that compare with `===`,
// and code built from strings. Best effort and regex-level, like source-scan.ts: what it finds is
// shown to the reviewer; nothing here grants anything. The capability set decides what runs
// (host-api/capability-set.ts), whatever this scan misses.
//
// Covered: `__ps_host` spelled out, with the capability names spelled as string literals in the
// same file; `config.get(key)` inside a function or method whose parameter is `key`, and that
// function called with a literal (`this.setting('apiSecret')`), one level deep; a variable set
// from createHmac(...)/.digest(...) and compared with ==, ===, != or !==, or .digest(...) compared
// inline. Not covered: names built at run time (`globalThis['__ps' + '_host']`, a key computed from
// strings), helpers of helpers, comparisons through a function the plugin wrote.

/** The capability names a plugin could ask the host for through the bridge. */
export type KnownCapabilities = ReadonlySet<string>;

export interface BridgeUse { capability: string | null; line: number }
export interface HelperRead { key: string; helper: string; line: number }
export interface UnsafeCompare { line: number; text: string }

export const BRIDGE_NAME = '__ps_host';
const DYNAMIC_CODE_RE = /\b(eval\s*\(|new\s+Function\s*\(|Function\s*\(\s*['"`])/;
const STRING_RE = /(['"`])([A-Za-z][\w]*\.[A-Za-z][\w]*)\1/g;
const CONFIG_GET_PARAM_RE = /\bconfig\.get\(\s*([A-Za-z_$][\w$]*)\s*\)/g;

function lineAt(source: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

const escape = (s: string): string => s.replace(/[$]/g, '\\$');

/** Each mention of the bridge, and each known capability name spelled in a file that mentions it. */
export function bridgeUses(source: string, known: KnownCapabilities): BridgeUse[] {
  if (!source.includes(BRIDGE_NAME)) return [];
  const uses: BridgeUse[] = [];
  for (const m of source.matchAll(STRING_RE)) if (known.has(m[2])) uses.push({ capability: m[2], line: lineAt(source, m.index) });
  if (!uses.length) uses.push({ capability: null, line: lineAt(source, source.indexOf(BRIDGE_NAME)) });
  return uses;
}

/** Config keys read through a one-level helper: `setting(key) { … config.get(key) … }` called as `setting('apiSecret')`. */
export function helperConfigReads(source: string): HelperRead[] {
  const helpers = new Set<string>();
  for (const m of source.matchAll(CONFIG_GET_PARAM_RE)) {
    const param = escape(m[1]);
    const before = source.slice(Math.max(0, m.index - 2000), m.index);
    // The nearest function, method or arrow function taking that parameter.
    const header = new RegExp(`(?:function\\s+|\\b(?:async\\s+)?)([A-Za-z_$][\\w$]*)\\s*(?:=\\s*(?:async\\s*)?(?:function\\s*)?)?\\(\\s*${param}\\s*[,)]`, 'g');
    let last: string | null = null;
    for (const h of before.matchAll(header)) if (!['if', 'for', 'while', 'switch', 'catch', 'get', 'function'].includes(h[1])) last = h[1];
    if (last) helpers.add(last);
  }
  const reads: HelperRead[] = [];
  for (const helper of helpers) {
    const call = new RegExp(`\\b${escape(helper)}\\(\\s*(['"])([^'"]+)\\1`, 'g');
    for (const m of source.matchAll(call)) reads.push({ key: m[2], helper, line: lineAt(source, m.index) });
  }
  return reads;
}

/** `===` / `==` (or their negations) on a value computed by createHmac(...)/.digest(...). */
export function unsafeSignatureCompares(source: string): UnsafeCompare[] {
  const computed = new Set<string>();
  for (const m of source.matchAll(/\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=([^;]*?)(?:;|\n\s*\n)/gs)) {
    if (/createHmac\s*\(|\.digest\s*\(/.test(m[2])) computed.add(m[1]);
  }
  const out: UnsafeCompare[] = [];
  const lines = source.split('\n');
  lines.forEach((text, i) => {
    const inline = /\.digest\s*\([^)]*\)\s*[!=]==?|[!=]==?\s*[\w$.]*createHmac\s*\(/.test(text);
    const named = [...computed].some((v) => new RegExp(`(^|[^\\w$.])${escape(v)}\\s*[!=]==?(?!=)|[!=]==?\\s*${escape(v)}(?![\\w$.])`).test(text));
    // `expected.length === given.length` compares no secret bytes: a property of the value is not the value.
    if (inline || named) {
      out.push({ line: i + 1, text: text.trim().slice(0, 160) });
    }
  });
  return out;
}

export function buildsCodeFromStrings(source: string): boolean {
  return DYNAMIC_CODE_RE.test(source);
}
