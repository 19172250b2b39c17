// Escape and abuse corpus, part 2: another plugin's data. Config, process.env, payout txs, orders
// and logs of alice (the victim), forged updateHistory, and queries that try to widen their scope.
// Decided from the store: what mallory got back, and whether anything of alice's changed.
import { orderWithTx } from '../helpers/orders.ts';
import { ALICE_CANARY, ALICE_KEY } from './corpus-env.ts';
import type { CorpusEnv } from './corpus-env.ts';
import { all } from './tally.ts';
import type { SecurityCase } from './tally.ts';

type Case = SecurityCase<CorpusEnv>;

const mentionsAlice = (v: unknown, env: CorpusEnv) => {
  const s = JSON.stringify(v) ?? '';
  return s.includes(ALICE_CANARY) || s.includes(ALICE_KEY) || s.includes(env.alice.txId) || s.includes(env.alice.orderId) || s.includes('"alice"');
};

async function aliceUntouched(env: CorpusEnv): Promise<[boolean, string][]> {
  const [tx] = await env.local.store.findPayoutTxs({ plugin: 'alice', conditions: [{ field: '_id', op: 'eq', value: env.alice.txId }] });
  const order = await env.local.store.getOrder(env.alice.orderId);
  const history = await env.local.store.getOrderHistory(env.alice.orderId);
  const ipns = await env.local.store.listIpns(env.alice.orderId);
  return [
    [tx?.active === true && tx.note === null, `alice's tx changed: ${JSON.stringify(tx)}`],
    [order?.status === 'inProgressPayout' && order.orderNote === null && order.payoutStatus === null, `alice's order changed: ${order?.status} ${order?.orderNote}`],
    [history.length === 0 && ipns.length === 0, `alice's order got ${history.length} history entries and ${ipns.length} IPNs`],
  ];
}

/** A query filter that must be refused (or stay within mallory's own rows) for find, count and updateOne. */
function widening(name: string, filter: string): Case {
  return {
    name: `scope widening refused: ${name}`,
    attack: `find / countDocuments / updateOne with ${filter}`,
    async run(env) {
      const v = await env.value(`const f = () => (${filter});
        const found = await db.OrderPayoutTxs.find(f()).populate('order').lean().then((r) => r, (e) => 'refused:' + e.rule);
        const one = await db.OrderPayoutTxs.findOne(f()).lean().then((r) => r, (e) => 'refused:' + e.rule);
        const count = await db.OrderPayoutTxs.countDocuments(f()).then((r) => r, (e) => 'refused:' + e.rule);
        const update = await db.OrderPayoutTxs.updateOne(f(), { $set: { active: false, note: 'mallory was here' } }).then((r) => r, (e) => 'refused:' + e.rule);
        const rows = Array.isArray(found) ? found : one && typeof one === 'object' ? [one] : [];
        return { found, one, count, update, modules: rows.map((r) => r.payoutModule) };`);
      const ownCount = (await env.local.store.findPayoutTxs({ plugin: 'mallory', conditions: [] })).length;
      return all([
        [!mentionsAlice(v.found, env) && !mentionsAlice(v.one, env), `alice's rows came back: ${JSON.stringify(v).slice(0, 300)}`],
        [(v.modules as string[]).every((m) => m === 'mallory'), `rows of ${v.modules}`],
        [typeof v.count !== 'number' || v.count <= ownCount, `count ${v.count} exceeds mallory's own ${ownCount}`],
        ...(await aliceUntouched(env)),
      ]);
    },
  };
}

