// Trusted code that runs first in every plugin context (and in the throwaway context that reads
// configure.js), before the bridge and before any plugin code. It removes from the intrinsics
// what lets code hold memory outside the isolate's heap limit or block a thread:
//  - WebAssembly (Memory, and Memory({shared}) → SharedArrayBuffer), SharedArrayBuffer, Atomics
//    (wait, waitAsync, pause): deleted from the global object, the only place V8 puts them;
//  - resizable ArrayBuffers: `resize`, `transfer`, `transferToFixedLength` deleted from
//    ArrayBuffer.prototype, and the ArrayBuffer constructor replaced by one that refuses
//    `maxByteLength` and never hands options to the original (which nothing can reach any more:
//    its only references were the global binding and ArrayBuffer.prototype.constructor).
//    Fixed-length buffers stay: isolated-vm counts them against the memory limit;
//  - retained ICU objects: an Intl formatter holds kilobytes of native memory behind a 100-byte
//    heap object (100 000 DateTimeFormats held 2.7 GB with a 17 MB heap). Intl.Segmenter,
//    Intl.v8BreakIterator and Intl.Locale are removed (segment() and maximize() make more of them
//    without a constructor); the other Intl constructors share one instance per (locales,
//    options) and refuse more than MAX_DISTINCT_INTL distinct ones per isolate.
// A payout plugin needs none of them. Why each one: SECURITY.md, "Engine hardening".
(function harden(global) {
  'use strict';
  const { defineProperty, getOwnPropertyDescriptor } = Object;
  const { apply, construct, deleteProperty } = Reflect;
  const { stringify, parse } = JSON;
  const isArray = Array.isArray;
  const MapCtor = Map;
  const { get: mapGet, set: mapSet } = Map.prototype;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const MAX_DISTINCT_INTL = 200;

  const sab = global.SharedArrayBuffer;
  if (typeof sab === 'function') deleteProperty(sab.prototype, 'grow');
  deleteProperty(global, 'WebAssembly');
  deleteProperty(global, 'SharedArrayBuffer');
  deleteProperty(global, 'Atomics');
  // Not exposed by Node 24's V8 without a flag; a realm of its own would bring fresh intrinsics.
  deleteProperty(global, 'ShadowRealm');

  // A function declared here behaves like a builtin to plugin code: same name, length, prototype.
  function replaceConstructor(original, replacement, length) {
    defineProperty(replacement, 'name', { value: original.name, configurable: true });
    defineProperty(replacement, 'length', { value: length, configurable: true });
    defineProperty(replacement, 'prototype', { value: original.prototype, writable: false, enumerable: false, configurable: false });
    defineProperty(original.prototype, 'constructor', { value: replacement, writable: true, enumerable: false, configurable: true });
  }

  const OriginalArrayBuffer = global.ArrayBuffer;
  const arrayBufferPrototype = OriginalArrayBuffer.prototype;
  deleteProperty(arrayBufferPrototype, 'resize');
  deleteProperty(arrayBufferPrototype, 'transfer');
  deleteProperty(arrayBufferPrototype, 'transferToFixedLength');
  const ArrayBuffer = function ArrayBuffer(length) {
    if (new.target === undefined) throw new TypeErrorCtor("Constructor ArrayBuffer requires 'new'");
    const options = arguments.length > 1 ? arguments[1] : undefined;
    if (options !== null && (typeof options === 'object' || typeof options === 'function') && options.maxByteLength !== undefined) {
      throw new RangeErrorCtor('resizable ArrayBuffers (maxByteLength) are not available in the payout sandbox');
    }
    return construct(OriginalArrayBuffer, [length], new.target);
  };
  replaceConstructor(OriginalArrayBuffer, ArrayBuffer, 1);
  defineProperty(ArrayBuffer, 'isView', getOwnPropertyDescriptor(OriginalArrayBuffer, 'isView'));
  defineProperty(ArrayBuffer, Symbol.species, getOwnPropertyDescriptor(OriginalArrayBuffer, Symbol.species));
  defineProperty(global, 'ArrayBuffer', { value: ArrayBuffer, writable: true, enumerable: false, configurable: true });

  const intl = global.Intl;
  if (intl && typeof intl === 'object') {
    deleteProperty(intl, 'Segmenter');
    deleteProperty(intl, 'v8BreakIterator');
    deleteProperty(intl, 'Locale');
    const shared = new MapCtor();
    let distinct = 0;
    const callableWithoutNew = { __proto__: null, Collator: true, DateTimeFormat: true, NumberFormat: true };
    const keyOf = (name, locales, options) => {
      const plainLocales = locales === undefined || typeof locales === 'string' || (isArray(locales) && locales.length <= 20);
      if (!plainLocales || (options !== undefined && (options === null || typeof options !== 'object'))) return null;
      try {
        return stringify([name, locales === undefined ? null : locales, options === undefined ? null : options]);
      } catch (e) {
        return null;
      }
    };
    const names = ['Collator', 'DateTimeFormat', 'DisplayNames', 'DurationFormat', 'ListFormat', 'NumberFormat', 'PluralRules', 'RelativeTimeFormat'];
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const Original = intl[name];
      if (typeof Original !== 'function') continue;
      const Shared = function (locales, options) {
        if (new.target === undefined && !callableWithoutNew[name]) throw new TypeErrorCtor(`Constructor Intl.${name} requires 'new'`);
        const target = new.target === undefined ? Shared : new.target;
        // Subclasses get their own instance; only the plain constructor shares.
        const key = target === Shared ? keyOf(name, locales, options) : null;
        if (key !== null) {
          const known = apply(mapGet, shared, [key]);
          if (known !== undefined) return known;
        }
        if (distinct >= MAX_DISTINCT_INTL) {
          throw new RangeErrorCtor(`the payout sandbox allows at most ${MAX_DISTINCT_INTL} distinct Intl formatters per plugin; create one and reuse it`);
        }
        // Constructed from the key's own copy, so the formatter is exactly what the key says.
        const args = key === null ? [locales, options] : (() => { const p = parse(key); return [p[1] === null ? undefined : p[1], p[2] === null ? undefined : p[2]]; })();
        const made = construct(Original, args, target);
        distinct++;
        if (key !== null) apply(mapSet, shared, [key, made]);
        return made;
      };
      replaceConstructor(Original, Shared, 0);
      defineProperty(Shared, 'supportedLocalesOf', getOwnPropertyDescriptor(Original, 'supportedLocalesOf'));
      defineProperty(intl, name, { value: Shared, writable: true, enumerable: false, configurable: true });
    }
  }
})(globalThis);
