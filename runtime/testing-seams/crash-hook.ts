// Crash injection for the reliability suite: PAYOUT_SANDBOX_CRASH_AT=<point>[:<n>] makes the
// server SIGKILL itself the n-th time (default 1st) it passes that named point of the payout path.
// Unset in production (crashPoint is then a no-op); it exists so that "never pays twice, never
// loses an IPN" is proven by killing real processes, not by reasoning.
// It sits in testing-seams, the bottom layer (design.md §2), so every layer on the payout path
// (host-api, payouts, IPN, server) can name its points without importing a layer above it.
import fs from 'node:fs';

/** The line a process writes to stderr just before it kills itself at a crash point. */
export const CRASH_MARKER = 'payout-sandbox crash point reached: ';

export const CRASH_POINTS = [
  'after-attempt-created', 'after-dispatching-written', 'after-request-marked', 'after-transfer-returned', 'after-tx-recorded',
  'after-attempt-accepted', 'after-order-settled', 'after-attempt-settled', 'after-unknown-written',
  'after-review-hold', 'sweep-after-lease-taken', 'ipn-after-claim', 'ipn-after-send',
  'history-after-transition', 'webhook-after-inbox', 'cron-after-lease',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

let hook: ((point: CrashPoint) => void) | undefined;

export function setCrashHook(h: ((point: CrashPoint) => void) | undefined): void {
  hook = h;
}

export function crashPoint(point: CrashPoint): void {
  hook?.(point);
}

export function crashHookFromEnv(env: NodeJS.ProcessEnv): ((point: CrashPoint) => void) | undefined {
  const spec = env.PAYOUT_SANDBOX_CRASH_AT;
  if (!spec) return undefined;
  const [target, nth] = spec.split(':');
  if (!(CRASH_POINTS as readonly string[]).includes(target)) throw new Error(`PAYOUT_SANDBOX_CRASH_AT: unknown point '${target}'; points: ${CRASH_POINTS.join(', ')}`);
  let remaining = Number(nth ?? 1) || 1;
  return (point) => {
    if (point !== target) return;
    remaining -= 1;
    if (remaining === 0) {
      // Written synchronously before the kill, so the suite counts a kill as landed at this point
      // only when the process really got here (and really died of SIGKILL).
      fs.writeSync(2, `${CRASH_MARKER}${point}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  };
}