export const dataCases: Case[] = [
  // ---- config, env ------------------------------------------------------------------------------
  {
    name: 'config.get never answers with another plugin\'s values, whatever the key',
    attack: "config.get('apiSecret' | 'apiKey' | 'alice.apiSecret' | '../alice/apiSecret' | '__proto__' | 'constructor' | 'hasOwnProperty' | 'toString')",
    async run(env) {
      const v = await env.value(`const out = {}; for (const k of ['apiSecret', 'apiKey', 'alice.apiSecret', '../alice/apiSecret', 'alice/apiSecret', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf'])
        out[k] = await config.get(k).then((v) => v, (e) => 'refused:' + e.rule); return out;`);
      return all([[!mentionsAlice(v, env), `alice's config came back: ${JSON.stringify(v)}`]]);
    },
  },
  {
    name: 'process.env holds only API_URL: no server environment, no secrets',
    attack: 'reads every key and value of process.env, and tries to add one',
    async run(env) {
      const v = await env.value(`try { process.env.ADDED = '1'; } catch (e) {} return { keys: Object.keys(process.env), values: Object.values(process.env) };`);
      return all([
        [JSON.stringify(v.keys) === '["API_URL"]', `process.env keys: ${v.keys}`],
        [!/PAYOUT_SANDBOX|ADMIN|MASTER|PATH|HOME/.test(JSON.stringify(v.values)), `process.env values: ${v.values}`],
      ]);
    },
  },
  // ---- payout txs and orders --------------------------------------------------------------------
  {
    name: 'find / findOne / findById / countDocuments never see another plugin\'s txs',
    attack: "queries by alice's tx id, alice's order id, and with no filter",
    async run(env) {
      const id = JSON.stringify(env.alice.txId);
      const order = JSON.stringify(env.alice.orderId);
      const v = await env.value(`return { byId: await db.OrderPayoutTxs.findById(${id}).lean(), one: await db.OrderPayoutTxs.findOne({ _id: ${id} }),
        byOrder: await db.OrderPayoutTxs.find({ order: ${order} }).lean(), all: await db.OrderPayoutTxs.find({}).lean(),
        count: await db.OrderPayoutTxs.countDocuments({ order: ${order} }), in: await db.OrderPayoutTxs.find({ _id: { $in: [${id}] } }).lean() };`);
      return all([[!mentionsAlice(v, env), `alice's rows came back: ${JSON.stringify(v).slice(0, 300)}`], [v.count === 0, `count ${v.count}`]]);
    },
  },
  {
    name: 'updateOne and save() on another plugin\'s tx change nothing',
    attack: "updateOne({_id: alice's tx}, {$set: {active: false}}), and a forged document's save()",
    async run(env) {
      const id = JSON.stringify(env.alice.txId);
      const v = await env.value(`const r = await db.OrderPayoutTxs.updateOne({ _id: ${id} }, { $set: { active: false, note: 'x' } });
        const r2 = await host.call('payoutTxs.updateOne', { filter: { _id: ${id}, payoutModule: 'mallory' }, update: { active: false } }).then((x) => x, (e) => e.rule);
        return [r, r2];`);
      return all([[v[0].matchedCount === 0, `matched ${v[0].matchedCount}`], ...(await aliceUntouched(env))]);
    },
  },
  {
    name: 'populate with a select naming the merchant\'s secrets returns only the plugin\'s projection',
    attack: "populate({path:'order', select:'secret ipnSecret ipnUrl clientCallbackUrl fromValues routeValues partner payoutModule'}) on its own tx",
    async run(env) {
      const { order } = await orderWithTx(env.local.store, 'mallory');
      const v = await env.value(`return await db.OrderPayoutTxs.findOne({ order: ${JSON.stringify(order._id)} }).populate({ path: 'order', select: 'secret ipnSecret ipnUrl clientCallbackUrl fromValues routeValues partner payoutModule +ipnSecret' }).lean();`);
      const text = JSON.stringify(v);
      return all([[!/order-page-secret|merchant-ipn-secret|ipnUrl|ipnSecret|127\.0\.0\.1:9/.test(text), `order fields leaked: ${text.slice(0, 300)}`]]);
    },
  },
  {
    name: 'populate of anything but order is refused',
    attack: "populate('attempts'), populate('order.route'), populate({path: 'payoutModule'})",
    async run(env) {
      const v = await env.value(`const out = []; for (const p of ['attempts', 'order.route', { path: 'payoutModule' }, { path: '__proto__' }])
        out.push(await db.OrderPayoutTxs.find({}).populate(p).lean().then(() => 'ANSWERED', (e) => e.rule)); return out;`);
      return all([[(v as string[]).every((x) => x === 'payoutTxs.populate'), `answers ${v}`]]);
    },
  },
  {
    name: 'creating or deleting txs is refused',
    attack: 'OrderPayoutTxs.create / insertMany / deleteOne / deleteMany / updateMany / aggregate, and raw payoutTxs.insert/delete capabilities',
    async run(env) {
      const before = (await env.local.store.findPayoutTxs({ plugin: 'mallory', conditions: [] })).length;
      const v = await env.value(`const out = []; for (const m of ['create', 'insertMany', 'deleteOne', 'deleteMany', 'updateMany', 'aggregate'])
        out.push(await db.OrderPayoutTxs[m]({ order: 'x', transaction: 'forged', payoutModule: 'mallory', active: true }).then(() => 'ANSWERED', () => 'refused'));
        for (const c of ['payoutTxs.insert', 'payoutTxs.create', 'payoutTxs.delete', 'payoutTxs.updateMany'])
          out.push(await host.call(c, { doc: { transaction: 'forged' } }).then(() => 'ANSWERED', () => 'refused'));
        return out;`);
      const after = (await env.local.store.findPayoutTxs({ plugin: 'mallory', conditions: [] })).length;
      return all([[(v as string[]).every((x) => x === 'refused'), `answers ${v}`], [after === before, 'a tx was created or deleted'], ...(await aliceUntouched(env))]);
    },
  },
  {
    name: 'another plugin\'s log lines are not readable through any capability',
    attack: 'alice logs a marker; mallory asks log.read / pluginLog.query / store.queryPluginLog / audit.query for it',
    async run(env) {
      await env.local.sandbox.invoke('alice', 'getFields', ['en', 'log']);
      const v = await env.value(`const out = []; for (const c of ['log.read', 'pluginLog.query', 'store.queryPluginLog', 'audit.query', 'log', 'logs'])
        out.push(await host.call(c, { plugin: 'alice', limit: 100 }).then((r) => JSON.stringify(r), (e) => e.rule)); return out;`);
      return all([[!JSON.stringify(v).includes('ALICE-LOG-MARKER'), 'alice\'s log line came back']]);
    },
  },

  // ---- forged updateHistory -------------------------------------------------------------------------
  {
    name: 'updateHistory on another plugin\'s order is refused',
    attack: "updateHistory({orderId: alice's order, oldStatus: 'inProgressPayout', status: 'done'})",
    async run(env) {
      const v = await env.value(`return await updateHistory({ orderId: ${JSON.stringify(env.alice.orderId)}, oldStatus: 'inProgressPayout', status: 'done', orderNote: 'pwned' }).then((r) => r, (e) => 'refused:' + e.rule);`);
      return all([[String(v).startsWith('refused:'), `answer ${JSON.stringify(v)}`], ...(await aliceUntouched(env))]);
    },
  },
  {
    name: 'updateHistory with a stale oldStatus changes nothing',
    attack: "own order in inProgressPayout, oldStatus 'inProgress' (a replayed old webhook)",
    async run(env) {
      const { order } = await orderWithTx(env.local.store, 'mallory');
      const v = await env.value(`return await updateHistory({ orderId: ${JSON.stringify(order._id)}, oldStatus: 'inProgress', status: 'done' }).then((r) => r, (e) => 'refused:' + e.rule);`);
      const now = await env.local.store.getOrder(order._id);
      return all([[v === 'refused:history.stale-old-status', `answer ${JSON.stringify(v)}`], [now?.status === 'inProgressPayout', `order is ${now?.status}`]]);
    },
  },
  {
    name: 'updateHistory towards any status but done / errorPayout is refused',
    attack: "own order, status 'returned' | 'hold' | 'new' | 'inProgress' | 'deleted' | 'inProgressPayout' | 'DONE' | 'done ' | '__proto__'",
    async run(env) {
      const { order } = await orderWithTx(env.local.store, 'mallory');
      const v = await env.value(`const out = []; for (const s of ['returned', 'hold', 'new', 'inProgress', 'deleted', 'inProgressPayout', 'DONE', 'done ', '__proto__', 'waitPayment'])
        out.push(await updateHistory({ orderId: ${JSON.stringify(order._id)}, status: s }).then(() => 'ANSWERED ' + s, (e) => e.rule)); return out;`);
      const now = await env.local.store.getOrder(order._id);
      return all([[(v as string[]).every((x) => x === 'history.forbidden-status'), `answers ${v}`], [now?.status === 'inProgressPayout', `order is ${now?.status}`]]);
    },
  },
  {
    name: 'updateHistory on an own order that is not in payout is refused',
    attack: "own order in 'inProgress' (not yet paid out) and own order with no active tx",
    async run(env) {
      const a = await orderWithTx(env.local.store, 'mallory', 'inProgress');
      const b = await orderWithTx(env.local.store, 'mallory', 'inProgressPayout', { active: false });
      const v = await env.value(`return [await updateHistory({ orderId: ${JSON.stringify(a.order._id)}, status: 'done' }).then(() => 'ANSWERED', (e) => e.rule),
        await updateHistory({ orderId: ${JSON.stringify(b.order._id)}, status: 'done' }).then(() => 'ANSWERED', (e) => e.rule)];`);
      const states = [(await env.local.store.getOrder(a.order._id))?.status, (await env.local.store.getOrder(b.order._id))?.status];
      return all([[!(v as string[]).includes('ANSWERED'), `answers ${v}`], [states[0] === 'inProgress' && states[1] === 'inProgressPayout', `orders are ${states}`]]);
    },
  },
  {
    name: 'a replayed settle changes nothing the second time',
    attack: 'updateHistory(done) twice, then errorPayout, on its own order',
    async run(env) {
      const { order } = await orderWithTx(env.local.store, 'mallory');
      const id = JSON.stringify(order._id);
      const v = await env.value(`const out = [];
        for (const s of ['done', 'done', 'errorPayout']) out.push(await updateHistory({ orderId: ${id}, oldStatus: 'inProgressPayout', status: s }).then(() => 'ok', (e) => e.rule));
        return out;`);
      const history = await env.local.store.getOrderHistory(order._id);
      const ipns = await env.local.store.listIpns(order._id);
      return all([[JSON.stringify(v) === JSON.stringify(['ok', 'history.stale-old-status', 'history.stale-old-status']), `answers ${v}`],
        [history.length === 1 && ipns.length === 1, `${history.length} history entries, ${ipns.length} IPNs`]]);
    },
  },
  {
    name: 'updateHistory with an operator object as orderId is refused',
    attack: "raw history.update with orderId {$ne: null}, ['x'], and 'alice' order id in oldStatus",
    async run(env) {
      const v = await env.value(`const out = [];
        for (const orderId of [{ $ne: null }, [${JSON.stringify(env.alice.orderId)}], { $gt: '' }]) out.push(await host.call('history.update', { orderId, status: 'done' }).then(() => 'ANSWERED', (e) => e.rule));
        return out;`);
      return all([[(v as string[]).every((x) => x === 'schema'), `answers ${v}`], ...(await aliceUntouched(env))]);
    },
  },

  // ---- scope-widening queries -----------------------------------------------------------------------
  widening('$or around payoutModule', `{ $or: [{ payoutModule: 'alice' }, { active: true }] }`),
  widening('$nor', `{ $nor: [{ payoutModule: 'mallory' }] }`),
  widening('$where', `{ $where: 'this.payoutModule == "alice" || true' }`),
  widening('$expr', `{ $expr: { $eq: [1, 1] } }`),
  widening('$regex on a field', `{ transaction: { $regex: '.*' } }`),
  widening('$elemMatch / $exists / $type', `{ order: { $exists: true }, transaction: { $type: 'string' } }`),
  widening('$text / $function / $jsonSchema', `{ $text: { $search: 'tx' }, $jsonSchema: {} }`),
  widening('payoutModule $ne', `{ payoutModule: { $ne: 'mallory' } }`),
  widening('payoutModule $in with a foreign module', `{ payoutModule: { $in: ['mallory', 'alice'] } }`),
  widening('a foreign payoutModule nested in $and', `{ $and: [{ active: true }, { $and: [{ payoutModule: 'alice' }] }] }`),
  widening('payoutModule as an array', `{ payoutModule: ['alice'] }`),
  widening('dotted paths into the order', `{ 'order.payoutModule': 'alice', 'order.ipnSecret': { $ne: null } }`),
  widening('a number where a string is stored (type confusion)', `{ amount: { $gt: 0 } }`),
  widening('an unknown field', `{ ipnSecret: { $ne: null } }`),
];
