// Removes known secret values from any text that leaves the server: log lines, audit records,
// error messages, admin responses. Matching is by value (and its common encodings), because a
// plugin that read a secret can put it anywhere.
const MIN_SECRET_LENGTH = 4;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The forms a secret commonly takes when printed. */
export function secretForms(value: string): string[] {
  const buf = Buffer.from(value, 'utf8');
  const forms = new Set([
    value,
    buf.toString('base64'),
    buf.toString('base64').replace(/=+$/, ''),
    buf.toString('base64url'),
    buf.toString('hex'),
    buf.toString('hex').toUpperCase(),
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
  ]);
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

export class Scrubber {
  private readonly secrets = new Map<string, string>(); // value -> label
  private pattern: RegExp | null = null;
  private labels = new Map<string, string>(); // form -> label
  /** Per plugin: a pattern over that plugin's own secrets only (labels `<plugin>.<key>`). */
  private readonly owned = new Map<string, { pattern: RegExp | null; labels: Map<string, string> }>();

  add(value: string | null | undefined, label: string): void {
    if (!value || value.length < MIN_SECRET_LENGTH) return;
    if (this.secrets.get(value) === label) return;
    this.secrets.set(value, label);
    this.pattern = null;
    this.owned.clear();
  }

  remove(value: string): void {
    if (this.secrets.delete(value)) {
      this.pattern = null;
      this.owned.clear();
    }
  }

  private compile(): RegExp | null {
    if (this.pattern || this.secrets.size === 0) return this.pattern;
    this.labels = new Map();
    for (const [value, label] of this.secrets) for (const form of secretForms(value)) this.labels.set(form, label);
    const forms = [...this.labels.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.pattern = new RegExp(forms.join('|'), 'g');
    return this.pattern;
  }

  scrub(text: string): string {
    const pattern = this.compile();
    if (!pattern || !text) return text;
    return text.replace(pattern, (m) => `[redacted:${this.labels.get(m) ?? 'secret'}]`);
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
    const own = this.ownedBy(owner);
    if (!own.pattern || !text) return text;
    return text.replace(own.pattern, (m) => `[redacted:${own.labels.get(m) ?? 'secret'}]`);
  }

  /**
   * scrubFor over every string (and key) of a JSON-like value, without recursion: values from a
   * sandbox can be nested thousands deep. Returns a copy; the input is not changed.
   */
  scrubDeepFor<T>(owner: string, value: T): T {
    if (!this.ownedBy(owner).pattern) return value;
    if (typeof value === 'string') return this.scrubFor(owner, value) as T;
    if (!value || typeof value !== 'object') return value;
    const root: Record<string, unknown> = {};
    const stack: [unknown, object, string | number][] = [[value, root, 'v']];
    while (stack.length) {
      const [src, holder, key] = stack.pop()!;
      let out: unknown = src;
      if (typeof src === 'string') out = this.scrubFor(owner, src);
      else if (Array.isArray(src)) {
        const arr: unknown[] = new Array(src.length);
        src.forEach((x, i) => stack.push([x, arr, i]));
        out = arr;
      } else if (src && typeof src === 'object') {
        const obj: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(src)) stack.push([x, obj, this.scrubFor(owner, k)]);
        out = obj;
      }
      // defineProperty, not assignment: a "__proto__" key must stay an own property.
      Object.defineProperty(holder, key, { value: out, writable: true, enumerable: true, configurable: true });
    }
    return root.v as T;
  }

  private ownedBy(owner: string): { pattern: RegExp | null; labels: Map<string, string> } {
    let own = this.owned.get(owner);
    if (own) return own;
    const labels = new Map<string, string>();
    const prefix = `${owner}.`;
    for (const [value, label] of this.secrets) if (label.startsWith(prefix)) for (const form of secretForms(value)) labels.set(form, label);
    const forms = [...labels.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    own = { pattern: forms.length ? new RegExp(forms.join('|'), 'g') : null, labels };
    this.owned.set(owner, own);
    return own;
  }

  get size(): number {
    return this.secrets.size;
  }
}
