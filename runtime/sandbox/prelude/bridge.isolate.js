// Trusted code that runs first in every plugin isolate, after harden.isolate.js (evaluated as a
// function of $0..$3: isolated-vm Callbacks and the setup JSON). It is the only code that talks
// to the sandbox process. Rules it keeps (design.md §10):
//  - only strings cross: arguments, results and errors are JSON-stringified here, inside the
//    timed call, so the host never reads a property of a plugin value;
//  - no Callback or Reference is reachable from plugin code: they live in this closure only, and
//    the closure is strict, so `fn.caller` from plugin code stops at it (V8 censors strict callers);
//  - every entry from the host (invoke, resume) is a timed call, so continuations after an
//    awaited host call are timed too, and no entry lets a plugin value escape to the host;
//  - nothing here depends on what plugin code can change: every intrinsic used after the plugin
//    runs is captured below, before it runs; records built here have no prototype (so a plugin's
//    Object.prototype.toJSON or getters never shape them); no iteration protocol, no spread.
// Plugin code can reach __ps_host, which exposes exactly what the shims use; the server polices
// every call, so reaching it gives a plugin nothing its own shims do not.
/* global $0, $1, $2, $3 */
'use strict';
const syncCall = $0;      // (name, argsJson) => resultJson            sandbox-process services
const startAsync = $1;    // (callId, name, argsJson) => replyJson      host calls and timers (a local answer in the reply)
const report = $2;        // (kind, callId, json) => void                results, responses, logs

// ---- intrinsics, captured before any plugin code runs ----------------------------------------
const { parse, stringify } = JSON;
const { freeze, defineProperty, keys: objectKeys, hasOwn, setPrototypeOf } = Object;
const { apply, deleteProperty } = Reflect;
const StringCtor = String;
const NumberCtor = Number;
const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
const PromiseCtor = Promise;
const promiseResolve = Promise.resolve;
const promiseReject = Promise.reject;
const promiseThen = Promise.prototype.then;
const isArray = Array.isArray;
const stringSlice = String.prototype.slice;
const stringToLowerCase = String.prototype.toLowerCase;
const arrayJoin = Array.prototype.join;
const mathMax = Math.max;
const mathMin = Math.min;
const MAX_MESSAGE = 4000;

const setup = parse($3);

/** A prototype-less record: JSON.stringify finds no inherited toJSON, reads find no inherited getter. */
const record = (fields) => setPrototypeOf(fields, null);
/** A prototype-less array built by index (no push, no iterator). */
function list() {
  return setPrototypeOf([], null);
}
function append(array, value) {
  array[array.length] = value;
}
const sliceOf = (s, limit) => (s.length > limit ? apply(stringSlice, s, [0, limit]) + '…' : s);
const has = (object, key) => object !== null && object !== undefined && apply(hasOwn, undefined, [object, key]);

let currentCall = '';
const pending = record({});     // hostCallId -> { resolve, reject, callId }
const timers = record({});      // timerId -> { fn, args, repeat, ms, callId, hostCallId }
let nextTimerId = 1;

function safeString(value, limit) {
  let s;
  try {
    s = typeof value === 'string' ? value : StringCtor(value);
  } catch (e) {
    s = '[unprintable value]';
  }
  return typeof s === 'string' ? sliceOf(s, limit) : '[unprintable value]';
}

// Turns whatever a plugin threw into {message, code, statusCode, name}. Every property read can
// run plugin code (getters, Proxy traps); this runs inside the timed call, so a loop there is
// cut by the timeout instead of hanging the sandbox process. Each property is read once.
function describeThrown(thrown) {
  try {
    if (typeof thrown === 'string') return record({ message: sliceOf(thrown, MAX_MESSAGE) });
    if (thrown === null || (typeof thrown !== 'object' && typeof thrown !== 'function')) {
      return record({ message: safeString(thrown, MAX_MESSAGE) });
    }
    const out = record({ message: '' });
    const message = thrown.message;
    out.message = message === undefined ? '(no message)' : safeString(message, MAX_MESSAGE);
    const code = thrown.code;
    if (typeof code === 'string') out.code = sliceOf(code, 200);
    else if (typeof code === 'number' && code === code) out.code = code;
    const statusCode = thrown.statusCode;
    if (typeof statusCode === 'number' && statusCode === statusCode) out.statusCode = statusCode;
    const name = thrown.name;
    if (typeof name === 'string') out.name = sliceOf(name, 100);
    // Only the SDK's ProviderRefused says "the provider definitely did not pay"; the host trusts it
    // for SDK-format plugins alone.
    if (thrown.definite === true && name === 'ProviderRefused') out.definite = true;
    const response = thrown.response;
    if (response !== null && typeof response === 'object') {
      const status = response.status;
      if (typeof status === 'number' && status === status) out.responseStatus = status;
    }
    return out;
  } catch (e) {
    return record({ message: 'the plugin threw a value that could not be read' });
  }
}

function setOwn(object, key, value) {
  defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}

function hostError(payload) {
  const p = payload !== null && typeof payload === 'object' ? payload : record({});
  const err = new ErrorCtor(has(p, 'message') && typeof p.message === 'string' ? p.message : 'host call failed');
  if (has(p, 'code')) setOwn(err, 'code', p.code);
  if (has(p, 'rule')) setOwn(err, 'rule', p.rule);
  if (has(p, 'response')) setOwn(err, 'response', p.response);
  return err;
}

const rejected = (error) => apply(promiseReject, PromiseCtor, [error]);

function callSync(name, args) {
  const reply = parse(syncCall(safeString(name, 200), stringify(args === undefined ? null : args)));
  if (reply.ok === true) return reply.value;
  throw hostError(reply.error);
}

