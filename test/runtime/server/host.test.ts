// What the host does with the IPN dispatcher's events: a store fault stalls merchant notifications,
// so it is logged with its error (pino `{ err }`: message, stack), not only counted.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ipnEventListener } from '../../../runtime/server/host.ts';

function capture(): { logger: pino.Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('IPN events on a host', () => {
  it('logs a store fault with its error and counts it; a delivery is only counted', async () => {
    const { logger, lines } = capture();
    const counted: string[] = [];
    const listen = ipnEventListener({ count: (r) => counted.push(r), logger });
    const fault = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    listen({ kind: 'error', stage: 'complete', id: 'ipn-7', error: 'database is locked', cause: fault });
    // Positive control: an ordinary delivery writes no error line.
    listen({ kind: 'sent', id: 'ipn-8', orderId: 'o-1', attempt: 1, httpStatus: 200, error: null, nextAttemptAt: null, durationMs: 3 } as never);
    await new Promise((r) => setImmediate(r));
    expect(counted).toEqual(['error', 'sent']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, ipn: { stage: 'complete', id: 'ipn-7' }, err: { type: 'Error', message: 'database is locked', code: 'SQLITE_BUSY' } });
    expect(lines[0].err.stack).toContain('host.test.ts');
    expect(lines[0].msg).toMatch(/IPN complete failed in the store: database is locked/);
  });
});
