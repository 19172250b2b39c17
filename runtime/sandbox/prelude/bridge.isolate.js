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
    // Only the SDK's ProviderRefused says "the provider definitely did not pay"; the host trusts it
    // for SDK-format plugins alone.
    if (thrown.definite === true && thrown.name === 'ProviderRefused') out.definite = true;
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
// (continued in plugin-calls.isolate.js, evaluated in the same closure)
