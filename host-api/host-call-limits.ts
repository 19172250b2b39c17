// The numbers behind the host-call caps (host-call-caps.ts): their defaults, their validation,
// how the bytes of a host call are counted, and the per-plugin minute window.
//
// Why these defaults: a platform plugin's webhook makes about six host calls (design.md §5), a
// transfer a few more; 200 per call leaves a wide margin and stops a loop at once. A cron sweep
// makes about seven per pending tx (4 config.get, http.request, history.update, updateOne), so a
// cron run gets 8 × the server's cronRequestsPerRun default. Per plugin per minute: a sweep held to
// httpRequestsPerMinute (1 200 txs) makes ~8 400, and 600 webhook deliveries (webhookRatePerMinute)
// ~3 600: 12 000. One host call argument may carry an http.request body at its 1 MiB cap as base64.
// 16 host calls of one plugin call at once: sweeps run their txs in series, webhooks make a handful;
// what a burst can pull past the byte budgets before they are counted is 16 results, not 200.

/** Server options of the same names (runtime/server/options.ts). */
export interface HostCallLimits {
  /** Host calls one plugin call may make (a platform webhook makes about six). Default 200. */
  hostCallsPerCall: number;
  /** Host calls one cron run may make (a sweep makes about seven per pending tx). Default 80 000. */
  cronHostCallsPerRun: number;
  /** Largest arguments of one host call, in bytes as JSON (an http.request body of 1 MiB as base64 fits). Default 2 MiB. */
  hostCallArgBytes: number;
  /** Bytes of arguments and results over all host calls of one plugin call. Default 16 MiB. */
  hostCallBytesPerCall: number;
  /** The same for one cron run. Default 128 MiB. */
  cronHostCallBytesPerRun: number;
  /** Host calls per plugin per minute (sliding window, every kind of call, cron included). Default 12 000. */
  hostCallsPerMinute: number;
  /** Bytes of host-call arguments and results per plugin per minute. Default 128 MiB. */
  hostCallBytesPerMinute: number;
  /** Host calls of one plugin call that run at once; the others wait their turn. Default 16. */
  hostCallsInFlightPerCall: number;
}

const MiB = 1024 * 1024;

/** The caps a sandbox process applies too, to the config reads it answers itself (config-snapshot.ts). */
export type SharedCapRule = 'host.calls-per-call' | 'host.calls-per-minute' | 'host.bytes-per-call' | 'host.bytes-per-minute';
export const SHARED_CAP_RULES: readonly SharedCapRule[] = ['host.calls-per-call', 'host.calls-per-minute', 'host.bytes-per-call', 'host.bytes-per-minute'];

/**
 * The refusal of one of those caps, word for word the same whether the server refuses the host call
 * (host-call-caps.ts) or the sandbox process refuses a read it would answer itself. `usedBytes`:
 * bytes exchanged so far in the call (bytes-per-call) or the minute (bytes-per-minute); `moreBytes`:
 * what the refused call would add.
 */
export function capRefusal(rule: SharedCapRule, at: { capability: string; plugin: string; method: string; usedBytes?: number; moreBytes?: number }, limits: HostCallLimits): string {
  const name = String(at.capability).slice(0, 80);
  const who = `plugin '${at.plugin}'`;
  const cron = at.method === 'cron';
  const inCall = cron ? 'one cron run' : `one call (${at.method})`;
  switch (rule) {
    case 'host.calls-per-call':
      return `${name} refused: ${who} has made the ${cron ? limits.cronHostCallsPerRun : limits.hostCallsPerCall} host calls allowed in ${inCall}; the host's administrator can raise the limit with the server option ${cron ? 'cronHostCallsPerRun' : 'hostCallsPerCall'}`;
    case 'host.calls-per-minute':
      return `${name} refused: ${who} has made the ${limits.hostCallsPerMinute} host calls allowed per minute; retry later, or the host's administrator can raise the limit with the server option hostCallsPerMinute`;
    case 'host.bytes-per-call':
      return `${name} refused: ${who} has exchanged ${at.usedBytes ?? 0} bytes of host-call arguments and results in ${inCall}, and ${at.moreBytes ?? 0} more would pass the ${cron ? limits.cronHostCallBytesPerRun : limits.hostCallBytesPerCall}-byte limit; the host's administrator can raise it with the server option ${cron ? 'cronHostCallBytesPerRun' : 'hostCallBytesPerCall'}`;
    case 'host.bytes-per-minute':
      return `${name} refused: ${who} has exchanged ${at.usedBytes ?? 0} bytes of host-call arguments and results in the last minute, and ${at.moreBytes ?? 0} more would pass the ${limits.hostCallBytesPerMinute}-byte limit; retry later, or the host's administrator can raise it with the server option hostCallBytesPerMinute`;
  }
}

