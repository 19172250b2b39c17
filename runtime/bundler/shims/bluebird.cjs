// require('bluebird'): a native-Promise subclass with the bluebird statics and methods platform
// plugins use. Timers come from the prelude's setTimeout, which the call's deadline bounds.
'use strict';

class TimeoutError extends Error {
  constructor(message) {
    super(message || 'operation timed out');
    this.name = 'TimeoutError';
  }
}

function matches(predicate, err) {
  if (typeof predicate === 'function') {
    if (predicate === Error || predicate.prototype instanceof Error) return err instanceof predicate;
    return Boolean(predicate(err));
  }
  if (predicate && typeof predicate === 'object') {
    return err !== null && typeof err === 'object' && Object.keys(predicate).every((k) => err[k] === predicate[k]);
  }
  return false;
}

class Bluebird extends Promise {
  static get [Symbol.species]() { return Bluebird; }

  static delay(ms, value) {
    return new Bluebird((resolve) => setTimeout(() => resolve(value), Number(ms) || 0));
  }
  static try(fn) {
    return new Bluebird((resolve) => resolve(fn()));
  }
  static method(fn) {
    return function method(...args) { return Bluebird.try(() => fn.apply(this, args)); };
  }
  static map(input, mapper, options) {
    const concurrency = options && options.concurrency > 0 ? Math.floor(options.concurrency) : Infinity;
    return Bluebird.resolve(input).then((items) => Bluebird.all(items).then((values) => {
      const results = new Array(values.length);
      let next = 0;
      const worker = () => {
        if (next >= values.length) return undefined;
        const i = next++;
        return Bluebird.resolve(mapper(values[i], i, values.length)).then((r) => { results[i] = r; return worker(); });
      };
      const workers = [];
      for (let w = 0; w < Math.min(concurrency, values.length); w++) workers.push(worker());
      return Bluebird.all(workers).then(() => results);
    }));
  }
  static mapSeries(input, mapper) {
    return Bluebird.map(input, mapper, { concurrency: 1 });
  }
  static each(input, iterator) {
    return Bluebird.resolve(input).then((items) => Bluebird.mapSeries(items, iterator).then(() => items));
  }
  static filter(input, predicate, options) {
    return Bluebird.resolve(input).then((items) => Bluebird.map(items, predicate, options).then((keep) => items.filter((_, i) => keep[i])));
  }
  static reduce(input, reducer, initial) {
    return Bluebird.resolve(input).then((items) => items.reduce(
      (acc, item, i) => acc.then((a) => Bluebird.resolve(item).then((v) => reducer(a, v, i, items.length))),
      Bluebird.resolve(initial),
    ));
  }
  static props(obj) {
    return Bluebird.resolve(obj).then((o) => {
      const keys = Object.keys(o);
      return Bluebird.all(keys.map((k) => o[k])).then((values) => {
        const out = {};
        keys.forEach((k, i) => { out[k] = values[i]; });
        return out;
      });
    });
  }
  static join(...args) {
    const fn = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    return Bluebird.all(args).then((values) => (fn ? fn(...values) : values));
  }
  static some(input, count) {
    return Bluebird.resolve(input).then((items) => new Bluebird((resolve, reject) => {
      const ok = [];
      const errors = [];
      if (items.length < count) { reject(new RangeError('some: not enough promises')); return; }
      items.forEach((p) => Bluebird.resolve(p).then((v) => {
        if (ok.length < count) { ok.push(v); if (ok.length === count) resolve(ok); }
      }, (e) => { errors.push(e); if (errors.length > items.length - count) reject(errors); }));
    }));
  }
  static any(input) {
    return Bluebird.some(input, 1).then((r) => r[0]);
  }
  static settle(input) {
    return Bluebird.allSettled(input);
  }
  static promisify(fn, options) {
    const context = options && options.context;
    return function promisified(...args) {
      return new Bluebird((resolve, reject) => fn.call(context || this, ...args, (err, value) => (err ? reject(err) : resolve(value))));
    };
  }
  static defer() {
    let resolve;
    let reject;
    const promise = new Bluebird((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  }

  tap(fn) {
    return this.then((v) => Bluebird.resolve(fn(v)).then(() => v));
  }
  tapCatch(fn) {
    return this.then(undefined, (e) => Bluebird.resolve(fn(e)).then(() => { throw e; }));
  }
  spread(fn) {
    return this.then((values) => Bluebird.all(values).then((all) => fn(...all)));
  }
  delay(ms) {
    return this.then((v) => Bluebird.delay(ms, v));
  }
  thenReturn(value) {
    return this.then(() => value);
  }
  return(value) {
    return this.thenReturn(value);
  }
  catchReturn(value) {
    return this.catch(() => value);
  }
  catch(...args) {
    if (args.length <= 1) return super.catch(args[0]);
    const handler = args.pop();
    return super.catch((err) => {
      if (args.some((p) => matches(p, err))) return handler(err);
      throw err;
    });
  }
  error(handler) {
    return this.catch((err) => err instanceof Error, handler);
  }
  timeout(ms, message) {
    return new Bluebird((resolve, reject) => {
      const timer = setTimeout(() => reject(message instanceof Error ? message : new TimeoutError(message)), Number(ms) || 0);
      this.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
    });
  }
  asCallback(callback) {
    if (typeof callback === 'function') this.then((v) => callback(null, v), (e) => callback(e));
    return this;
  }
  nodeify(callback) {
    return this.asCallback(callback);
  }
  map(mapper, options) {
    return Bluebird.map(this, mapper, options);
  }
  mapSeries(mapper) {
    return Bluebird.mapSeries(this, mapper);
  }
  each(iterator) {
    return Bluebird.each(this, iterator);
  }
  filter(predicate, options) {
    return Bluebird.filter(this, predicate, options);
  }
  reduce(reducer, initial) {
    return Bluebird.reduce(this, reducer, initial);
  }
  props() {
    return Bluebird.props(this);
  }
  all() {
    return this.then((items) => Bluebird.all(items));
  }
}

Bluebird.TimeoutError = TimeoutError;
Bluebird.Promise = Bluebird;
module.exports = Bluebird;
