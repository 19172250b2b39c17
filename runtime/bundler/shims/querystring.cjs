// require('querystring') / require('node:querystring'): Node's legacy query-string helpers.
'use strict';

function escape(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
function unescape(s) {
  try {
    return decodeURIComponent(s);
  } catch (e) {
    return s;
  }
}
function stringifyPrimitive(v) {
  if (typeof v === 'string') return v;
  if ((typeof v === 'number' && isFinite(v)) || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return '';
}
function stringify(obj, sep, eq) {
  sep = sep || '&';
  eq = eq || '=';
  if (!obj || typeof obj !== 'object') return '';
  const parts = [];
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    const ks = escape(stringifyPrimitive(k)) + eq;
    if (Array.isArray(v)) for (const item of v) parts.push(ks + escape(stringifyPrimitive(item)));
    else parts.push(ks + escape(stringifyPrimitive(v)));
  }
  return parts.join(sep);
}
function parse(str, sep, eq, options) {
  sep = sep || '&';
  eq = eq || '=';
  const max = options && typeof options.maxKeys === 'number' ? options.maxKeys : 1000;
  const out = Object.create(null);
  if (typeof str !== 'string' || str.length === 0) return out;
  let parts = str.split(sep);
  if (max > 0) parts = parts.slice(0, max);
  for (const part of parts) {
    if (!part) continue;
    const i = part.indexOf(eq);
    const k = unescape((i >= 0 ? part.slice(0, i) : part).replace(/\+/g, ' '));
    const v = unescape((i >= 0 ? part.slice(i + eq.length) : '').replace(/\+/g, ' '));
    if (!(k in out)) out[k] = v;
    else if (Array.isArray(out[k])) out[k].push(v);
    else out[k] = [out[k], v];
  }
  return out;
}

module.exports = { parse, stringify, escape, unescape, decode: parse, encode: stringify };
