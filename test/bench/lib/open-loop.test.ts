// The open-loop client counts every request it sent exactly once — answered (by status), timed
// out or failed — so the noisy-neighbour scenario's "answers by status" add up to what was sent.
// A loopback server answers in turn 429 (with Retry-After and the rate limiter's text), 200, and
// nothing at all (the client's timeout must count those, not lose them).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runOpenLoop } from '../../../bench/lib/open-loop.ts';

let server: http.Server | null = null;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

function serve(handler: http.RequestListener): Promise<string> {
  server = http.createServer(handler);
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}/x`)));
}

describe('runOpenLoop', () => {
  it('accounts for every request: answers by status, Retry-After, marked bodies, and timeouts', async () => {
    let n = 0;
    const url = await serve((req, res) => {
      req.resume();
      const turn = n++ % 3;
      if (turn === 0) res.writeHead(429, { 'retry-after': '2' }).end('too many deliveries to payout plugin x');
      else if (turn === 1) res.writeHead(200).end('ok');
      // turn 2: never answered
    });
    const r = await runOpenLoop({ url, method: 'POST', body: '{}', ratePerS: 20, durationS: 0.3, connections: 8, timeoutMs: 500, mark: 'too many deliveries' });
    expect(r.sent).toBe(6);
    expect(r.statuses).toEqual({ 200: 2, 429: 2 });
    expect(r.timeouts).toBe(2);
    expect(r.errors).toBe(0);
    expect(r.marked).toBe(2);
    expect(r.retryAfterS).toEqual({ '429:2': 2 });
    expect(r.latenciesMs).toHaveLength(4);
  }, 30_000);

  it('counts a connection the server drops as unanswered', async () => {
    const url = await serve((req) => { req.socket.destroy(); });
    const r = await runOpenLoop({ url, ratePerS: 10, durationS: 0.2, connections: 2, timeoutMs: 2000 });
    expect(r.sent).toBe(2);
    expect(r.errors).toBe(2);
    expect(r.statuses).toEqual({});
  }, 30_000);
});
