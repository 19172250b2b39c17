// Where one call's time goes, from the marks of a traced call (InvokeOptions.trace): the server's
// marks and the sandbox process's, each on its own clock. Only differences within one process are
// taken, so the clocks are never compared: a round trip's channel cost (the sender's encode, the
// write, the wake-up of the other process, its read) is what the server waited for that the
// sandbox process did not spend, e.g. for the invoke and the host call that follows it:
// (server: host call arrived − invoke sent) − (sandbox: host call sent − invoke arrived).
// The segments add up to the call's total (server: done − start).
import type { CallTrace } from '../../runtime/sandbox/sandbox-host-types.ts';
import type { TraceMark } from '../../runtime/sandbox/protocol.ts';
import { median, round } from './stats.ts';

export const SEGMENTS = [
  ['serverBefore', 'server: before the invoke leaves (breaker, queue, config push, minute share)'],
  ['channel', 'channel, per round trip: encode, write, wake-up, read (both ways)'],
  ['sandboxSetUp', 'sandbox process: invoke decoded, call set up'],
  ['pluginRun', 'sandbox process: plugin runs until its host call or its result (engine entry, plugin code, local answers)'],
  ['serverHostCall', 'server: host call (decode, caps, policy, implementation, audit, answer)'],
  ['pluginResumed', 'sandbox process: answer decoded, plugin resumed until its result'],
  ['sandboxReply', 'sandbox process: reply built (stats, config reads)'],
  ['serverAfter', 'server: reply decoded, result scrubbed, call closed'],
] as const;

export type SegmentName = typeof SEGMENTS[number][0];

export interface CallSegments {
  /** µs of each segment; `channel` is per round trip (the call's round trips in `roundTrips`). */
  us: Record<SegmentName, number>;
  roundTrips: number;
  totalUs: number;
}

const at = (marks: TraceMark[], label: string): number[] => marks.filter((m) => m[0] === label).map((m) => m[1]);

/**
 * The segments of one traced call whose host calls ran one after another (each answered before
 * the next was sent), or null when its marks do not have that shape.
 */
export function callSegments(trace: CallTrace): CallSegments | null {
  const s = trace.server;
  const b = trace.sandbox;
  const [start] = at(s, 'start');
  const [send] = at(s, 'send');
  const [replyArrive] = at(s, 'replyArrive');
  const [done] = at(s, 'done');
  const hostArrive = at(s, 'hostArrive');
  const hostAnswer = at(s, 'hostAnswer');
  const [arrive] = at(b, 'arrive');
  const [enter] = at(b, 'enter');
  const [result] = at(b, 'result');
  const [reply] = at(b, 'reply');
  const hostOut = at(b, 'hostOut');
  const hostIn = at(b, 'hostIn');
  const k = hostArrive.length;
  const known = [start, send, replyArrive, done, arrive, enter, result, reply];
  if (known.some((x) => x === undefined) || hostAnswer.length !== k || hostOut.length !== k || hostIn.length !== k) return null;
  // Sequential: each host call left after the previous one's answer arrived.
  for (let i = 1; i < k; i++) if (hostOut[i] < hostIn[i - 1] || hostArrive[i] < hostAnswer[i - 1]) return null;
  // Server: when it handed the sandbox process something, and when the next frame came back.
  const serverOut = [send, ...hostAnswer];
  const serverIn = [...hostArrive, replyArrive];
  // Sandbox process: when that frame arrived, and when it sent the next one.
  const sandboxIn = [arrive, ...hostIn];
  const sandboxOut = [...hostOut, reply];
  let channel = 0;
  for (let i = 0; i <= k; i++) channel += (serverIn[i] - serverOut[i]) - (sandboxOut[i] - sandboxIn[i]);
  let serverHostCall = 0;
  for (let i = 0; i < k; i++) serverHostCall += hostAnswer[i] - hostArrive[i];
  let pluginResumed = 0;
  for (let i = 0; i < k; i++) pluginResumed += (i + 1 < k ? hostOut[i + 1] : result) - hostIn[i];
  const us = (ms: number) => ms * 1000;
  return {
    us: {
      serverBefore: us(send - start),
      channel: us(channel / (k + 1)),
      sandboxSetUp: us(enter - arrive),
      pluginRun: us((k > 0 ? hostOut[0] : result) - enter),
      serverHostCall: us(serverHostCall),
      pluginResumed: us(pluginResumed),
      sandboxReply: us(reply - result),
      serverAfter: us(done - replyArrive),
    },
    roundTrips: k + 1,
    totalUs: us(done - start),
  };
}

export interface SegmentSummary {
  /** Calls whose marks had the sequential shape (the others are not counted). */
  calls: number;
  roundTrips: number;
  /** Median µs of each segment (channel: per round trip). */
  medianUs: Record<SegmentName, number>;
  /** Σ of the medians, each segment counted as often as it occurs (channel × round trips). */
  sumOfMediansUs: number;
  medianTotalUs: number;
}

export function summarizeSegments(traces: CallTrace[]): SegmentSummary | null {
  const calls = traces.map(callSegments).filter((c): c is CallSegments => c !== null);
  if (calls.length === 0) return null;
  const roundTrips = median(calls.map((c) => c.roundTrips));
  const medianUs = Object.fromEntries(SEGMENTS.map(([name]) => [name, round(median(calls.map((c) => c.us[name])), 1)])) as Record<SegmentName, number>;
  const sum = SEGMENTS.reduce((n, [name]) => n + medianUs[name] * (name === 'channel' ? roundTrips : 1), 0);
  return { calls: calls.length, roundTrips, medianUs, sumOfMediansUs: round(sum, 1), medianTotalUs: round(median(calls.map((c) => c.totalUs)), 1) };
}
