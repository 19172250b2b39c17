// timers: setTimeout / setInterval / setImmediate and bluebird's delay inside the isolate.
// Implemented by the sandbox process (runtime/sandbox/child/plugin-isolate.ts) with these rules:
//  - a timer belongs to the call that set it and is cancelled when that call ends, so no plugin
//    code runs outside a call (and outside its CPU budget and deadline);
//  - a timer that would fire after the call's deadline never fires: the deadline ends the call;
//  - at most MAX_TIMERS_PER_CALL timers per call; string callbacks are not evaluated;
//  - firing a timer is a timed resume, like a host call's result.
// Audit: timers are counted per call (`local: {timer: n}` in the call's audit record).

export const MAX_TIMERS_PER_CALL = 1000;
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

export function clampDelay(ms: unknown): number {
  return Math.max(0, Math.min(Number(ms) || 0, MAX_TIMER_DELAY_MS));
}
