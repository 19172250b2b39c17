// One JSON error shape on every route: the test reads the routes from the app's own OpenAPI
// document (so a new route is walked without editing this file), provokes an error on each
// (401 without the admin token, 404 with a name that does not exist, 400 for a malformed request)
// and checks that every JSON error is { statusCode, code, message, error: { code, message, field } }
// with a code from the registry. Routes that answer HTML (the customer's pages) answer HTML errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '../../../runtime/server/host.ts';
import type { Host } from '../../../runtime/server/host.ts';
import { buildApp } from '../../../runtime/server/app.ts';
import { defaultServerOptions } from '../../../runtime/server/options.ts';
import { isErrorCode } from '../../../runtime/errors.ts';

const ADMIN = 'admin-token-for-error-shape-0123';
const METRICS = 'metrics-token-for-error-shape-4567';
const fixture = fileURLToPath(new URL('../../fixtures/plugins/minimal', import.meta.url));

interface Operation { security?: unknown[]; requestBody?: unknown; responses?: Record<string, { content?: Record<string, unknown> }> }

let host: Host;
let app: FastifyInstance;
let dir: string;
const logLines: string[] = [];
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-error-shape-'));
  const pluginsDir = path.join(dir, 'plugins');
  fs.cpSync(fixture, path.join(pluginsDir, 'shape-probe'), { recursive: true });
  host = await createHost(defaultServerOptions({
    dataDir: dir, dbUrl: `sqlite:${path.join(dir, 'store.db')}`, adminToken: ADMIN, metricsToken: METRICS, pluginsDir,
  }), { logger: pino({ level: 'warn' }, { write: (line: string) => { logLines.push(line); } }) });
  await host.start();
  app = await buildApp(host);
});
afterAll(async () => {
  await app?.close();
  await host?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The one shape, with a registry code; returns the code. */
function expectOneShape(res: LightMyRequestResponse, where: string): string {
  expect(res.headers['content-type'], where).toMatch(/^application\/json/);
  const body = res.json();
  expect(Object.keys(body).sort(), where).toEqual(['code', 'error', 'message', 'statusCode']);
  expect(body.statusCode, where).toBe(res.statusCode);
  expect(isErrorCode(body.code), `${where}: ${body.code} is not in runtime/errors.ts`).toBe(true);
  expect(typeof body.message, where).toBe('string');
  expect(body.message.length, where).toBeGreaterThan(0);
  expect(body.error, where).toMatchObject({ code: body.code, message: body.message });
  expect(body.error.field === null || typeof body.error.field === 'string', where).toBe(true);
  return body.code;
}

/** Every documented operation: method, path in Fastify's :param form, and its OpenAPI operation. */
async function documentedRoutes(): Promise<{ method: string; path: string; op: Operation }[]> {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, Operation>> };
  return Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([method, op]) => ({
    method: method.toUpperCase(), path: p.replace(/\{(\w+)\}/g, ':$1'), op,
  })));
}

/** A value for each path parameter that names nothing on this host. */
const bogus = (p: string) => p.replace(/:(\w+)/g, (_m, name: string) => (name === 'uid' ? '999999' : name === 'lang' ? 'en' : `no-such-${name.toLowerCase()}`));
const answersHtml = (op: Operation) => Object.values(op.responses ?? {}).some((r) => r.content && 'text/html' in r.content);

