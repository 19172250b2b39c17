// Second half of the prelude closure (after bridge.isolate.js): the plugin object, the façades it
// is called with, and the dispatch of every method the host may call — for both plugin formats.
// --- the plugin and how the host calls it ------------------------------------------------------
let exportsOfPlugin = null;
let instance = null;
let cron = null;
let sdk = null;         // the definePayoutPlugin object of an SDK-format plugin
let sdkContext = null;  // the ctx its handlers receive

function stringifyResult(value) {
  const json = stringify(value === undefined ? null : value);
  return json === undefined ? 'null' : json;
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

function describePlugin() {
  if (sdk) {
    return {
      className: 'sdk:' + safeString(sdk.manifest && sdk.manifest.title, 100),
      format: 'sdk',
      methods: { getFields: typeof sdk.fields === 'function', transfer: typeof sdk.transfer === 'function', initCron: false, status: typeof sdk.status === 'function' },
      callbacks: typeof sdk.webhook === 'function' ? ['webhook'] : [],
    };
  }
  const callbacks = exportsOfPlugin.callbacks;
  const names = callbacks && typeof callbacks === 'object' ? objectKeys(callbacks).filter((k) => typeof callbacks[k] === 'function') : [];
  const proto = instance;
  return {
    className: safeString((exportsOfPlugin.Plugin && exportsOfPlugin.Plugin.name) || 'anonymous', 100),
    methods: {
      getFields: typeof proto.getFields === 'function',
      transfer: typeof proto.transfer === 'function',
      initCron: typeof proto.initCron === 'function',
    },
    callbacks: names,
  };
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
  const state = { status: 200, headers: {}, chunks: [], ended: false };
  const res = {
    set(name, value) {
      if (name && typeof name === 'object') { for (const k of objectKeys(name)) res.set(k, name[k]); return res; }
      state.headers[String(name).toLowerCase()] = String(value);
      return res;
    },
    setHeader(name, value) { return res.set(name, value); },
    header(name, value) { return res.set(name, value); },
    status(code) { state.status = Number(code); return res; },
    writeHead(code, headers) {
      state.status = Number(code);
      if (headers && typeof headers === 'object') res.set(headers);
      return res;
    },
    write(chunk) { if (!state.ended && chunk !== undefined) state.chunks.push(safeString(chunk, 1048576)); return true; },
    end(chunk) {
      if (state.ended) return res;
      if (chunk !== undefined && chunk !== null) res.write(chunk);
      state.ended = true;
      report('respond', callId, stringify({ status: state.status, headers: state.headers, body: state.chunks.join('') }));
      return res;
    },
    send(body) {
      if (body !== null && typeof body === 'object') return res.json(body);
      return res.end(body === undefined ? '' : String(body));
    },
    json(body) {
      if (!state.headers['content-type']) state.headers['content-type'] = 'application/json';
      return res.end(stringify(body));
    },
  };
  return res;
}

const cronContext = () => ({ db: exportsOfPlugin.db, updateHistory: exportsOfPlugin.updateHistory });

function describeCron(descriptor) {
  if (!descriptor || typeof descriptor !== 'object') return null;
  cron = descriptor;
  return {
    schedule: safeString(descriptor.schedule, 200),
    callWhenInit: descriptor.callWhenInit === true,
    hasFn: typeof descriptor.fn === 'function',
  };
}

// Order forms are validated here, inside the isolate and under the call's CPU limit, because the
// field regexps come from the plugin: a catastrophic regexp must burn the plugin's budget, not
// the server's event loop.
function checkFields(fields, values) {
  if (fields === null || fields === undefined) return { supported: false, fields: [], errors: [] };
  if (!isArray(fields)) throw new ErrorCtor('getFields must return an array of fields, or null for a currency it does not serve');
  const out = [];
  const errors = [];
  for (const f of fields) {
    if (!f || typeof f !== 'object') continue;
    const id = safeString(f._id, 100);
    const name = f.name === undefined ? id : safeString(f.name, 300);
    const required = f.required === true || f.required === 'true';
    const regexp = typeof f.regexp === 'string' ? f.regexp.slice(0, 2000) : null;
    const regexpError = f.regexp_error === undefined ? '' : safeString(f.regexp_error, 300);
    out.push({ _id: id, name, placeholder: f.placeholder === undefined ? '' : safeString(f.placeholder, 300), regexp, regexp_error: regexpError, required });
    const value = values && Object.prototype.hasOwnProperty.call(values, id) ? values[id] : undefined;
    if (value === undefined || value === null || value === '') {
      if (required) errors.push({ key: id, message: name + ' is required' });
      continue;
    }
    if (regexp !== null) {
      let re;
      try {
        re = new RegExp(regexp);
      } catch (e) {
        errors.push({ key: id, message: 'the payout method defines an invalid pattern for ' + name });
        continue;
      }
      if (!re.test(String(value))) errors.push({ key: id, message: regexpError || name + ' is incorrect' });
    }
  }
  return { supported: true, fields: out, errors };
}

// SDK results are normalised here into what the host's payout flow reads (the platform's
// {ok, transaction, amount, currency, to}), so the orchestrator has one shape to classify.
function sdkTransferResult(r) {
  if (!r || typeof r !== 'object') throw new ErrorCtor('transfer must return { status: "paid" | "accepted", reference, amount?, currency? }');
  const status = r.status;
  if (status !== 'paid' && status !== 'accepted' && status !== 'pending') throw new ErrorCtor('transfer returned status ' + safeString(status, 40) + '; use "paid" or "accepted"');
  if (typeof r.reference !== 'string' || r.reference === '') throw new ErrorCtor('transfer must return the provider reference (a non-empty string) to follow the payout');
  return { ok: status === 'paid' ? 1 : 2, transaction: r.reference, amount: r.amount === undefined ? undefined : String(r.amount), currency: r.currency, to: r.to };
}

function sdkDispatch(method, args) {
  switch (method) {
    case 'describe':
      return describePlugin();
    case 'getFields':
      return sdk.fields(sdkContext, { lang: args[0], currency: args[1] });
    case 'validateFields':
      return apply(promiseThen, PromiseCtor.resolve(sdk.fields(sdkContext, { lang: args.lang, currency: args.xml })), [(fields) => checkFields(fields, args.values)]);
    case 'transfer':
      return apply(promiseThen, PromiseCtor.resolve(sdk.transfer(sdkContext, args[0])), [sdkTransferResult]);
    case 'status':
      if (typeof sdk.status !== 'function') throw new ErrorCtor('the plugin has no status handler');
      return apply(promiseThen, PromiseCtor.resolve(sdk.status(sdkContext, args[0])), [(r) => {
        if (!r || (r.status !== 'paid' && r.status !== 'failed' && r.status !== 'pending')) throw new ErrorCtor('status must return { status: "paid" | "failed" | "pending", amount? }');
        return { status: r.status, amount: r.amount === undefined ? undefined : String(r.amount), reason: r.reason === undefined ? undefined : safeString(r.reason, 500) };
      }]);
    case 'callback': {
      if (args.name !== 'webhook' || typeof sdk.webhook !== 'function') throw new ErrorCtor('the plugin has no callback named ' + safeString(args.name, 100));
      const res = responseFacade(currentCall);
      const req = freeze({ method: args.req.method, ip: args.req.ip, headers: freeze(args.req.headers), query: freeze(args.req.query), body: args.param.post, rawBody: args.param.rawBody });
      return apply(promiseThen, PromiseCtor.resolve(sdk.webhook(sdkContext, req)), [(r) => {
        const out = r && typeof r === 'object' ? r : {};
        const response = out.response && typeof out.response === 'object' ? out.response : { status: 200, body: 'ok' };
        if (response.headers) res.set(response.headers);
        res.status(response.status || 200).send(response.body === undefined ? '' : response.body);
        const updates = isArray(out.updates) ? out.updates.slice(0, 100).map((u) => ({
          reference: safeString(u && u.reference, 200), status: safeString(u && u.status, 20), amount: u && u.amount !== undefined ? String(u.amount) : undefined,
        })) : [];
        return { updates };
      }]);
    }
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
      return apply(promiseThen, PromiseCtor.resolve(instance.getFields(args.lang, args.xml)), [(fields) => checkFields(fields, args.values)]);
    case 'initCron':
      if (typeof instance.initCron !== 'function') return null;
      return apply(promiseThen, PromiseCtor.resolve(instance.initCron(cronContext())), [describeCron]);
    case 'cron': {
      const run = () => {
        if (!cron || typeof cron.fn !== 'function') throw new ErrorCtor('the plugin has no cron job (initCron returned no fn)');
        return cron.fn.call(cron);
      };
      if (cron) return run();
      if (typeof instance.initCron !== 'function') throw new ErrorCtor('the plugin has no initCron method');
      return apply(promiseThen, PromiseCtor.resolve(instance.initCron(cronContext())), [(d) => { describeCron(d); return run(); }]);
    }
    case 'callback': {
      const callbacks = exportsOfPlugin.callbacks;
      const name = args.name;
      const handler = callbacks && typeof callbacks === 'object' && Object.prototype.hasOwnProperty.call(callbacks, name) ? callbacks[name] : undefined;
      if (typeof handler !== 'function') throw new ErrorCtor('the plugin has no callback named ' + safeString(name, 100));
      return apply(handler, callbacks, [requestFacade(args.req), responseFacade(currentCall), freeze(args.param)]);
    }
    default:
      throw new ErrorCtor('unknown method ' + safeString(method, 100));
  }
}

// Entry points, fetched by the sandbox process as References and only ever called with a timeout.
return freeze({
  load(callId) {
    currentCall = callId;
    const loadError = globalThis.__ps_load_error;
    const exported = globalThis.__ps_plugin;
    delete globalThis.__ps_load_error;
    delete globalThis.__ps_plugin;
    if (loadError) {
      return stringify({ ok: false, error: { message: 'the plugin threw while loading: ' + describeThrown(loadError.thrown).message } });
    }
    exportsOfPlugin = exported && typeof exported === 'object' ? exported : {};
    try {
      construct();
      return stringify({ ok: true, value: describePlugin() });
    } catch (e) {
      return stringify({ ok: false, error: describeThrown(e) });
    }
  },
  invoke(callId, method, argsJson) {
    currentCall = callId;
    try {
      const result = dispatch(method, parse(argsJson));
      apply(promiseThen, PromiseCtor.resolve(result), [(v) => finish(callId, true, v), (e) => finish(callId, false, e)]);
    } catch (e) {
      finish(callId, false, e);
    }
  },
  forget(callId) {
    for (const [id, waiter] of pending) if (waiter.callId === callId) pending.delete(id);
    for (const [id, timer] of timers) if (timer.callId === callId) timers.delete(id);
  },
  resume(hostCallId, ok, payloadJson) {
    const waiter = pending.get(hostCallId);
    if (!waiter) return;
    pending.delete(hostCallId);
    currentCall = waiter.callId;
    const payload = parse(payloadJson);
    if (ok) waiter.resolve(payload);
    else waiter.reject(hostError(payload));
  },
});