export const DEFAULT_HOST_CALL_LIMITS: Readonly<HostCallLimits> = Object.freeze({
  hostCallsPerCall: 200,
  cronHostCallsPerRun: 80_000,
  hostCallArgBytes: 2 * MiB,
  hostCallBytesPerCall: 16 * MiB,
  cronHostCallBytesPerRun: 128 * MiB,
  hostCallsPerMinute: 12_000,
  hostCallBytesPerMinute: 128 * MiB,
  hostCallsInFlightPerCall: 16,
});

export const HOST_CALL_LIMIT_KEYS = Object.keys(DEFAULT_HOST_CALL_LIMITS) as (keyof HostCallLimits)[];

/** The limits out of a larger options object (the server's), defaults for what it leaves out. */
export function hostCallLimitsOf(options: Partial<HostCallLimits>): HostCallLimits {
  const out = { ...DEFAULT_HOST_CALL_LIMITS };
  for (const key of HOST_CALL_LIMIT_KEYS) if (options[key] !== undefined) out[key] = options[key];
  return checkHostCallLimits(out);
}

/** Every limit a whole number ≥ 1: a typo in PAYOUT_SANDBOX_OPTIONS must not switch a cap off. */
export function checkHostCallLimits(limits: HostCallLimits): HostCallLimits {
  for (const key of HOST_CALL_LIMIT_KEYS) {
    const v = limits[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      throw new Error(`server option ${key} must be a whole number of at least 1 (got ${JSON.stringify(v) ?? String(v)}); fix it in PAYOUT_SANDBOX_OPTIONS or leave it out for the default ${DEFAULT_HOST_CALL_LIMITS[key]}`);
    }
  }
  return limits;
}

/**
 * Size of `value` written as JSON, in bytes (strings as UTF-8 without escapes: what the plugin
 * handed over, not how it was framed). Stops as soon as the count passes `limit`, so a large value
 * costs no more than the limit to measure; no recursion, so any depth is safe. Every step adds at
 * least one byte, so even a cyclic value ends.
 */
export function jsonBytes(value: unknown, limit: number): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') total += Buffer.byteLength(v) + 2;
    else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') total += String(v).length;
    else if (v === null || typeof v !== 'object') total += 4;
    else if (Array.isArray(v)) {
      total += 2 + v.length; // brackets and (about) one comma per element, counted before the elements are
      if (total > limit) return total;
      for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    } else {
      const keys = Object.keys(v);
      total += 2 + keys.length * 4; // braces, quotes, colon, comma
      if (total > limit) return total;
      for (const k of keys) {
        total += Buffer.byteLength(k);
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
    if (total > limit) return total;
  }
  return total;
}

const SLOTS = 60;

/**
 * Host calls and bytes per plugin over the last 60 seconds, in one-second slots: a sliding window
 * (no burst of twice the cap across a minute boundary) at O(1) per call and 60 slots per plugin.
 */
export class MinuteWindow {
  private readonly plugins = new Map<string, { second: number; calls: Float64Array; bytes: Float64Array; callTotal: number; byteTotal: number }>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  private current(plugin: string) {
    const second = Math.floor(this.now() / 1000);
    let w = this.plugins.get(plugin);
    if (!w) {
      w = { second, calls: new Float64Array(SLOTS), bytes: new Float64Array(SLOTS), callTotal: 0, byteTotal: 0 };
      this.plugins.set(plugin, w);
      return w;
    }
    // Slots of seconds that left the window are emptied as the clock moves past them.
    for (let s = w.second + 1, steps = 0; s <= second && steps < SLOTS; s++, steps++) {
      const slot = s % SLOTS;
      w.callTotal -= w.calls[slot];
      w.byteTotal -= w.bytes[slot];
      w.calls[slot] = 0;
      w.bytes[slot] = 0;
    }
    if (second > w.second) w.second = second;
    return w;
  }

  usage(plugin: string): { calls: number; bytes: number } {
    const w = this.current(plugin);
    return { calls: w.callTotal, bytes: w.byteTotal };
  }

  add(plugin: string, calls: number, bytes: number): void {
    const w = this.current(plugin);
    const slot = w.second % SLOTS;
    w.calls[slot] += calls;
    w.bytes[slot] += bytes;
    w.callTotal += calls;
    w.byteTotal += bytes;
  }
}
