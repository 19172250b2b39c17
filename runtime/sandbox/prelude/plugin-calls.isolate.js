// Second half of the prelude closure (after bridge.isolate.js, strict like it and using only the
// intrinsics it captured): the plugin object, the façades it is called with, and the dispatch of
// every method the host may call — for both plugin formats.
// --- the plugin and how the host calls it ------------------------------------------------------
let exportsOfPlugin = null;
let instance = null;
let cron = null;
let sdk = null;         // the definePayoutPlugin object of an SDK-format plugin
let sdkContext = null;  // the ctx its handlers receive
const MAX_LIST = 1000;  // fields, callbacks, updates: more than any real plugin has

function stringifyResult(value) {
  const json = stringify(value === undefined ? null : value);
  return typeof json === 'string' ? json : 'null';
}

function finish(callId, ok, value) {
  let json;
  if (ok) {
    try {
      json = stringifyResult(value);
    } catch (e) {
      ok = false;
      value = new ErrorCtor('the result could not be serialised to JSON: ' + describeThrown(e).message);
    }
  }
  if (!ok) json = stringify(describeThrown(value));
  report(ok ? 'done' : 'failed', callId, json);
}

/** Runs fn with the settled value: `await` looks up no plugin-replaceable `then` or species on a native promise. */
async function after(value, fn) {
  return fn(await value);
}

async function settle(callId, result) {
  let value;
  try {
    value = await result;
  } catch (e) {
    finish(callId, false, e);
    return;
  }
  finish(callId, true, value);
}

function functionNames(object) {
  const names = list();
  if (object === null || typeof object !== 'object') return names;
  const all = objectKeys(object);
  for (let i = 0; i < all.length && names.length < MAX_LIST; i++) {
    const k = all[i];
    if (typeof object[k] === 'function') append(names, k);
  }
  return names;
}

function describePlugin() {
  if (sdk) {
    const manifest = sdk.manifest;
    return record({
      className: 'sdk:' + safeString(manifest !== null && typeof manifest === 'object' ? manifest.title : undefined, 100),
      format: 'sdk',
      methods: record({ getFields: typeof sdk.fields === 'function', transfer: typeof sdk.transfer === 'function', initCron: false, status: typeof sdk.status === 'function' }),
      callbacks: typeof sdk.webhook === 'function' ? record(['webhook']) : list(),
    });
  }
  const Plugin = exportsOfPlugin.Plugin;
  const className = Plugin !== null && (typeof Plugin === 'function' || typeof Plugin === 'object') ? Plugin.name : undefined;
  return record({
    className: safeString(className || 'anonymous', 100),
    methods: record({
      getFields: typeof instance.getFields === 'function',
      transfer: typeof instance.transfer === 'function',
      initCron: typeof instance.initCron === 'function',
    }),
    callbacks: functionNames(exportsOfPlugin.callbacks),
  });
}

function construct() {
  if (exportsOfPlugin.sdk !== undefined) {
    const m = exportsOfPlugin.sdk;
    const d = m && (m.default || m);
    if (!d || d.__psSdkPlugin !== true) throw new ErrorCtor('plugin.ts must export default definePayoutPlugin({ manifest, fields, transfer, ... })');
    sdk = d;
    sdkContext = exportsOfPlugin.sdkRuntime.createContext();
    return;
  }
  const Plugin = exportsOfPlugin.Plugin;
  if (typeof Plugin === 'function') {
    try {
      instance = new Plugin();
    } catch (e) {
      throw new ErrorCtor('the plugin constructor threw: ' + describeThrown(e).message);
    }
  } else if (Plugin && typeof Plugin === 'object' && typeof Plugin.getFields === 'function') {
    instance = Plugin;
  } else {
    throw new ErrorCtor('index.js must export the plugin class (module.exports = class … { getFields() {} transfer() {} }); it exported ' +
      (Plugin === null ? 'null' : typeof Plugin));
  }
}

const requestFacade = (req) => freeze({
  METHOD: req.method,
  method: req.method,
  IP_ADDRESS: req.ip,
  ip: req.ip,
  headers: freeze(req.headers),
  url: req.url,
  path: req.path,
  query: freeze(req.query),
  body: req.body,
});

function responseFacade(callId) {
  const state = record({ status: 200, headers: record({}), chunks: list(), ended: false });
  const setHeaders = (headers) => {
    const names = objectKeys(headers);
    for (let i = 0; i < names.length && i < MAX_LIST; i++) res.set(names[i], headers[names[i]]);
  };
  const res = {
    set(name, value) {
      if (name !== null && typeof name === 'object') { setHeaders(name); return res; }
      state.headers[apply(stringToLowerCase, safeString(name, 200), [])] = safeString(value, 8192);
      return res;
    },
    setHeader(name, value) { return res.set(name, value); },
    header(name, value) { return res.set(name, value); },
    status(code) { state.status = NumberCtor(code); return res; },
    writeHead(code, headers) {
      state.status = NumberCtor(code);
      if (headers !== null && typeof headers === 'object') setHeaders(headers);
      return res;
    },
    write(chunk) { if (!state.ended && chunk !== undefined) append(state.chunks, safeString(chunk, 1048576)); return true; },
    end(chunk) {
      if (state.ended) return res;
      if (chunk !== undefined && chunk !== null) res.write(chunk);
      state.ended = true;
      const status = state.status === state.status ? state.status : 500; // NaN cannot cross as JSON
      report('respond', callId, stringify(record({ status, headers: state.headers, body: apply(arrayJoin, state.chunks, ['']) })));
      return res;
    },
    send(body) {
      if (body !== null && typeof body === 'object') return res.json(body);
      return res.end(body === undefined ? '' : safeString(body, 1048576));
    },
    json(body) {
      if (state.headers['content-type'] === undefined) state.headers['content-type'] = 'application/json';
      const json = stringify(body);
      return res.end(typeof json === 'string' ? json : '');
    },
  };
  return res;
}