describe('the one error shape on every route', () => {
  it('walks every documented route and gets the one shape, with a code, for an error on each', async () => {
    const routes = await documentedRoutes();
    // The walk found the API, not an empty document: admin, merchant, callbacks, pages, ops.
    expect(routes.length).toBeGreaterThan(20);
    const seen: string[] = [];
    for (const { method, path: p, op } of routes) {
      const where = `${method} ${p}`;
      const url = bogus(p);
      if (answersHtml(op)) {
        // The customer's pages: an error is a page in the customer's language, never JSON.
        const res = await app.inject({ method, url });
        expect(res.statusCode, where).toBe(404);
        expect(res.headers['content-type'], where).toMatch(/^text\/html/);
        seen.push(`${where} → 404 html`);
        continue;
      }
      if (op.security?.length) {
        // Admin API and /metrics: without a token, 401 in the one shape.
        const res = await app.inject({ method, url, payload: method === 'GET' || method === 'DELETE' ? undefined : {} });
        expect(res.statusCode, where).toBe(401);
        const code = expectOneShape(res, where);
        expect(['ADMIN_TOKEN_INVALID', 'METRICS_TOKEN_INVALID'], where).toContain(code);
        seen.push(`${where} → 401 ${code}`);
        if (!p.includes(':')) continue;
        // With the token and names that do not exist: an error, in the one shape.
        const named = await app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}` }, payload: method === 'GET' || method === 'DELETE' ? undefined : {} });
        expect(named.statusCode, `${where}: ${named.body}`).toBeGreaterThanOrEqual(400);
        seen.push(`${where} → ${named.statusCode} ${expectOneShape(named, `${where} (with token)`)}`);
        continue;
      }
      if (method === 'GET' && !p.includes(':') && !op.requestBody) {
        // Open reads with nothing to get wrong (/healthz); a query they require is checked below.
        const res = await app.inject({ method, url });
        if (res.statusCode < 400) continue;
        seen.push(`${where} → ${res.statusCode} ${expectOneShape(res, where)}`);
        continue;
      }
      // Merchant API and plugin callbacks: an empty request to a name that does not exist.
      const res = await app.inject({ method, url, headers: { 'content-type': 'application/json' }, payload: method === 'GET' ? undefined : '{}' });
      expect(res.statusCode, `${where}: ${res.body}`).toBeGreaterThanOrEqual(400);
      seen.push(`${where} → ${res.statusCode} ${expectOneShape(res, where)}`);
    }
    // Every kind of route was provoked (positive control against a walk that skipped them all).
    expect(seen.some((s) => s.startsWith('POST /api/public/exchanger/order/create → 400 ORDER_'))).toBe(true);
    expect(seen.some((s) => s.includes('/payout_call/') && s.endsWith('404 CALLBACK_NOT_FOUND'))).toBe(true);
    expect(seen.some((s) => s.startsWith('GET /metrics → 401 METRICS_TOKEN_INVALID'))).toBe(true);
    expect(seen.filter((s) => s.includes('ADMIN_TOKEN_INVALID')).length).toBeGreaterThan(10);
  });

  it('answers an unknown route in the one shape (ROUTE_NOT_FOUND), without the query', async () => {
    const res = await app.inject({ method: 'GET', url: '/no/such/route?secret=hunter2' });
    expect(res.statusCode).toBe(404);
    expect(expectOneShape(res, 'unknown route')).toBe('ROUTE_NOT_FOUND');
    expect(res.body).not.toContain('hunter2');
  });

  it('an unknown admin path is no secret oracle: the 404 echoes no path, so the admin scrubber has nothing to mark', async () => {
    // The attack: /api/admin/* answers pass the scrubber; a 404 that echoed the path would come back
    // "[redacted:…]" exactly when the guess is a secret, the admin token included.
    const guessed = await app.inject({ method: 'GET', url: `/api/admin/${ADMIN}` });
    const other = await app.inject({ method: 'GET', url: '/api/admin/not-a-secret-at-all-0000' });
    expect(guessed.statusCode).toBe(404);
    expect(expectOneShape(guessed, 'guess')).toBe('ROUTE_NOT_FOUND');
    expect(guessed.body).not.toMatch(/redacted/);
    expect(guessed.body).toBe(other.body);
    // Positive control: the scrubber does mark the token in an admin answer, so the oracle was real.
    expect(host.scrubber.scrub(`x ${ADMIN} x`)).toMatch(/redacted/);
  });

  it('answers the admin page\'s undocumented file routes in the one shape too', async () => {
    for (const url of ['/admin/ui/no-such-file.js', '/admin/vendor/no-such-file']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(expectOneShape(res, url)).toBe('NOT_FOUND');
    }
  });

  it('answers a schema violation on an admin route in the one shape, naming the field', async () => {
    const routes = await documentedRoutes();
    const withBody = routes.filter((r) => r.op.security?.length && r.op.requestBody && r.method !== 'GET');
    const answers = [];
    for (const r of withBody) {
      const res = await app.inject({ method: r.method, url: bogus(r.path), headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, payload: '[1,2,3]' });
      if (res.statusCode === 400) answers.push(expectOneShape(res, `${r.method} ${r.path}`));
    }
    expect(answers).toContain('VALIDATION_FAILED');
  });

  it('logs a fault with its error (message and stack), and answers only INTERNAL', async () => {
    const probe = await buildApp(host);
    try {
      probe.get('/probe-fault', async () => { throw new Error('disk on fire'); });
      const res = await probe.inject({ method: 'GET', url: '/probe-fault' });
      expect(res.statusCode).toBe(500);
      expect(expectOneShape(res, 'fault')).toBe('INTERNAL');
      expect(res.body).not.toContain('disk on fire');
      const line = logLines.map((l) => JSON.parse(l)).find((l) => l.err?.message === 'disk on fire');
      expect(line?.err).toMatchObject({ type: 'Error', message: 'disk on fire' });
      expect(line?.err.stack).toContain('error-shape.test.ts');
    } finally {
      await probe.close();
    }
  });
});
