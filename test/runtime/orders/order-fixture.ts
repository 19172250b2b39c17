// A real host for order tests: in-memory store, real sandbox process, the real nimbuspay plugin,
// and two small fixture plugins — one whose field pattern is catastrophic (ReDoS), one that takes
// any text (so hostile text can reach the pages through the real create path).
import { afterAll, beforeAll } from 'vitest';
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { openLocalHost } from '../../../runtime/local/local-session.ts';
import type { LocalHost } from '../../../runtime/local/local-session.ts';
import { buildIpn } from '../../../runtime/ipn/ipn-message.ts';
import type { LoadedPlugin } from '../../../runtime/plugins/load-plugin.ts';
import { OrderService } from '../../../runtime/orders/order-service.ts';
import type { OrderServiceDeps } from '../../../runtime/orders/order-service.ts';
import type { Order, Route } from '../../../runtime/store/types.ts';
import { merchantRoutes } from '../../../runtime/server/routes/merchant.ts';
import { pageRoutes } from '../../../runtime/server/routes/pages.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';

export const CARD = '4111111111111111';

export interface OrdersHost {
  local: LocalHost;
  orders: OrderService;
  /** USDTTRC20 → CARDUAH via nimbuspay, 10..10000, rate 41.5. */
  route: Route;
  /** → MEMO via the permissive fixture plugin. */
  memoRoute: Route;
  /** → CARDUAH via the ReDoS fixture plugin. */
  redosRoute: Route;
  plugins: Map<string, LoadedPlugin>;
  enteredPayout: Order[];
  ipnKicks: { count: number };
  close(): Promise<void>;
}

const MEMO_INDEX = `
module.exports = class {
  async getFields(lang, xml) {
    return [{ _id: 'memo', name: lang === 'ru' ? 'Примечание' : 'Memo', regexp: '^[\\\\s\\\\S]{1,500}$', required: true }];
  }
  async transfer() { return { ok: 2 }; }
};`;

const REDOS_INDEX = `
module.exports = class {
  async getFields() { return [{ _id: 'card_number', name: 'Card', regexp: '^(a+)+$', required: true }]; }
  async transfer() { return { ok: 2 }; }
};`;

export async function openOrdersHost(extra: Partial<OrderServiceDeps> = {}): Promise<OrdersHost> {
  const local = await openLocalHost({ sandbox: { limits: { cpuMsPerCall: 300 }, breaker: { threshold: 1000 } } });
  const plugins = new Map<string, LoadedPlugin>();
  for (const dir of ['plugins/nimbuspay', writePlugin('memofields', { 'index.js': MEMO_INDEX }), writePlugin('redosfields', { 'index.js': REDOS_INDEX })]) {
    const p = await local.load(dir);
    plugins.set(p.key, p);
  }
  const base = { minAmount: '10', maxAmount: '10000', autoPayout: true, active: true };
  const route = await local.store.createRoute({ ...base, fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '41.5', payoutPlugin: 'nimbuspay' });
  const memoRoute = await local.store.createRoute({ ...base, fromXml: 'USDTTRC20', toXml: 'MEMO', outSymbol: 'MEMO', rate: '1', payoutPlugin: 'memofields' });
  const redosRoute = await local.store.createRoute({ ...base, fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '41.5', payoutPlugin: 'redosfields' });
  const enteredPayout: Order[] = [];
  const ipnKicks = { count: 0 };
  const orders = new OrderService({
    store: local.store,
    sandbox: local.sandbox,
    activePlugin: (key) => plugins.get(key) ?? null,
    audit: local.host.audit,
    buildIpn: (order, status) => buildIpn(order, status, { maxAttempts: 1 }),
    onEnteredPayout: (order) => { enteredPayout.push(order); },
    onIpnEnqueued: () => { ipnKicks.count++; },
    getFieldsWallMs: 5000,
    ...extra,
  });
  return { local, orders, route, memoRoute, redosRoute, plugins, enteredPayout, ipnKicks, close: () => local.close() };
}

/** Another route like `route`, with some fields changed. */
export async function routeLike(host: OrdersHost, route: Route, overrides: Partial<Route> = {}): Promise<Route> {
  const { _id, createdAt, updatedAt, ...rest } = { ...route, ...overrides };
  void _id; void createdAt; void updatedAt;
  return host.local.store.createRoute(rest);
}

/** A JSON order for the nimbuspay route that passes every check. */
export function validOrder(route: Route, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    routeId: route._id, amount: '100', agreement: true, lang: 'en',
    toValues: [{ key: 'card_number', value: CARD }],
    ...overrides,
  };
}

/**
 * A Fastify instance with the merchant API and the pages, registered as runtime/server/app.ts does
 * (TypeBox validator compiler and OpenAPI at the root; optionally @fastify/formbody at the root too,
 * which our own form parser must replace inside the merchant routes).
 */
export async function buildTestApp(orders: OrderService, options: { ratePerMinute?: number; rootFormbody?: boolean } = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  await app.register(swagger, { openapi: { info: { title: 'test', version: '0' } } });
  if (options.rootFormbody) await app.register(formbody);
  await app.register(merchantRoutes, { orders, ratePerMinute: options.ratePerMinute ?? 1000 });
  await app.register(pageRoutes, { orders });
  await app.ready();
  return app;
}

/** Encodes [key, value] pairs the way a browser form does (brackets percent-encoded, space as +). */
export function formBody(pairs: [string, string][]): string {
  return new URLSearchParams(pairs).toString();
}

/**
 * An orders host and the merchant app on it for the whole test file: opened before the first test,
 * closed after the last; `use` receives them.
 */
export function useOrdersApp(use: (host: OrdersHost, app: FastifyInstance) => void): void {
  let host: OrdersHost | undefined;
  let app: FastifyInstance | undefined;
  beforeAll(async () => {
    host = await openOrdersHost();
    app = await buildTestApp(host.orders);
    use(host, app);
  });
  afterAll(async () => {
    await app?.close();
    await host?.close();
  });
}
