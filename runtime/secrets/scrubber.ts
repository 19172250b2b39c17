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

  add(value: string | null | undefined, label: string): void {
    if (!value || value.length < MIN_SECRET_LENGTH) return;
    if (this.secrets.get(value) === label) return;
    this.secrets.set(value, label);
    this.pattern = null;
  }

  remove(value: string): void {
    if (this.secrets.delete(value)) this.pattern = null;
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

  get size(): number {
    return this.secrets.size;
  }
}
