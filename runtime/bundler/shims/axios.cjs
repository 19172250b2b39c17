// require('axios'): an axios-compatible client whose only transport is the host's egress-guarded
// http.request (host-api/http.ts). Covers what payout plugins use: axios(cfg), verb helpers,
// create(), interceptors, params, auth, JSON/form bodies, res.data, err.response.{status,data}.
'use strict';
const host = globalThis.__ps_host;
const { Buffer } = require('./buffer.cjs');

class AxiosError extends Error {
  constructor(message, code, config, response) {
    super(message);
    this.name = 'AxiosError';
    this.code = code;
    this.config = config;
    this.response = response;
    this.isAxiosError = true;
  }
  toJSON() {
    return { name: this.name, message: this.message, code: this.code, status: this.response ? this.response.status : undefined };
  }
}

function mergeConfig(a, b) {
  const out = Object.assign({}, a, b);
  out.headers = Object.assign({}, a && a.headers, b && b.headers);
  return out;
}

function buildUrl(config) {
  let url = String(config.url || '');
  if (config.baseURL && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    url = String(config.baseURL).replace(/\/+$/, '') + '/' + url.replace(/^\/+/, '');
  }
  if (config.params && typeof config.params === 'object') {
    const search = new URLSearchParams();
    for (const k of Object.keys(config.params)) {
      const v = config.params[k];
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) v.forEach((item) => search.append(k + '[]', String(item)));
      else search.append(k, v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    const qs = search.toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  return url;
}

function encodeBody(data, headers) {
  const has = (name) => Object.keys(headers).some((k) => k.toLowerCase() === name);
  if (data === undefined || data === null) return { body: null, bodyEncoding: 'utf8' };
  if (typeof data === 'string') {
    if (!has('content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    return { body: data, bodyEncoding: 'utf8' };
  }
  if (data instanceof URLSearchParams) {
    if (!has('content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded;charset=utf-8';
    return { body: data.toString(), bodyEncoding: 'utf8' };
  }
  if (Buffer.isBuffer(data) || ArrayBuffer.isView(data) || data instanceof ArrayBuffer) {
    const buf = Buffer.isBuffer(data) ? data : ArrayBuffer.isView(data) ? Buffer.from(/** @type {ArrayBuffer} */ (data.buffer), data.byteOffset, data.byteLength) : Buffer.from(data);
    return { body: buf.toString('base64'), bodyEncoding: 'base64' };
  }
  if (!has('content-type')) headers['Content-Type'] = 'application/json';
  return { body: JSON.stringify(data), bodyEncoding: 'utf8' };
}

function decodeBody(result, config) {
  const type = config.responseType || 'json';
  if (type === 'arraybuffer') return result.bodyEncoding === 'base64' ? Buffer.from(result.body, 'base64') : Buffer.from(result.body, 'utf8');
  const text = result.bodyEncoding === 'base64' ? Buffer.from(result.body, 'base64').toString('utf8') : result.body;
  if (type === 'text' || type === 'document') return text;
  if (text === '') return text;
  try {
    return JSON.parse(text);
  } catch (e) {
    return text;
  }
}

function dispatch(config) {
  const headers = {};
  for (const [k, v] of Object.entries(config.headers || {})) {
    if (v !== undefined && v !== null && typeof v !== 'object') headers[k] = String(v);
  }
  if (config.auth && typeof config.auth === 'object') {
    headers.Authorization = 'Basic ' + Buffer.from(String(config.auth.username || '') + ':' + String(config.auth.password || '')).toString('base64');
  }
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'accept')) headers.Accept = 'application/json, text/plain, */*';
  const method = String(config.method || 'get').toUpperCase();
  // Node's axios ignores a body on GET/HEAD; the host refuses one, so drop it here as axios would.
  const { body, bodyEncoding } = method === 'GET' || method === 'HEAD' ? { body: null, bodyEncoding: 'utf8' } : encodeBody(config.data, headers);
  const request = { method, url: buildUrl(config), headers, body, bodyEncoding };
  if (config.timeout > 0) request.timeoutMs = Number(config.timeout);
  if (config.maxContentLength > 0) request.maxResponseBytes = Number(config.maxContentLength);
  return host.call('http.request', request).then((result) => {
    const response = {
      data: decodeBody(result, config), status: result.status, statusText: result.statusText,
      headers: result.headers, config, request: { url: result.url, redirected: result.redirected },
    };
    const validate = typeof config.validateStatus === 'function' ? config.validateStatus : (s) => s >= 200 && s < 300;
    if (config.validateStatus === null || validate(response.status)) return response;
    const code = response.status >= 500 ? 'ERR_BAD_RESPONSE' : 'ERR_BAD_REQUEST';
    throw new AxiosError('Request failed with status code ' + response.status, code, config, response);
  }, (err) => {
    throw new AxiosError(err && err.message ? err.message : 'Network Error', (err && err.code) || 'ERR_NETWORK', config, undefined);
  });
}

function interceptorManager() {
  const handlers = [];
  return {
    handlers,
    use(fulfilled, rejected) { handlers.push({ fulfilled, rejected }); return handlers.length - 1; },
    eject(id) { if (handlers[id]) handlers[id] = null; },
    clear() { handlers.length = 0; },
  };
}

function createInstance(defaults) {
  const interceptors = { request: interceptorManager(), response: interceptorManager() };
  function request(configOrUrl, maybeConfig) {
    const input = typeof configOrUrl === 'string' ? Object.assign({}, maybeConfig, { url: configOrUrl }) : configOrUrl || {};
    let chain = Promise.resolve(mergeConfig(instance.defaults, input));
    for (const h of interceptors.request.handlers) if (h) chain = chain.then(h.fulfilled, h.rejected);
    chain = chain.then(dispatch);
    for (const h of interceptors.response.handlers) if (h) chain = chain.then(h.fulfilled, h.rejected);
    return chain;
  }
  const instance = function axios(configOrUrl, config) { return request(configOrUrl, config); };
  instance.defaults = mergeConfig({ headers: {} }, defaults || {});
  instance.interceptors = interceptors;
  instance.request = request;
  for (const method of ['get', 'delete', 'head', 'options']) {
    instance[method] = (url, config) => request(Object.assign({}, config, { url, method }));
  }
  for (const method of ['post', 'put', 'patch']) {
    instance[method] = (url, data, config) => request(Object.assign({}, config, { url, method, data }));
  }
  instance.create = (more) => createInstance(mergeConfig(instance.defaults, more || {}));
  instance.isAxiosError = (e) => Boolean(e && e.isAxiosError);
  instance.AxiosError = AxiosError;
  instance.all = (list) => Promise.all(list);
  instance.spread = (fn) => (arr) => fn(...arr);
  instance.isCancel = () => false;
  return instance;
}

const axios = createInstance({});
/** @type {any} */ (axios).default = axios; // `import axios from 'axios'` in bundled ESM code
module.exports = axios;
