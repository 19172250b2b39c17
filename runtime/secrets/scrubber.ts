// Removes known secret values from any text that leaves the server (log lines, audit records, error
// messages, admin responses) and from provider responses on their way back into a plugin's isolate.
// Matching is by value, because a plugin that read a secret — or a provider that echoes the header
// the host signed with — can put it anywhere, in whatever encoding (secret-views.ts lists them).
//
// Fragments: a secret cut in pieces (two JSON fields, a wrapped line) is caught piece by piece, down
// to half the secret's length (rounded down; secrets are at least 16 characters, so never under 8):
// both halves of a cut anywhere near the middle are redacted. Not shorter: scrubbing text the reader
// controls is an equality oracle (a plugin asks an echoing provider to repeat its guesses and sees
// which come back redacted). With short fragments that oracle recovers a key one character at a time
// from a public prefix such as `sk_live_`; with half-length fragments the first guess alone must get
// half the secret right. SECURITY.md (Scrubbing) has the arithmetic.
import { VIEWS, base64Forms, charForms, type TextView } from './secret-views.ts';

/** Shorter values are not registered at all: their forms would match ordinary text. */
const MIN_FORM_LENGTH = 4;
/** Secrets the host applies or a plugin reads must be at least this long (host-api/config.ts refuses shorter ones). */
export const MIN_SCRUBBED_SECRET_LENGTH = 16;
const MIN_FRAGMENT_LENGTH = 8;
/** Long values (PEM keys) are cut in windows of this size at this stride, to bound the patterns. */
const MAX_FRAGMENT_LENGTH = 64;
const LONG_SECRET_STRIDE = 8;

/** The shortest piece of a secret of this length that is matched on its own; null: whole value only. */
export function fragmentLength(length: number): number | null {
  if (length < MIN_SCRUBBED_SECRET_LENGTH) return null;
  return Math.min(MAX_FRAGMENT_LENGTH, Math.max(MIN_FRAGMENT_LENGTH, Math.floor(length / 2)));
}

/** The forms a secret commonly takes when printed (whole value). Kept for callers and tests. */
export function secretForms(value: string): string[] {
  const forms = new Set([value, ...charForms(value), ...base64Forms(value)]);
  return [...forms].filter((f) => f.length >= MIN_FORM_LENGTH);
}

/**
 * Configured secrets (`<plugin>.<key>`) are matched in pieces: an administrator set them, and they
 * are known in full. Values the host derives per request (an Authorization header, the base64 of
 * `user:password`, a signature) are matched whole, in every encoding: the secrets they are made of
 * are matched in pieces anyway, and a derived value with a known part (the username in a Basic
 * header) would make a cheap piece oracle.
 */
const CONFIGURED_SECRET_LABEL = /^[A-Za-z0-9_-]+\.[A-Za-z_][A-Za-z0-9_.-]*$/;

/** The pieces matched for one secret: the whole value, plus windows when it is long enough. */
function piecesOf(value: string, label: string, others: Iterable<string>): string[] {
  const pieces = [value];
  if (!CONFIGURED_SECRET_LABEL.test(label)) return pieces;
  const w = fragmentLength(value.length);
  // A value that contains another secret ("Bearer <key>") gets no windows of its own: the key's
  // windows cover it, and windows that start in the public prefix would be a cheap oracle.
  for (const o of others) if (o !== value && o.length >= MIN_SCRUBBED_SECRET_LENGTH && value.includes(o)) return pieces;
  if (w === null || w >= value.length) return pieces;
  const stride = value.length > 2 * MAX_FRAGMENT_LENGTH ? LONG_SECRET_STRIDE : 1;
  for (let i = 0; i + w <= value.length; i += stride) pieces.push(value.slice(i, i + w));
  if ((value.length - w) % stride !== 0) pieces.push(value.slice(value.length - w));
  return pieces;
}

