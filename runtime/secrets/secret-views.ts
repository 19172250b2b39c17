// The encodings a secret can come back in, as "views" of a text: each view decodes the text one way
// (JSON / JavaScript / PHP string escapes, percent and form encoding, HTML character references,
// hex in either case) and keeps, for every decoded character, where it came from, so a match in the
// view redacts exactly the original characters. Decoding the text instead of encoding the secret
// catches mixed spellings too: `sk\/live\u005fkey` is `sk/live_key` whichever characters an
// encoder chose to escape. The encodings that are not character-wise (base64 at any of its three
// byte alignments, UTF-16 bytes) are listed as forms of the secret in the plain view instead.

export interface Decoded {
  text: string;
  /** Index in the original text where decoded character i starts. */
  start(i: number): number;
  /** Index in the original text just after decoded character i. */
  end(i: number): number;
}

export interface TextView {
  name: string;
  /** null: nothing to decode in this text, so the view has nothing the plain view does not. */
  decode(text: string): Decoded | null;
  /** How a piece of a secret reads in this view; `whole` is the entire value (not a fragment). */
  forms(piece: string, whole: boolean): string[];
  /**
   * False when the text cannot hold a form of `shortest` characters in this view: a test cheaper
   * than decoding, for views whose forms use few characters. Absent: always decoded.
   */
  mayHold?(text: string, shortest: number): boolean;
}

const identity = (text: string): Decoded => ({ text, start: (i) => i, end: (i) => i + 1 });

/** Replaces every match of `token` by what `value` returns, keeping an index map. */
function decodeWith(text: string, token: RegExp, value: (m: RegExpExecArray) => string): Decoded | null {
  token.lastIndex = 0;
  let m = token.exec(text);
  if (!m) return null;
  // Every token decodes to no more characters than it had, so the maps never outgrow the text.
  const starts = new Int32Array(text.length);
  const ends = new Int32Array(text.length);
  const parts: string[] = [];
  let n = 0;
  let at = 0;
  const copy = (from: number, to: number) => {
    parts.push(text.slice(from, to));
    for (let k = from; k < to; k++, n++) {
      starts[n] = k;
      ends[n] = k + 1;
    }
  };
  while (m) {
    copy(at, m.index);
    const v = value(m);
    parts.push(v);
    for (let k = 0; k < v.length; k++, n++) {
      starts[n] = m.index;
      ends[n] = m.index + m[0].length;
    }
    at = m.index + m[0].length;
    m = token.exec(text);
  }
  copy(at, text.length);
  return { text: parts.join(''), start: (i) => starts[i], end: (i) => ends[i] };
}

/** A view of a view: indices go through both maps. */
function compose(outer: Decoded, inner: Decoded | null): Decoded | null {
  if (!inner) return null;
  return { text: inner.text, start: (i) => outer.start(inner.start(i)), end: (i) => outer.end(inner.end(i) - 1) };
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '0': '\0' };
// JSON, JavaScript and PHP: \uXXXX (any case), \xXX, \/ (PHP's json_encode), \\ \" \' and the letters.
const STRING_ESCAPE = /\\(?:u([0-9a-fA-F]{4})|u\{([0-9a-fA-F]{1,6})\}|x([0-9a-fA-F]{2})|(.))/gs;
function unescapeString(text: string): Decoded | null {
  if (!text.includes('\\')) return null;
  return decodeWith(text, STRING_ESCAPE, (m) => {
    if (m[1] !== undefined) return String.fromCharCode(parseInt(m[1], 16));
    if (m[2] !== undefined) {
      const cp = parseInt(m[2], 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : m[0];
    }
    if (m[3] !== undefined) return String.fromCharCode(parseInt(m[3], 16));
    return ESCAPES[m[4]] ?? m[4];
  });
}

// Percent-decoded to bytes, one character per byte (latin1): forms are the secret's UTF-8 bytes.
const PERCENT = /%([0-9a-fA-F]{2})/g;
const PERCENT_OR_PLUS = /%([0-9a-fA-F]{2})|\+/g;
const unpercent = (text: string): Decoded | null => (text.includes('%') ? decodeWith(text, PERCENT, (m) => String.fromCharCode(parseInt(m[1], 16))) : null);
const unform = (text: string): Decoded | null =>
  (text.includes('+') ? decodeWith(text, PERCENT_OR_PLUS, (m) => (m[0] === '+' ? ' ' : String.fromCharCode(parseInt(m[1], 16)))) : null);

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", sol: '/', equals: '=', plus: '+', colon: ':', lowbar: '_', period: '.', comma: ',', num: '#', percnt: '%' };
const ENTITY = /&(?:#[xX]([0-9a-fA-F]{1,6});?|#(\d{1,7});?|([a-zA-Z]+);)/g;
function unentity(text: string): Decoded | null {
  if (!text.includes('&')) return null;
  return decodeWith(text, ENTITY, (m) => {
    const cp = m[1] !== undefined ? parseInt(m[1], 16) : m[2] !== undefined ? Number(m[2]) : null;
    if (cp !== null) return cp <= 0x10ffff ? String.fromCodePoint(cp) : m[0];
    return NAMED_ENTITIES[m[3]] ?? m[0];
  });
}

/** Whether the text has a run of at least `n` hex digits (either case): hex forms are nothing else. */
function hasHexRun(text: string, n: number): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)) {
      if (++run >= n) return true;
    } else run = 0;
  }
  return false;
}

