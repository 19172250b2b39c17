// The per-plugin quota of the webhook inbox. Anyone may post to a plugin's callback URL, and every
// delivery is kept raw (up to the body limit), so without a bound an anonymous caller grows the
// store as fast as the rate limit lets them (≈146 MiB a minute per plugin at the defaults). Each
// delivery is admitted against the plugin's rows and bytes before anything is stored; over either,
// it is refused (429 for rows, 413 for bytes) and neither stored nor run. The answer and error
// kept when a delivery finishes are charged afterwards, so the inbox can pass its bytes by the
// answers of the deliveries in flight (each cut to 16 KiB), never by a request body.
//
// Usage is read from the store once per plugin and then counted here: admitting is synchronous
// after the first read, so a burst of concurrent deliveries cannot all pass one stale check. The
// count is read again from the store after each retention run and every `resyncMs` (other servers
// on the same database write rows too), so it follows deletions and drifts by at most what other
// servers admit within that interval.

import { releaseOnce } from '../release-once.ts';

export type QuotaLimit = 'rows' | 'bytes';
export type Admission =
  | { ok: true; release(): void }
  | { ok: false; limit: QuotaLimit; message: string };

export interface WebhookQuotaOptions {
  usage: (plugin: string) => Promise<{ rows: number; bytes: number }>;
  maxRows: number;
  maxBytes: number;
  /** How long a plugin's count is trusted before it is read from the store again. */
  resyncMs?: number;
  now?: () => number;
}

interface Usage { rows: number; bytes: number; readAt: number }

export class WebhookQuota {
  private readonly options: Required<WebhookQuotaOptions>;
  private readonly usage = new Map<string, Usage>();
  private readonly reading = new Map<string, Promise<Usage>>();

  constructor(options: WebhookQuotaOptions) {
    for (const [k, option] of [['maxRows', 'webhookInboxMaxRows'], ['maxBytes', 'webhookInboxMaxBytes']] as const) {
      if (!Number.isInteger(options[k]) || options[k] <= 0) throw new Error(`${option} must be a positive whole number, got ${options[k]}`);
    }
    this.options = { resyncMs: 60_000, now: Date.now, ...options };
  }

  /** Reserves room for one delivery of `bytes`; call release() if it is then not stored after all. */
  async admit(plugin: string, bytes: number): Promise<Admission> {
    const usage = await this.current(plugin);
    const { maxRows, maxBytes } = this.options;
    if (usage.rows + 1 > maxRows) {
      return { ok: false, limit: 'rows', message: `the webhook inbox of this plugin holds its maximum of ${maxRows} deliveries` };
    }
    if (usage.bytes + bytes > maxBytes) {
      return { ok: false, limit: 'bytes', message: `the webhook inbox of this plugin holds ${usage.bytes} of its ${maxBytes} bytes; this delivery takes ${bytes}` };
    }
    usage.rows += 1;
    usage.bytes += bytes;
    return {
      ok: true,
      release: releaseOnce(() => {
        usage.rows = Math.max(0, usage.rows - 1);
        usage.bytes = Math.max(0, usage.bytes - bytes);
      }),
    };
  }

  /** Adds what finishing an admitted delivery kept (its answer and error) to the plugin's count. */
  charge(plugin: string, bytes: number): void {
    const usage = this.usage.get(plugin);
    if (usage) usage.bytes += bytes;
  }

  /** Forgets every count (after retention deleted rows): the next delivery reads the store again. */
  resync(): void {
    this.usage.clear();
  }

  private async current(plugin: string): Promise<Usage> {
    const known = this.usage.get(plugin);
    if (known && this.options.now() - known.readAt < this.options.resyncMs) return known;
    let pending = this.reading.get(plugin);
    if (!pending) {
      pending = this.options.usage(plugin).then((u) => {
        const fresh = { rows: u.rows, bytes: u.bytes, readAt: this.options.now() };
        this.usage.set(plugin, fresh);
        return fresh;
      }).finally(() => this.reading.delete(plugin));
      this.reading.set(plugin, pending);
    }
    return pending;
  }
}
