// require('payout-sandbox/sdk') inside the isolate: definePayoutPlugin, the error classes that say
// whether a provider refused (definite) or the outcome is unknown, and the `ctx` handlers receive.
// ctx.http sends through the host's egress guard; secrets are referenced by config key and
// applied by the host (auth, secretHeaders, sign) so they never enter the sandbox.
'use strict';
const host = globalThis.__ps_host;
const MARK = '__psSdkPlugin';

class ProviderRefused extends Error {
  constructor(message, details) {
    super(message);
    this.name = 'ProviderRefused';
    this.definite = true;
    if (details !== undefined) this.details = details;
  }
}

class OutcomeUnknown extends Error {
  constructor(message) {
    super(message);
    this.name = 'OutcomeUnknown';
  }
}

function definePayoutPlugin(definition) {
  if (!definition || typeof definition !== 'object') throw new TypeError('definePayoutPlugin needs an object: { manifest, fields, transfer, status?, webhook? }');
  return Object.freeze(Object.assign({}, definition, { [MARK]: true }));
}

function decode(result) {
  if (result.bodyEncoding !== 'base64') return result.body;
  const bin = atob(result.body);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

async function request(options) {
  const o = options || {};
  const headers = Object.assign({}, o.headers);
  let body = null;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  } else if (o.form !== undefined) {
    body = new URLSearchParams(o.form).toString();
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (typeof o.body === 'string') {
    body = o.body;
  }
  let url = String(o.url);
  if (o.query && typeof o.query === 'object') {
    const qs = new URLSearchParams(o.query).toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  const args = { method: String(o.method || 'GET').toUpperCase(), url, headers, body, bodyEncoding: 'utf8' };
  if (o.timeoutMs) args.timeoutMs = Number(o.timeoutMs);
  if (o.auth) args.auth = o.auth;
  if (o.secretHeaders) args.secretHeaders = o.secretHeaders;
  if (o.sign) args.sign = o.sign;
  const result = await host.call('http.request', args);
  const text = decode(result);
  return Object.freeze({
    status: result.status,
    ok: result.status >= 200 && result.status < 300,
    headers: result.headers,
    text,
    json() {
      try {
        return JSON.parse(text);
      } catch (e) {
        throw new OutcomeUnknown('the provider answered ' + result.status + ' with a body that is not JSON');
      }
    },
  });
}

const logger = (level) => (...parts) => host.log(level, parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' '));

// Where the host serves this plugin's webhook: the provider's callback URL for a payout. Built
// from process.env.API_URL (the host's public base URL); null when the host has none.
function webhookUrl() {
  const env = globalThis.process && globalThis.process.env;
  const base = env && typeof env.API_URL === 'string' ? env.API_URL : '';
  if (!base) return null;
  return (base.endsWith('/') ? base : base + '/') + 'payout_call/' + encodeURIComponent(host.pluginKey) + '/webhook/';
}

// ctx.webhook.verify(req): the host checks the delivery's signature with the scheme the manifest
// declares (webhook.signature) and the secret config key it names; the secret stays host-side.
function verifyWebhook(req) {
  const r = req || {};
  return host.call('webhook.verify', {
    headers: Object.assign({}, r.headers), rawBody: typeof r.rawBody === 'string' ? r.rawBody : '',
    method: typeof r.method === 'string' ? r.method : 'POST', path: '/payout_call/' + encodeURIComponent(host.pluginKey) + '/webhook/',
  });
}

function createContext() {
  return Object.freeze({
    pluginKey: host.pluginKey,
    webhookUrl: webhookUrl(),
    config: Object.freeze({ get: (key) => host.call('config.get', { key: String(key) }) }),
    http: Object.freeze({
      request,
      get: (url, options) => request(Object.assign({}, options, { method: 'GET', url })),
      post: (url, json, options) => request(Object.assign({}, options, { method: 'POST', url, json })),
    }),
    webhook: Object.freeze({ verify: verifyWebhook }),
    log: Object.freeze({ info: logger('info'), warn: logger('warn'), error: logger('error'), debug: logger('debug') }),
  });
}

module.exports = { definePayoutPlugin, ProviderRefused, OutcomeUnknown, createContext, MARK };
