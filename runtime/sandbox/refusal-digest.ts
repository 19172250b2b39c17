// Refusals told once per plugin per window, not once per refusal: whoever makes a plugin refuse
// calls (anyone can post to its webhook) must not be able to grow the audit log with them. The
// first refusal of a window is written at once; the rest are counted and written as one line
// when the window ends.

export interface RefusalDigestOptions {
  windowMs: number;
  /** Writes one line for `plugin`: `count` refusals, the first one's text. */
  write: (plugin: string, count: number, text: string) => void;
}

export class RefusalDigest {
  private readonly options: RefusalDigestOptions;
  private readonly open = new Map<string, { more: number; text: string; timer: NodeJS.Timeout }>();

  constructor(options: RefusalDigestOptions) {
    this.options = options;
  }

  note(plugin: string, text: string): void {
    const window = this.open.get(plugin);
    if (window) {
      window.more++;
      return;
    }
    this.options.write(plugin, 1, text);
    const timer = setTimeout(() => this.close(plugin), this.options.windowMs);
    timer.unref();
    this.open.set(plugin, { more: 0, text, timer });
  }

  private close(plugin: string): void {
    const window = this.open.get(plugin);
    if (!window) return;
    this.open.delete(plugin);
    clearTimeout(window.timer);
    if (window.more > 0) this.options.write(plugin, window.more, `${window.more} more refused in ${this.options.windowMs / 1000} s; the first: ${window.text}`);
  }

  /** Writes what is counted (at shutdown). */
  flush(): void {
    for (const plugin of [...this.open.keys()]) this.close(plugin);
  }
}