function callAsync(name, args) {
  const capability = safeString(name, 200);
  let argsJson;
  try {
    argsJson = stringify(args === undefined ? null : args);
  } catch (e) {
    return rejected(new ErrorCtor(capability + ': arguments could not be serialised: ' + describeThrown(e).message));
  }
  if (typeof argsJson !== 'string') argsJson = 'null';
  const reply = parse(startAsync(currentCall, capability, argsJson));
  if (reply.ok !== true) return rejected(hostError(reply.error));
  // Answered by the sandbox process at once (a shown config read): settled now, in this entry,
  // from the reply's own copy of the value; no waiter, no second entry.
  if (has(reply, 'local')) {
    const local = reply.local;
    const value = has(local, 'value') ? local.value : null;
    if (has(local, 'ok') && local.ok === true) return new PromiseCtor((resolve) => { resolve(value); });
    return rejected(hostError(value));
  }
  const callId = currentCall;
  return new PromiseCtor((resolve, reject) => {
    pending[reply.id] = record({ resolve, reject, callId });
  });
}

// --- timers: owned by the call that set them; the sandbox process drops them when it ends ----
function addTimer(fn, ms, args, repeat) {
  if (typeof fn !== 'function') throw new TypeErrorCtor('setTimeout/setInterval needs a function (strings are not evaluated)');
  const id = nextTimerId++;
  const delay = mathMax(0, mathMin(NumberCtor(ms) || 0, 2147483647));
  const timer = record({ fn, args, repeat, ms: delay, callId: currentCall, hostCallId: null });
  timers[id] = timer;
  armTimer(id, timer);
  return id;
}
function armTimer(id, timer) {
  const reply = parse(startAsync(timer.callId, 'timer', stringify(record({ ms: timer.ms }))));
  if (reply.ok !== true) {
    delete timers[id];
    throw hostError(reply.error);
  }
  timer.hostCallId = reply.id;
  pending[reply.id] = record({
    callId: timer.callId,
    resolve: () => {
      if (timers[id] !== timer) return;
      if (!timer.repeat) delete timers[id];
      try {
        apply(timer.fn, undefined, timer.args);
      } catch (e) {
        // Thrown out of a timer, where nobody awaits it: it fails the call that set the timer,
        // and it never reaches the host as a value.
        finish(timer.callId, false, e);
        return;
      }
      if (timer.repeat && timers[id] === timer) armTimer(id, timer);
    },
    reject: () => { delete timers[id]; },
  });
}
function clearTimer(id) {
  if (typeof id !== 'number') return;
  const timer = timers[id];
  if (timer === undefined) return;
  delete timers[id];
  delete pending[timer.hostCallId];
  report('cancel', timer.callId, stringify(timer.hostCallId));
}

const host = freeze(record({
  pluginKey: setup.pluginKey,
  call: callAsync,
  callSync,
  label(lang, fallbackLang, key) {
    const tables = setup.labels;
    const first = has(tables, lang) ? tables[lang] : undefined;
    if (has(first, key) && typeof first[key] === 'string') return first[key];
    const second = has(tables, fallbackLang) ? tables[fallbackLang] : undefined;
    if (has(second, key) && typeof second[key] === 'string') return second[key];
    return '';
  },
  log(level, text) {
    const line = record({ level: typeof level === 'string' ? sliceOf(level, 10) : 'info', text: safeString(text, 16384) });
    report('log', currentCall, stringify(line));
  },
}));
// A getter, not a read-only value: QuickJS lets Object.defineProperty give a non-writable,
// non-configurable data property of the global object a new value (measured); a non-configurable
// accessor it cannot change on either engine.
const constant = (value) => ({ get: () => value, enumerable: false, configurable: false });
defineProperty(globalThis, '__ps_host', constant(host));
// The bundle runs as `try { bundle } catch (thrown) { __ps_load_failed(thrown); }`. A property the
// plugin could define first (a setter that throws a Proxy) would let its value escape the script to
// isolated-vm, which reads it outside any timeout; this binding cannot be replaced or shadowed.
let loadFailure = null;
defineProperty(globalThis, '__ps_load_failed', constant(function loadFailed(thrown) {
  if (loadFailure === null) loadFailure = record({ thrown });
}));
defineProperty(globalThis, 'process', constant(freeze({ env: freeze(setup.env), browser: false, version: 'v24-sandbox', platform: 'sandbox' })));
const defineGlobal = (name, value) => defineProperty(globalThis, name, { value, writable: true, enumerable: true, configurable: true });
defineGlobal('setTimeout', function setTimeout(fn, ms, ...args) { return addTimer(fn, ms, args, false); });
defineGlobal('setInterval', function setInterval(fn, ms, ...args) { return addTimer(fn, mathMax(NumberCtor(ms) || 0, 1), args, true); });
defineGlobal('setImmediate', function setImmediate(fn, ...args) { return addTimer(fn, 0, args, false); });
defineGlobal('clearTimeout', function clearTimeout(id) { clearTimer(id); });
defineGlobal('clearInterval', function clearInterval(id) { clearTimer(id); });
defineGlobal('clearImmediate', function clearImmediate(id) { clearTimer(id); });
defineGlobal('queueMicrotask', function queueMicrotask(fn) {
  if (typeof fn !== 'function') throw new TypeErrorCtor('queueMicrotask needs a function');
  apply(promiseThen, apply(promiseResolve, PromiseCtor, []), [() => { apply(fn, undefined, []); }]);
});
// (continued in plugin-calls.isolate.js, evaluated in the same closure)
