// Globals a fresh V8 context lacks and plugins expect (design.md §10): console, TextEncoder /
// TextDecoder, atob / btoa, URL / URLSearchParams, structuredClone. Pure JS except URL parsing,
// which asks the sandbox process so that it follows the WHATWG parser exactly (the same parser
// the egress guard uses to decide where a request goes).
(function installWebGlobals(host) {
  'use strict';
  // Captured before plugin code runs: console output must not depend on what a plugin replaced, and
  // the other helpers take their String, JSON and Object statics from here. (Their array and string
  // methods stay live: those helpers work on the plugin's own values for the plugin alone; what
  // they send the host, URL parsing, passes the bridge's checks.)
  const { defineProperty, freeze, keys: objectKeys, setPrototypeOf } = Object;
  const { apply } = Reflect;
  const { stringify, parse } = JSON;
  const TypeErrorCtor = TypeError;
  const { fromCodePoint, fromCharCode } = String;
  const dateNow = Date.now;
  const iteratorSymbol = Symbol.iterator;
  const Uint8ArrayCtor = Uint8Array;
  const StringCtor = String;
  const NumberCtor = Number;
  const isArray = Array.isArray;
  const stringIndexOf = String.prototype.indexOf;
  const stringSlice = String.prototype.slice;
  const symbolToString = Symbol.prototype.toString;
  const dateToISOString = Date.prototype.toISOString;
  const dateGetTime = Date.prototype.getTime;
  const ErrorCtor = Error;
  const DateCtor = Date;
  const parseIntFn = parseInt;
  const parseFloatFn = parseFloat;
  const define = (name, value) => defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  // Prototype-less arrays: filling them by index meets no setter a plugin put on Array.prototype.
  const newList = () => setPrototypeOf([], null);
  const join = (parts, separator) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) out += (i ? separator : '') + parts[i];
    return out;
  };
  const text = (v) => { try { const s = StringCtor(v); return typeof s === 'string' ? s : '[unprintable value]'; } catch (e) { return '[unprintable value]'; } };

  // ---- console → the plugin's log (scrubbed and capped by the host) ----
  function inspect(value, depth, seen) {
    if (typeof value === 'string') return depth === 0 ? value : stringify(value);
    if (typeof value === 'function') return '[Function ' + (text(value.name) || 'anonymous') + ']';
    if (typeof value === 'bigint') return text(value) + 'n';
    if (typeof value === 'symbol') return apply(symbolToString, value, []);
    if (value === null || typeof value !== 'object') return text(value);
    if (value instanceof ErrorCtor) return text(value.name || 'Error') + ': ' + text(value.message);
    if (value instanceof DateCtor) { const t = apply(dateGetTime, value, []); return t !== t ? 'Invalid Date' : apply(dateToISOString, value, []); }
    for (let i = 0; i < seen.length; i++) if (seen[i] === value) return '[Circular]';
    if (depth > 3) return isArray(value) ? '[Array]' : '[Object]';
    const next = newList();
    for (let i = 0; i < seen.length; i++) next[i] = seen[i];
    next[seen.length] = value;
    if (isArray(value)) {
      const items = newList();
      for (let i = 0; i < value.length && i < 100; i++) items[i] = inspect(value[i], depth + 1, next);
      if (value.length > 100) items[items.length] = '… ' + (value.length - 100) + ' more';
      return '[ ' + join(items, ', ') + ' ]';
    }
    const keys = objectKeys(value);
    const parts = newList();
    for (let i = 0; i < keys.length && i < 100; i++) parts[i] = keys[i] + ': ' + inspect(value[keys[i]], depth + 1, next);
    if (keys.length > 100) parts[parts.length] = '… ' + (keys.length - 100) + ' more';
    return '{ ' + join(parts, ', ') + ' }';
  }
  const FLAGS = 'sdifjoO%';
  function format(args) {
    const first = args[0];
    const rest = newList();
    for (let i = 1; i < args.length; i++) rest[i - 1] = args[i];
    let used = 0;
    let head = first;
    // Jumps from one '%' to the next: a 1 MB line without any costs one indexOf, not a loop per character.
    if (typeof first === 'string' && apply(stringIndexOf, first, ['%']) >= 0) {
      head = '';
      let from = 0;
      for (;;) {
        const at = apply(stringIndexOf, first, ['%', from]);
        if (at < 0 || at + 1 >= first.length) { head += apply(stringSlice, first, [from]); break; }
        head += apply(stringSlice, first, [from, at]);
        const f = first[at + 1];
        from = at + 2;
        if (apply(stringIndexOf, FLAGS, [f]) < 0 || (f !== '%' && used >= rest.length)) { head += '%' + f; continue; }
        if (f === '%') { head += '%'; continue; }
        const v = rest[used++];
        if (f === 's') head += typeof v === 'string' ? v : inspect(v, 1, newList());
        else if (f === 'd' || f === 'i') head += text(f === 'i' ? parseIntFn(v, 10) : NumberCtor(v));
        else if (f === 'f') head += text(parseFloatFn(v));
        else if (f === 'j') { try { head += text(stringify(v)); } catch (e) { head += '[Circular]'; } }
        else head += inspect(v, 1, newList());
      }
    }
    const parts = newList();
    parts[0] = inspect(head, 0, newList());
    for (let i = used; i < rest.length; i++) parts[parts.length] = inspect(rest[i], 0, newList());
    return join(parts, ' ');
  }
  const timers = new Map();
  const counts = new Map();
  const formatted = (args) => { try { return format(args); } catch (e) { return '[unprintable value]'; } };
  const log = (level) => (...args) => host.log(level, formatted(args));
  define('console', freeze({
    log: log('info'), info: log('info'), debug: log('debug'), trace: log('debug'), dir: log('info'), table: log('info'),
    warn: log('warn'), error: log('error'),
    assert: (cond, ...args) => { if (!cond) host.log('error', 'Assertion failed' + (args.length ? ': ' + format(args) : '')); },
    time: (label = 'default') => { timers.set(StringCtor(label), dateNow()); },
    timeLog: (label = 'default', ...args) => { const t = timers.get(StringCtor(label)); if (t !== undefined) host.log('info', label + ': ' + (dateNow() - t) + 'ms' + (args.length ? ' ' + format(args) : '')); },
    timeEnd: (label = 'default') => { const t = timers.get(StringCtor(label)); if (t !== undefined) { timers.delete(StringCtor(label)); host.log('info', label + ': ' + (dateNow() - t) + 'ms'); } },
    count: (label = 'default') => { const n = (counts.get(StringCtor(label)) || 0) + 1; counts.set(StringCtor(label), n); host.log('info', label + ': ' + n); },
  }));

  // ---- TextEncoder / TextDecoder (UTF-8 only, as in browsers) ----
  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(input = '') {
      const s = StringCtor(input);
      const out = [];
      for (let i = 0; i < s.length; i++) {
        let c = s.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; } else c = 0xfffd;
        } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
        if (c < 0x80) out.push(c);
        else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
        else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      }
      return new Uint8ArrayCtor(out);
    }
  }
  class TextDecoder {
    get encoding() { return 'utf-8'; }
    decode(input) {
      if (input === undefined) return '';
      const bytes = input instanceof Uint8ArrayCtor ? input : new Uint8ArrayCtor(input.buffer ? input.buffer : input);
      let out = '';
      for (let i = 0; i < bytes.length;) {
        const b = bytes[i];
        let cp = 0xfffd;
        let len = 1;
        if (b < 0x80) cp = b;
        else if (b >= 0xc2 && b < 0xe0 && i + 1 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80) { cp = ((b & 31) << 6) | (bytes[i + 1] & 63); len = 2; }
        else if (b >= 0xe0 && b < 0xf0 && i + 2 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80) {
          cp = ((b & 15) << 12) | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63); len = 3;
          if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
        } else if (b >= 0xf0 && b < 0xf5 && i + 3 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80 && (bytes[i + 3] & 0xc0) === 0x80) {
          cp = ((b & 7) << 18) | ((bytes[i + 1] & 63) << 12) | ((bytes[i + 2] & 63) << 6) | (bytes[i + 3] & 63); len = 4;
          if (cp < 0x10000 || cp > 0x10ffff) cp = 0xfffd;
        }
        out += fromCodePoint(cp);
        i += len;
      }
      return out;
    }
  }
  define('TextEncoder', TextEncoder);
  define('TextDecoder', TextDecoder);

  // ---- atob / btoa ----
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  define('btoa', (input) => {
    const s = StringCtor(input);
    let out = '';
    for (let i = 0; i < s.length; i += 3) {
      const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) throw new Error('btoa: the string contains characters outside Latin-1');
      const n = (a << 16) | ((b || 0) << 8) | (c || 0);
      out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < s.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < s.length ? B64[n & 63] : '=');
    }
    return out;
  });
  define('atob', (input) => {
    const s = StringCtor(input).replace(/[\t\n\f\r ]/g, '').replace(/=+$/, '');
    if (/[^A-Za-z0-9+/]/.test(s) || s.length % 4 === 1) throw new Error('atob: the string is not valid base64');
    let out = '';
    for (let i = 0; i < s.length; i += 4) {
      const n = (B64.indexOf(s[i]) << 18) | (B64.indexOf(s[i + 1]) << 12) | ((B64.indexOf(s[i + 2]) & 63) << 6) | (B64.indexOf(s[i + 3]) & 63);
      out += fromCharCode(n >> 16);
      if (i + 2 < s.length) out += fromCharCode((n >> 8) & 255);
      if (i + 3 < s.length) out += fromCharCode(n & 255);
    }
    return out;
  });

  // ---- URLSearchParams (application/x-www-form-urlencoded) ----
  const encodeForm = (s) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  const decodeForm = (s) => { const t = s.replace(/\+/g, ' '); try { return decodeURIComponent(t); } catch (e) { return t; } };
  const OWNER = Symbol('url');
  class URLSearchParams {
    constructor(init) {
      this._list = [];
      this[OWNER] = null;
      if (init === undefined || init === null) return;
      if (typeof init === 'string') this._parse(init);
      else if (typeof init === 'object' && typeof init[iteratorSymbol] === 'function') {
        for (const pair of init) this._list.push([StringCtor(pair[0]), StringCtor(pair[1])]);
      } else if (typeof init === 'object') {
        for (const k of objectKeys(init)) this._list.push([k, StringCtor(init[k])]);
      }
    }
    _parse(s) {
      this._list = [];
      for (const part of StringCtor(s).replace(/^\?/, '').split('&')) {
        if (!part) continue;
        const eq = part.indexOf('=');
        this._list.push(eq < 0 ? [decodeForm(part), ''] : [decodeForm(part.slice(0, eq)), decodeForm(part.slice(eq + 1))]);
      }
    }
    _changed() { if (this[OWNER]) this[OWNER]._setSearchFromParams(this.toString()); }
    get size() { return this._list.length; }
    append(k, v) { this._list.push([StringCtor(k), StringCtor(v)]); this._changed(); }
    delete(k) { this._list = this._list.filter((p) => p[0] !== StringCtor(k)); this._changed(); }
    get(k) { const p = this._list.find((e) => e[0] === StringCtor(k)); return p ? p[1] : null; }
    getAll(k) { return this._list.filter((p) => p[0] === StringCtor(k)).map((p) => p[1]); }
    has(k) { return this._list.some((p) => p[0] === StringCtor(k)); }
    set(k, v) {
      const key = StringCtor(k);
      const i = this._list.findIndex((p) => p[0] === key);
      if (i < 0) this._list.push([key, StringCtor(v)]);
      else { this._list[i] = [key, StringCtor(v)]; this._list = this._list.filter((p, j) => j <= i || p[0] !== key); }
      this._changed();
    }
    sort() { this._list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this._changed(); }
    forEach(fn, self) { for (const [k, v] of this._list) fn.call(self, v, k, this); }
    keys() { return this._list.map((p) => p[0])[iteratorSymbol](); }
    values() { return this._list.map((p) => p[1])[iteratorSymbol](); }
    entries() { return this._list.map((p) => [p[0], p[1]])[iteratorSymbol](); }
    [iteratorSymbol]() { return this.entries(); }
    toString() { return this._list.map((p) => encodeForm(p[0]) + '=' + encodeForm(p[1])).join('&'); }
  }
  define('URLSearchParams', URLSearchParams);

  // ---- URL: parsed by the sandbox process's WHATWG parser ----
  const FIELDS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
  class URL {
    constructor(input, base) {
      let parts;
      try {
        parts = host.callSync('url.parse', { input: StringCtor(input), base: base === undefined ? null : StringCtor(base) });
      } catch (e) {
        throw new TypeErrorCtor('Invalid URL: ' + StringCtor(input));
      }
      this._parts = parts;
      this._params = null;
    }
    static canParse(input, base) { try { new URL(input, base); return true; } catch (e) { return false; } }
    _set(field, value) { this._parts = host.callSync('url.set', { href: this._parts.href, field, value: StringCtor(value) }); if (this._params) this._params._parse(this._parts.search); }
    _setSearchFromParams(query) { this._parts = host.callSync('url.set', { href: this._parts.href, field: 'search', value: query }); }
    get searchParams() {
      if (!this._params) { this._params = new URLSearchParams(this._parts.search); this._params[OWNER] = this; }
      return this._params;
    }
    toString() { return this._parts.href; }
    toJSON() { return this._parts.href; }
  }
  for (const field of FIELDS) {
    defineProperty(URL.prototype, field, {
      get() { return this._parts[field]; },
      set: field === 'origin' ? undefined : function (v) { this._set(field, v); },
      enumerable: true, configurable: true,
    });
  }
  define('URL', URL);

  define('structuredClone', (value) => (value === undefined ? undefined : parse(stringify(value))));
})(globalThis.__ps_host);