const cronContext = () => ({ db: exportsOfPlugin.db, updateHistory: exportsOfPlugin.updateHistory });

function describeCron(descriptor) {
  if (!descriptor || typeof descriptor !== 'object') return null;
  cron = descriptor;
  return record({
    schedule: safeString(descriptor.schedule, 200),
    callWhenInit: descriptor.callWhenInit === true,
    hasFn: typeof descriptor.fn === 'function',
  });
}

// Order forms are validated here, inside the isolate and under the call's CPU limit, because the
// field regexps come from the plugin: a catastrophic regexp must burn the plugin's budget, not
// the server's event loop.
const RegExpCtor = RegExp;
const regexpExec = RegExp.prototype.exec;
function checkFields(fields, values) {
  if (fields === null || fields === undefined) return record({ supported: false, fields: list(), errors: list() });
  if (!isArray(fields)) throw new ErrorCtor('getFields must return an array of fields, or null for a currency it does not serve');
  const out = list();
  const errors = list();
  for (let i = 0; i < fields.length && i < MAX_LIST; i++) {
    const f = fields[i];
    if (!f || typeof f !== 'object') continue;
    const id = safeString(f._id, 100);
    const rawName = f.name;
    const name = rawName === undefined ? id : safeString(rawName, 300);
    const rawRequired = f.required;
    const required = rawRequired === true || rawRequired === 'true';
    const rawRegexp = f.regexp;
    const regexp = typeof rawRegexp === 'string' ? sliceOf(rawRegexp, 2000) : null;
    const rawRegexpError = f.regexp_error;
    const regexpError = rawRegexpError === undefined ? '' : safeString(rawRegexpError, 300);
    const placeholder = f.placeholder;
    append(out, record({ _id: id, name, placeholder: placeholder === undefined ? '' : safeString(placeholder, 300), regexp, regexp_error: regexpError, required }));
    const value = has(values, id) ? values[id] : undefined;
    if (value === undefined || value === null || value === '') {
      if (required) append(errors, record({ key: id, message: name + ' is required' }));
      continue;
    }
    if (regexp !== null) {
      let re;
      try {
        re = new RegExpCtor(regexp);
      } catch (e) {
        append(errors, record({ key: id, message: 'the payout method defines an invalid pattern for ' + name }));
        continue;
      }
      if (apply(regexpExec, re, [safeString(value, 100000)]) === null) append(errors, record({ key: id, message: regexpError || name + ' is incorrect' }));
    }
  }
  return record({ supported: true, fields: out, errors });
}

// SDK results are normalised here into what the host's payout flow reads (the platform's
// {ok, transaction, amount, currency, to}), so the orchestrator has one shape to classify.
function sdkTransferResult(r) {
  if (!r || typeof r !== 'object') throw new ErrorCtor('transfer must return { status: "paid" | "accepted", reference, amount?, currency? }');
  const status = r.status;
  if (status !== 'paid' && status !== 'accepted' && status !== 'pending') throw new ErrorCtor('transfer returned status ' + safeString(status, 40) + '; use "paid" or "accepted"');
  const reference = r.reference;
  if (typeof reference !== 'string' || reference === '') throw new ErrorCtor('transfer must return the provider reference (a non-empty string) to follow the payout');
  const amount = r.amount;
  const currency = r.currency;
  const to = r.to;
  return record({
    ok: status === 'paid' ? 1 : 2, transaction: reference, amount: amount === undefined ? undefined : safeString(amount, 100),
    currency: currency === undefined ? undefined : safeString(currency, 20), to: to === undefined ? undefined : safeString(to, 200),
  });
}

function sdkStatusResult(r) {
  const status = r !== null && typeof r === 'object' ? r.status : undefined;
  if (status !== 'paid' && status !== 'failed' && status !== 'pending') throw new ErrorCtor('status must return { status: "paid" | "failed" | "pending", amount? }');
  const amount = r.amount;
  const reason = r.reason;
  return record({ status, amount: amount === undefined ? undefined : safeString(amount, 100), reason: reason === undefined ? undefined : safeString(reason, 500) });
}