interface Compiled {
  /** Per view: one overlapping-match pattern over every piece of every secret, as that view spells them. */
  patterns: Array<{ view: TextView; re: RegExp; labels: Map<string, string>; shortest: number }>;
  /**
   * The length of the shortest form in any pattern. No view decodes a text to more characters than
   * it has (secret-views.ts), so a shorter text holds no form in any view: most keys and short
   * values of a result are passed without decoding them nine ways.
   */
  shortest: number;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compile(secrets: Map<string, string>): Compiled | null {
  if (secrets.size === 0) return null;
  const values = [...secrets.keys()];
  const patterns: Compiled['patterns'] = [];
  // Most views spell pieces the same way (the decoded text is searched for the piece itself): one
  // compiled pattern serves them all. Compiling is what costs (about 1 ms per secret).
  const shared = new Map<string, RegExp>();
  let shortest = Infinity;
  for (const view of VIEWS) {
    const labels = new Map<string, string>();
    for (const [value, label] of secrets) {
      for (const piece of piecesOf(value, label, values)) {
        for (const form of view.forms(piece, piece === value)) if (form.length >= MIN_FORM_LENGTH && !labels.has(form)) labels.set(form, label);
      }
    }
    if (labels.size === 0) continue;
    let shortestHere = Infinity;
    for (const form of labels.keys()) shortestHere = Math.min(shortestHere, form.length);
    shortest = Math.min(shortest, shortestHere);
    const alts = [...labels.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    // Consecutive windows of one fragment overlap: redact() restarts one character after each
    // match, so every window is found and their union is the fragment.
    const source = alts.join('|');
    let re = shared.get(source);
    if (!re) shared.set(source, (re = new RegExp(source, 'g')));
    patterns.push({ view, re, labels, shortest: shortestHere });
  }
  return { patterns, shortest };
}

function redact(text: string, compiled: Compiled | null): string {
  if (!compiled || text.length < compiled.shortest) return text;
  const spans: Array<[number, number, string]> = [];
  for (const { view, re, labels, shortest } of compiled.patterns) {
    if (view.mayHold && !view.mayHold(text, shortest)) continue;
    const decoded = view.decode(text);
    if (!decoded) continue;
    re.lastIndex = 0;
    for (let m = re.exec(decoded.text); m; m = re.exec(decoded.text)) {
      const found = m[0];
      const start = m.index;
      spans.push([decoded.start(start), decoded.end(start + found.length - 1), labels.get(found) ?? 'secret']);
      re.lastIndex = start + 1;
    }
  }
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let at = 0;
  for (let i = 0; i < spans.length; ) {
    const [start, , label] = spans[i];
    let end = spans[i][1];
    // Overlapping or touching pieces are one run: one marker, nothing of the secret in between.
    for (i++; i < spans.length && spans[i][0] <= end; i++) end = Math.max(end, spans[i][1]);
    out += `${text.slice(at, start)}[redacted:${label}]`;
    at = end;
  }
  return out + text.slice(at);
}

export class Scrubber {
  private readonly secrets = new Map<string, string>(); // value -> label
  private compiled: Compiled | null | undefined;
  /** Per plugin: the patterns of that plugin's own secrets only (labels `<plugin>.<key>`). */
  private readonly owned = new Map<string, Compiled | null>();

  add(value: string | null | undefined, label: string): void {
    if (!value || value.length < MIN_FORM_LENGTH) return;
    if (this.secrets.get(value) === label) return;
    this.secrets.set(value, label);
    this.compiled = undefined;
    this.owned.clear();
  }

  remove(value: string): void {
    if (this.secrets.delete(value)) {
      this.compiled = undefined;
      this.owned.clear();
    }
  }

  scrub(text: string): string {
    if (this.compiled === undefined) this.compiled = compile(this.secrets);
    return redact(text, this.compiled);
  }

  /** Scrubs every string inside a JSON-like value. */
  scrubDeep<T>(value: T): T {
    if (typeof value === 'string') return this.scrub(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.scrubDeep(v)) as T;
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.scrubDeep(v);
      return out as T;
    }
    return value;
  }

  /**
   * Scrubs only the secrets of one plugin (labels `<plugin>.<key>`). Used for text that comes from
   * or goes back to that plugin's code: the only other secrets such text can hold are ones the
   * plugin put there itself, and redacting those would tell it that its guess was right —
   * scrubbing by value is an equality oracle for text the reader controls (SECURITY.md).
   */
  scrubFor(owner: string, text: string): string {
    return redact(text, this.ownedBy(owner));
  }

  /**
   * scrubFor over every string (and key) of a JSON-like value, without recursion: values from a
   * sandbox can be nested thousands deep. Returns a copy; the input is not changed.
   */
  scrubDeepFor<T>(owner: string, value: T): T {
    const compiled = this.ownedBy(owner);
    if (!compiled) return value;
    if (typeof value === 'string') return redact(value, compiled) as T;
    if (!value || typeof value !== 'object') return value;
    const root: Record<string, unknown> = {};
    const stack: [unknown, object, string | number][] = [[value, root, 'v']];
    while (stack.length) {
      const [src, holder, key] = stack.pop()!;
      let out: unknown = src;
      if (typeof src === 'string') out = redact(src, compiled);
      else if (Array.isArray(src)) {
        const arr: unknown[] = new Array(src.length);
        src.forEach((x, i) => stack.push([x, arr, i]));
        out = arr;
      } else if (src && typeof src === 'object') {
        const obj: Record<string, unknown> = {};
        // Pushed last to first, so they are popped, and the copy's keys assigned, in their order.
        const entries = Object.entries(src);
        for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i][1], obj, redact(entries[i][0], compiled)]);
        out = obj;
      }
      // A "__proto__" key must stay an own property: defined, not assigned (which would set the
      // prototype). Every other key is assigned, several times cheaper, with the same result.
      if (key === '__proto__') Object.defineProperty(holder, key, { value: out, writable: true, enumerable: true, configurable: true });
      else (holder as Record<string | number, unknown>)[key] = out;
    }
    return root.v as T;
  }

  private ownedBy(owner: string): Compiled | null {
    if (this.owned.has(owner)) return this.owned.get(owner)!;
    const prefix = `${owner}.`;
    const mine = new Map([...this.secrets].filter(([, label]) => label.startsWith(prefix)));
    const own = compile(mine);
    this.owned.set(owner, own);
    return own;
  }

  get size(): number {
    return this.secrets.size;
  }
}
