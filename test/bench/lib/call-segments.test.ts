// callSegments: a traced call's marks split into segments that add up to its total, with each
// process's times compared only with its own; calls whose host calls overlapped are not split.
import { describe, expect, it } from 'vitest';
import { callSegments, summarizeSegments } from '../../../bench/lib/call-segments.ts';
import type { CallTrace } from '../../../runtime/sandbox/sandbox-host-types.ts';

// The sandbox process's clock runs 1 000 000 ms ahead of the server's: only differences count.
const AHEAD = 1_000_000;
const sandbox = (marks: [string, number][]) => marks.map(([label, at]) => [label, at + AHEAD] as [string, number]);

/** One host call: invoke 0→1 ms in transit, host call 3→3.5, answer 4.5→5, reply 6→6.5. */
const ONE_HOST_CALL: CallTrace = {
  server: [['start', 0], ['send', 0.5], ['hostArrive', 3.5], ['hostAnswer', 4.5], ['replyArrive', 6.5], ['done', 7]],
  sandbox: sandbox([['arrive', 1], ['enter', 1.25], ['hostOut', 3], ['hostIn', 5], ['resumed', 5.5], ['result', 5.75], ['reply', 6]]),
};

describe('call segments', () => {
  it('splits a call with one host call; the segments add up to the total', () => {
    const s = callSegments(ONE_HOST_CALL);
    expect(s).not.toBeNull();
    expect(s!.roundTrips).toBe(2);
    expect(s!.totalUs).toBe(7000);
    expect(s!.us).toEqual({
      serverBefore: 500,
      // (3.5 − 0.5) − (3 − 1) = 1 ms, (6.5 − 4.5) − (6 − 5) = 1 ms: 1 ms per round trip.
      channel: 1000,
      sandboxSetUp: 250,
      pluginRun: 1750,
      serverHostCall: 1000,
      pluginResumed: 750,
      sandboxReply: 250,
      serverAfter: 500,
    });
    const sum = Object.entries(s!.us).reduce((n, [k, v]) => n + (k === 'channel' ? v * s!.roundTrips : v), 0);
    expect(sum).toBe(s!.totalUs);
  });

  it('a call without host calls has one round trip', () => {
    const s = callSegments({
      server: [['start', 0], ['send', 0.1], ['replyArrive', 1.1], ['done', 1.2]],
      sandbox: sandbox([['arrive', 0.4], ['enter', 0.5], ['result', 0.7], ['reply', 0.8]]),
    });
    expect(s?.roundTrips).toBe(1);
    expect(s?.us.channel).toBeCloseTo(600, 3);
    expect(s?.us.pluginRun).toBeCloseTo(200, 3);
    expect([s?.us.serverHostCall, s?.us.pluginResumed]).toEqual([0, 0]);
  });

  it('host calls that overlapped, or marks missing, give no split rather than a wrong one', () => {
    const overlapping: CallTrace = {
      server: [['start', 0], ['send', 0.1], ['hostArrive', 1], ['hostArrive', 1.1], ['hostAnswer', 2], ['hostAnswer', 2.1], ['replyArrive', 4], ['done', 4.1]],
      sandbox: sandbox([['arrive', 0.5], ['enter', 0.6], ['hostOut', 0.8], ['hostOut', 0.9], ['hostIn', 2.5], ['hostIn', 2.6], ['result', 3], ['reply', 3.1]]),
    };
    expect(callSegments(overlapping)).toBeNull();
    expect(callSegments({ server: ONE_HOST_CALL.server, sandbox: [] })).toBeNull();
    // Positive control: the same calls made one after another are split.
    expect(callSegments(ONE_HOST_CALL)).not.toBeNull();
  });

  it('summarizes medians over the calls that could be split, and says how many', () => {
    const summary = summarizeSegments([ONE_HOST_CALL, ONE_HOST_CALL, { server: [], sandbox: [] }]);
    expect(summary).toMatchObject({ calls: 2, roundTrips: 2, medianTotalUs: 7000, sumOfMediansUs: 7000 });
    expect(summarizeSegments([])).toBeNull();
  });
});