/** Hex digits in one case, so `DEADbeef` and `deadbeef` read the same; positions do not move. */
function hexLower(text: string): Decoded | null {
  return /[A-F]/.test(text) ? identity(text.replace(/[A-F]/g, (c) => c.toLowerCase())) : identity(text);
}

const utf8Bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

/** UTF-16 as bytes read one per character (a body decoded as latin1, or as UTF-8 with NULs). */
function utf16Forms(s: string): string[] {
  const le = Buffer.from(s, 'utf16le');
  const be = Buffer.from(le).swap16();
  return [le.toString('latin1'), be.toString('latin1')];
}

/**
 * The secret in base64 and base64url wherever it sits in an encoded blob: each of the three byte
 * alignments gives a different spelling; only characters that depend on the secret's bits alone
 * are kept. Whole values only: a fragment's spelling would depend on where the cut falls.
 */
export function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms = new Set<string>([bytes.toString('base64'), bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url')]);
  for (let pad = 0; pad < 3; pad++) {
    const enc = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const inner = enc.slice(Math.ceil((8 * pad) / 6), Math.floor((8 * (pad + bytes.length)) / 6));
    forms.add(inner);
    forms.add(inner.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...forms];
}

/** Character-wise spellings (for secretForms and tests): escapes a provider might print. */
export function charForms(value: string): string[] {
  const hex = Buffer.from(value, 'utf8').toString('hex');
  return [
    JSON.stringify(value).slice(1, -1),
    JSON.stringify(value).slice(1, -1).replace(/\//g, '\\/'),
    [...value].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
    encodeURIComponent(value),
    new URLSearchParams({ v: value }).toString().slice(2),
    hex,
    hex.toUpperCase(),
    ...utf16Forms(value),
  ];
}

export const VIEWS: TextView[] = [
  {
    name: 'plain',
    decode: identity,
    // UTF-16 and base64 for the whole value only: a provider that re-encodes its echo does so
    // whole, and every extra form makes the pattern larger for every text scrubbed.
    forms: (piece, whole) => {
      const out = [piece];
      const bytes = utf8Bytes(piece);
      if (bytes !== piece) out.push(bytes);
      if (whole) out.push(...utf16Forms(piece), ...base64Forms(piece));
      return out;
    },
  },
  { name: 'string-escapes', decode: unescapeString, forms: (piece) => [piece] },
  // JSON inside a JSON string (a provider echoing the raw request it logged): `\\\/` and `\\u002f`.
  { name: 'string-escapes-twice', decode: (t) => { const once = unescapeString(t); return once && compose(once, unescapeString(once.text)); }, forms: (piece) => [piece] },
  { name: 'percent', decode: unpercent, forms: (piece) => [utf8Bytes(piece)] },
  { name: 'form', decode: unform, forms: (piece) => (piece.includes(' ') ? [utf8Bytes(piece)] : []) },
  // Percent-encoding inside an escaped string, and the reverse: `%2F` in JSON, `%5Cu002f` in a query.
  { name: 'escapes-then-percent', decode: (t) => { const once = unescapeString(t); return once && compose(once, unpercent(once.text)); }, forms: (piece) => [utf8Bytes(piece)] },
  { name: 'percent-then-escapes', decode: (t) => { const once = unpercent(t); return once && compose(once, unescapeString(once.text)); }, forms: (piece) => [piece] },
  { name: 'html', decode: unentity, forms: (piece) => [piece] },
  // Most texts (log lines, audit summaries, result keys) have no run of hex digits as long as a
  // hex form: they are not lower-cased and searched again.
  { name: 'hex', decode: hexLower, forms: (piece) => [Buffer.from(piece, 'utf8').toString('hex')], mayHold: hasHexRun },
];
