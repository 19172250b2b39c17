// Trusted code that runs first in every plugin isolate (evaluated with evalClosure; $0..$3 are
// isolated-vm Callbacks and the setup JSON). It is the only code that talks to the sandbox
// process. Rules it keeps (design.md §10):
//  - only strings cross: arguments, results and errors are JSON-stringified here, inside the
//    timed call, so the host never reads a property of a plugin value;
//  - no Callback or Reference is reachable from plugin code: they live in this closure only;
//  - every entry from the host (invoke, resume) is a timed call, so continuations after an
//    awaited host call are timed too.
// Plugin code can reach __ps_host, which exposes exactly what the shims use; the server polices
// every call, so reaching it gives a plugin nothing its own shims do not.
/* global $0, $1, $2, $3 */
const syncCall = $0;      // (name, argsJson) => resultJson            sandbox-process services
const startAsync = $1;    // (callId, name, argsJson) => replyJson      host calls and timers
const report = $2;        // (kind, callId, json) => void                results, responses, logs
const setup = JSON.parse($3);

const { parse, stringify } = JSON;
const { freeze, defineProperty, keys: objectKeys } = Object;
const ErrorCtor = Error;
const PromiseCtor = Promise;
const apply = Reflect.apply;
const promiseThen = Promise.prototype.then;
const isArray = Array.isArray;
const MAX_MESSAGE = 4000;

let currentCall = '';
const pending = new Map();      // hostCallId -> { resolve, reject, callId }
const timers = new Map();       // timerId -> { fn, args, repeat, ms, callId, hostCallId }
let nextTimerId = 1;

function safeString(value, limit) {
  let s;
  try {
    s = typeof value === 'string' ? value : String(value);
  } catch (e) {
    s = '[unprintable value]';
  }
  return s.length > limit ? s.slice(0, limit) + '…' : s;
}

// Turns whatever a plugin threw into {message, code, statusCode, name}. Every property read can
// run plugin code (getters, Proxy traps); this runs inside the timed call, so a loop there is
// cut by the timeout instead of hanging the sandbox process.
function describeThrown(thrown) {
  try {
    if (typeof thrown === 'string') return { message: safeString(thrown, MAX_MESSAGE) };
    if (thrown === null || (typeof thrown !== 'object' && typeof thrown !== 'function')) {
      return { message: safeString(thrown, MAX_MESSAGE) };
    }
    const out = { message: '' };
    const message = thrown.message;
    out.message = message === undefined ? '(no message)' : safeString(message, MAX_MESSAGE);
    const code = thrown.code;
    if (typeof code === 'string' || typeof code === 'number') out.code = code;
    const statusCode = thrown.statusCode;
    if (typeof statusCode === 'number') out.statusCode = statusCode;
    const name = thrown.name;
    if (typeof name === 'string') out.name = safeString(name, 100);
    const response = thrown.response;
    if (response && typeof response === 'object' && typeof response.status === 'number') out.responseStatus = response.status;
    return out;
  } catch (e) {
    return { message: 'the plugin threw a value that could not be read' };
  }
}

function hostError(payload) {
  const err = new ErrorCtor(typeof payload.message === 'string' ? payload.message : 'host call failed');
  if (payload.code !== undefined) err.code = payload.code;
  if (payload.rule !== undefined) err.rule = payload.rule;
  if (payload.response !== undefined) err.response = payload.response;
  return err;
}

function callSync(name, args) {
  const reply = parse(syncCall(name, stringify(args === undefined ? null : args)));
  if (reply.ok) return reply.value;
  throw hostError(reply.error);
}

function callAsync(name, args) {
  let argsJson;
  try {
    argsJson = stringify(args === undefined ? null : args);
  } catch (e) {
    return PromiseCtor.reject(new ErrorCtor(name + ': arguments could not be serialised: ' + describeThrown(e).message));
  }
  const reply = parse(startAsync(currentCall, name, argsJson));
  if (!reply.ok) return PromiseCtor.reject(hostError(reply.error));
  const callId = currentCall;
  return new PromiseCtor((resolve, reject) => {
    pending.set(reply.id, { resolve, reject, callId });
  });
}

// --- timers: owned by the call that set them; the sandbox process drops them when it ends ----
function addTimer(fn, ms, args, repeat) {
  if (typeof fn !== 'function') throw new TypeError('setTimeout/setInterval needs a function (strings are not evaluated)');
  const id = nextTimerId++;
  const delay = Math.max(0, Math.min(Number(ms) || 0, 2147483647));
  const timer = { fn, args, repeat, ms: delay, callId: currentCall, hostCallId: null };
  timers.set(id, timer);
  armTimer(id, timer);
  return id;
}
function armTimer(id, timer) {
  const reply = parse(startAsync(timer.callId, 'timer', stringify({ ms: timer.ms })));
  if (!reply.ok) {
    timers.delete(id);
    throw hostError(reply.error);
  }
  timer.hostCallId = reply.id;
  pending.set(reply.id, {
    callId: timer.callId,
    resolve: () => {
      if (!timers.has(id)) return;
      if (!timer.repeat) timers.delete(id);
      try {
        apply(timer.fn, undefined, timer.args);
      } finally {
        if (timer.repeat && timers.has(id)) armTimer(id, timer);
      }
    },
    reject: () => timers.delete(id),
  });
}
function clearTimer(id) {
  const timer = timers.get(id);
  if (!timer) return;
  timers.delete(id);
  pending.delete(timer.hostCallId);
  report('cancel', timer.callId, stringify(timer.hostCallId));
}

const host = freeze({
  pluginKey: setup.pluginKey,
  call: callAsync,
  callSync,
  label(lang, fallbackLang, key) {
    const tables = setup.labels;
    const first = tables[lang];
    if (first && typeof first[key] === 'string') return first[key];
    const second = tables[fallbackLang];
    if (second && typeof second[key] === 'string') return second[key];
    return '';
  },
  log(level, text) {
    report('log', currentCall, stringify({ level, text: safeString(text, 16384) }));
  },
});
defineProperty(globalThis, '__ps_host', { value: host, enumerable: false, writable: false, configurable: false });
defineProperty(globalThis, 'process', {
  value: freeze({ env: freeze(setup.env), browser: false, version: 'v24-sandbox', platform: 'sandbox' }),
  enumerable: false, writable: false, configurable: false,
});
globalThis.setTimeout = (fn, ms, ...args) => addTimer(fn, ms, args, false);
globalThis.setInterval = (fn, ms, ...args) => addTimer(fn, Math.max(Number(ms) || 0, 1), args, true);
globalThis.setImmediate = (fn, ...args) => addTimer(fn, 0, args, false);
globalThis.clearTimeout = clearTimer;
globalThis.clearInterval = clearTimer;
globalThis.clearImmediate = clearTimer;
globalThis.queueMicrotask = (fn) => { PromiseCtor.resolve().then(fn); };

// --- the plugin and how the host calls it ------------------------------------------------------
let exportsOfPlugin = null;
let instance = null;
let cron = null;

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

function dispatch(method, args) {
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
