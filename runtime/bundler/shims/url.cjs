// require('url') / require('node:url'): the WHATWG URL classes, plus the legacy parse/format
// that older plugins call.
'use strict';

function parse(input, parseQuery) {
  const u = new URL(String(input));
  const query = u.search.replace(/^\?/, '');
  const out = {
    protocol: u.protocol, slashes: true, auth: u.username ? u.username + (u.password ? ':' + u.password : '') : null,
    host: u.host, port: u.port || null, hostname: u.hostname, hash: u.hash || null, search: u.search || null,
    query: parseQuery ? Object.fromEntries(new URLSearchParams(query)) : query || null,
    pathname: u.pathname, path: u.pathname + u.search, href: u.href,
  };
  return out;
}

function format(obj) {
  if (obj instanceof URL) return obj.href;
  if (typeof obj === 'string') return obj;
  const protocol = obj.protocol ? String(obj.protocol).replace(/:?$/, ':') : '';
  const host = obj.host || (obj.hostname ? obj.hostname + (obj.port ? ':' + obj.port : '') : '');
  let search = obj.search || '';
  if (!search && obj.query && typeof obj.query === 'object') search = '?' + new URLSearchParams(obj.query).toString();
  return protocol + (host ? '//' + host : '') + (obj.pathname || '') + search + (obj.hash || '');
}

// The web globals the prelude defines (web-globals.isolate.js), under their Node module names.
const WebURL = URL;
const WebURLSearchParams = URLSearchParams;
module.exports = { URL: WebURL, URLSearchParams: WebURLSearchParams, parse, format };