function sdkWebhook(args) {
  if (args.name !== 'webhook' || typeof sdk.webhook !== 'function') throw new ErrorCtor('the plugin has no callback named ' + safeString(args.name, 100));
  const res = responseFacade(currentCall);
  const req = freeze({ method: args.req.method, ip: args.req.ip, headers: freeze(args.req.headers), query: freeze(args.req.query), body: args.param.post, rawBody: args.param.rawBody });
  return after(sdk.webhook(sdkContext, req), (r) => {
    const out = r !== null && typeof r === 'object' ? r : record({});
    const given = out.response;
    const response = given !== null && typeof given === 'object' ? given : record({ status: 200, body: 'ok' });
    const headers = response.headers;
    if (headers) res.set(headers);
    const body = response.body;
    res.status(response.status || 200).send(body === undefined ? '' : body);
    const updates = list();
    const reported = out.updates;
    if (isArray(reported)) {
      for (let i = 0; i < reported.length && i < 100; i++) {
        const u = reported[i];
        const amount = u ? u.amount : undefined;
        append(updates, record({ reference: safeString(u && u.reference, 200), status: safeString(u && u.status, 20), amount: amount !== undefined ? safeString(amount, 100) : undefined }));
      }
    }
    return record({ updates });
  });
}

function sdkDispatch(method, args) {
  switch (method) {
    case 'describe':
      return describePlugin();
    case 'getFields':
      return sdk.fields(sdkContext, { lang: args[0], currency: args[1] });
    case 'validateFields':
      return after(sdk.fields(sdkContext, { lang: args.lang, currency: args.xml }), (fields) => checkFields(fields, args.values));
    case 'transfer':
      return after(sdk.transfer(sdkContext, args[0]), sdkTransferResult);
    case 'status':
      if (typeof sdk.status !== 'function') throw new ErrorCtor('the plugin has no status handler');
      return after(sdk.status(sdkContext, args[0]), sdkStatusResult);
    case 'callback':
      return sdkWebhook(args);
    default:
      throw new ErrorCtor('unknown method ' + safeString(method, 100));
  }
}

function dispatch(method, args) {
  if (sdk) return sdkDispatch(method, args);
  switch (method) {
    case 'describe':
      return describePlugin();
    case 'getFields':
      return instance.getFields(args[0], args[1]);
    case 'transfer':
      return instance.transfer(args[0]);
    case 'validateFields':
      return after(instance.getFields(args.lang, args.xml), (fields) => checkFields(fields, args.values));
    case 'initCron':
      if (typeof instance.initCron !== 'function') return null;
      return after(instance.initCron(cronContext()), describeCron);
    case 'cron': {
      const run = () => {
        if (!cron || typeof cron.fn !== 'function') throw new ErrorCtor('the plugin has no cron job (initCron returned no fn)');
        return apply(cron.fn, cron, []);
      };
      if (cron) return run();
      if (typeof instance.initCron !== 'function') throw new ErrorCtor('the plugin has no initCron method');
      return after(instance.initCron(cronContext()), (d) => { describeCron(d); return run(); });
    }
    case 'callback': {
      const callbacks = exportsOfPlugin.callbacks;
      const name = args.name;
      const handler = callbacks !== null && typeof callbacks === 'object' && has(callbacks, name) ? callbacks[name] : undefined;
      if (typeof handler !== 'function') throw new ErrorCtor('the plugin has no callback named ' + safeString(name, 100));
      return apply(handler, callbacks, [requestFacade(args.req), responseFacade(currentCall), freeze(args.param)]);
    }
    default:
      throw new ErrorCtor('unknown method ' + safeString(method, 100));
  }
}

const failedLoad = (error) => stringify(record({ ok: false, error }));

// Entry points, fetched by the sandbox process as References and only ever called with a timeout.
// None lets a plugin value escape: each returns a string or nothing, and catches what it runs.
// (This file is the end of the function body bridge.isolate.js begins: the return is legal there.)
// @ts-ignore
return freeze(record({
  load(callId) {
    currentCall = callId;
    try {
      const loadError = loadFailure;
      const exported = globalThis.__ps_plugin;
      deleteProperty(globalThis, '__ps_plugin');
      if (loadError) {
        return failedLoad(record({ message: 'the plugin threw while loading: ' + describeThrown(loadError.thrown).message }));
      }
      exportsOfPlugin = exported && typeof exported === 'object' ? exported : record({});
      construct();
      return stringify(record({ ok: true, value: describePlugin() }));
    } catch (e) {
      return failedLoad(describeThrown(e));
    }
  },
  invoke(callId, method, argsJson) {
    currentCall = callId;
    try {
      settle(callId, dispatch(method, parse(argsJson)));
    } catch (e) {
      finish(callId, false, e);
    }
  },
  forget(callId) {
    for (const id in pending) if (pending[id].callId === callId) delete pending[id];
    for (const id in timers) if (timers[id].callId === callId) delete timers[id];
  },
  resume(hostCallId, ok, payloadJson) {
    const waiter = pending[hostCallId];
    if (waiter === undefined) return;
    delete pending[hostCallId];
    currentCall = waiter.callId;
    try {
      const payload = parse(payloadJson);
      if (ok) waiter.resolve(payload);
      else waiter.reject(hostError(payload));
    } catch (e) {
      finish(waiter.callId, false, e);
    }
  },
}));
