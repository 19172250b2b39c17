// When a call that waited for its turn (the plugin's queue, a reload) may still start, and how long
// it may then run. Two ways to count (InvokeOptions.waitMs):
//   - without a wait bound, the deadline counts from the call: time spent waiting is not granted
//     again (a payout's lease is sized on the transfer deadline), and a call left with too little
//     of it is refused rather than started;
//   - with one, the wait is bounded on its own and the call then runs with its whole deadline
//     (webhooks: a provider's burst is never cut for time spent in our queue).

/** A call left with less time than this after waiting for its turn is refused rather than started. */
export const MIN_RUN_MS = 50;

export interface TurnTimes {
  /** `plugin.method`, for the message. */
  call: string;
  wallMs: number;
  waitMs: number | undefined;
  calledAt: number;
  now: number;
}

/** How long the call may run from now, or why it must not start (it is then refused, nothing ran). */
export function runTimeAtTurn(t: TurnTimes): { ok: true; runMs: number } | { ok: false; why: string } {
  const waitedMs = t.now - t.calledAt;
  if (t.waitMs === undefined) {
    const remainingMs = Math.floor(t.calledAt + t.wallMs - t.now);
    if (remainingMs < MIN_RUN_MS) return { ok: false, why: `${t.call} waited until ${remainingMs} ms of its ${t.wallMs} ms deadline were left` };
    return { ok: true, runMs: remainingMs };
  }
  if (waitedMs > t.waitMs) return { ok: false, why: `${t.call} waited ${waitedMs} ms for its turn, more than ${t.waitMs} ms` };
  return { ok: true, runMs: t.wallMs };
}
