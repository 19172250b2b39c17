// log: what a plugin's console.* becomes. Each line is scrubbed of every known secret value,
// truncated, rate limited per plugin, and kept in that plugin's own log (store.appendPluginLog),
// readable by administrators only. Plugins cannot read any log, their own included.
// Per call, the sandbox process also caps the number of lines (PluginLimits.maxLogLinesPerCall).
import type { Store } from '../runtime/store/store.ts';
import type { PluginLogLine } from '../runtime/store/types.ts';
import type { Scrubber } from '../runtime/secrets/scrubber.ts';

export const MAX_LOG_LINE = 4000;
export const LOG_LINES_PER_PLUGIN_PER_MINUTE = 600;

type Level = PluginLogLine['level'];

export class PluginLog {
  private readonly store: Pick<Store, 'appendPluginLog'>;
  private readonly scrubber: Scrubber;
  private readonly mirror: ((line: Omit<PluginLogLine, '_id'>) => void) | null;
  private buffer: Omit<PluginLogLine, '_id'>[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly windows = new Map<string, { start: number; count: number; dropped: number }>();

  constructor(store: Pick<Store, 'appendPluginLog'>, scrubber: Scrubber, mirror: ((line: Omit<PluginLogLine, '_id'>) => void) | null = null) {
    this.store = store;
    this.scrubber = scrubber;
    this.mirror = mirror;
  }

  write(plugin: string, callId: string | null, level: Level, text: string): void {
    const now = Date.now();
    let w = this.windows.get(plugin);
    if (!w || now - w.start >= 60_000) {
      if (w && w.dropped > 0) this.push(plugin, null, 'warn', `${w.dropped} log lines dropped: more than ${LOG_LINES_PER_PLUGIN_PER_MINUTE} per minute`, now);
      w = { start: now, count: 0, dropped: 0 };
      this.windows.set(plugin, w);
    }
    if (++w.count > LOG_LINES_PER_PLUGIN_PER_MINUTE) {
      w.dropped++;
      return;
    }
    // Scrub first: a cut through the middle of a secret would leave its first half behind.
    const clean = this.scrubber.scrub(text);
    const clipped = clean.length > MAX_LOG_LINE ? `${clean.slice(0, MAX_LOG_LINE)}… (${clean.length - MAX_LOG_LINE} more characters)` : clean;
    this.push(plugin, callId, level, clipped, now);
  }

  private push(plugin: string, callId: string | null, level: Level, text: string, at: number): void {
    const line = { plugin, callId, level, text, at: new Date(at).toISOString() };
    this.buffer.push(line);
    this.mirror?.(line);
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), 50);
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.flushing) await this.flushing;
    if (!this.buffer.length) return;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.store.appendPluginLog(batch).catch(() => {
      this.buffer.unshift(...batch.slice(-10_000));
    }).finally(() => { this.flushing = null; });
    await this.flushing;
  }
}
