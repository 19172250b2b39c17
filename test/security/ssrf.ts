// SSRF group: the 103-row table of test/host-api/ssrf-cases.ts (imported, not copied), replayed
// from inside a real sandbox — a hostile plugin calls http.request with each row's URL through the
// real policed host API. Only loopback is ever contacted: DNS answers and non-loopback addresses
// are decided by the table's injected resolver and connector, which record a violation if the
// guard ever hands them a non-loopback address.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { openLocalHost } from '../../runtime/local/local-session.ts';
import type { LocalHost } from '../../runtime/local/local-session.ts';
import type { Grant } from '../../host-api/http.ts';
import { SSRF_CASES, fill, startTrap, tableResolver, testConnector } from '../host-api/ssrf-cases.ts';
import type { ConnectorMode, SsrfCase, Trap } from '../host-api/ssrf-cases.ts';
import { writePlugin } from '../helpers/plugin-fixture.ts';
import { all } from './tally.ts';
import type { SecurityCase } from './tally.ts';

export interface SsrfEnv {
  local: LocalHost;
  provider: http.Server;
  providerRequests: string[];
  trap: Trap;
  ports: { P: number; TRAP: number };
  violations: string[];
  current: { row: SsrfCase | null };
  close(): Promise<void>;
}

// It calls the bridge directly, but requires axios: http.request is in its capability set.
const BOT_INDEX = `
require('axios');
class Bot {
  async getFields(lang, request) {
    if (request === 'CARDUAH') return [];
    try {
      const r = await globalThis.__ps_host.call('http.request', JSON.parse(request));
      return { sent: true, status: r.status };
    } catch (e) {
      return { sent: false, code: e.code, rule: e.rule, message: String(e.message).slice(0, 300) };
    }
  }
  async transfer() { return null; }
}
module.exports = Bot;`;

export async function startSsrfEnv(): Promise<SsrfEnv> {
  const trap = await startTrap();
  const providerRequests: string[] = [];
  const current: { row: SsrfCase | null } = { row: null };
  const ports = { P: 0, TRAP: trap.port };
  const provider = http.createServer((req, res) => {
    providerRequests.push(`${req.method} ${req.url}`);
    const m = /^\/chain\/(\d+)$/.exec(req.url ?? '');
    const loc = m && current.row?.redirects?.[Number(m[1])];
    if (loc !== undefined && loc !== null) {
      res.writeHead(302, { location: fill(loc, ports) });
      res.end();
      return;
    }
    res.setHeader('content-type', 'text/plain');
    res.end('provider');
  });
  await new Promise<void>((r) => provider.listen(0, '127.0.0.1', () => r()));
  ports.P = (provider.address() as AddressInfo).port;
  const violations: string[] = [];
  const grantsFor = async (): Promise<Grant[]> => [`http://127.0.0.1:${ports.P}`, ...(current.row?.grants ?? []).map((g) => fill(g, ports))]
    .map((origin) => ({ origin, pathPrefix: null, methods: null }));
  const local = await openLocalHost({
    grantsFor,
    http: {
      resolve: tableResolver(() => current.row?.dns ?? {}),
      connect: testConnector({ mode: (): ConnectorMode => current.row?.connector ?? 'strict', trapPort: () => ports.TRAP, violations }),
      caps: { totalTimeoutMs: 5000, connectTimeoutMs: 2000, maxRequestsPerMinute: 100_000 },
    },
    sandbox: { breaker: { threshold: 100_000 } },
  });
  await local.load(writePlugin('ssrfbot', { 'index.js': BOT_INDEX }));
  await local.load(writePlugin('ssrfsentinel', {}));
  return {
    local, provider, providerRequests, trap, ports, violations, current,
    async close() {
      await local.close();
      provider.closeAllConnections();
      await new Promise<void>((r) => provider.close(() => r()));
      await trap.close();
    },
  };
}

function rowCase(row: SsrfCase): SecurityCase<SsrfEnv> {
  return {
    name: `ssrf: ${row.name}`,
    attack: `${row.method ?? 'GET'} ${row.url}${row.redirects ? ` → ${row.redirects.join(' → ')}` : ''}`,
    async run(env) {
      env.current.row = row;
      const trapBefore = { connections: env.trap.connections, requests: env.trap.requests.length };
      const violationsBefore = env.violations.length;
      const providerBefore = env.providerRequests.length;
      const args = { method: row.method ?? 'GET', url: fill(row.url, env.ports), headers: {}, body: row.body ?? null, bodyEncoding: 'utf8' };
      const r = await env.local.sandbox.invoke('ssrfbot', 'getFields', ['en', JSON.stringify(args)]);
      env.current.row = null;
      if (!r.ok) return all([[false, `the plugin call failed: ${r.error.kind} ${r.error.message}`]]);
      const v = r.value as { sent: boolean; code?: string; rule?: string; message?: string };
      const diverted = row.connector !== undefined && row.connector !== 'strict';
      return all([
        [!v.sent && v.code === 'HOST_DENIED', `not refused by policy: ${JSON.stringify(v)}`],
        [v.rule === row.rule, `refused with ${v.rule}, expected ${row.rule} (${v.message})`],
        [env.violations.length === violationsBefore, `the connector was handed a non-loopback address: ${env.violations.slice(violationsBefore).join('; ')}`],
        [env.trap.requests.length === trapBefore.requests, 'request bytes reached the trap'],
        [diverted || env.trap.connections === trapBefore.connections, 'a connection reached the trap'],
        [r.ctx.counters.outboundRequests === env.providerRequests.length - providerBefore, `counted ${r.ctx.counters.outboundRequests} requests, the provider saw ${env.providerRequests.length - providerBefore}`],
      ]);
    },
  };
}

export const ssrfCases = SSRF_CASES.map(rowCase);

/** The sentinel answers and the hostile plugin can still reach its one granted provider. */
export async function ssrfStillServing(env: SsrfEnv): Promise<string | null> {
  const s = await env.local.sandbox.invoke('ssrfsentinel', 'getFields', ['en', 'CARDUAH']);
  if (!s.ok) return `sentinel: ${s.error.kind} ${s.error.message}`;
  const r = await env.local.sandbox.invoke('ssrfbot', 'getFields', ['en', JSON.stringify({ method: 'GET', url: `http://127.0.0.1:${env.ports.P}/ping`, headers: {}, body: null, bodyEncoding: 'utf8' })]);
  if (!r.ok || !(r.value as { sent: boolean }).sent) return `the granted provider is unreachable: ${JSON.stringify(r.ok ? r.value : r.error)}`;
  return null;
}
