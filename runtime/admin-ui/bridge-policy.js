// What the admin page accepts from a plugin's settings frame over its MessagePort. Pure functions,
// no DOM and no Vue, so the same file runs in the browser and in the unit tests (node).
// The frame is untrusted: every field of every message is checked before anything is done with
// it, and the page — never the frame — adds the token and calls the API.

export const SET_CONFIG_PATH = 'admin/merchant-and-payout/set-config-payout';

export const BRIDGE_LIMITS = Object.freeze({
  maxPathLength: 200,
  maxKeyLength: 64,
  maxValueLength: 8192,      // host-api/config.ts refuses longer values anyway
  maxRequestsPerWindow: 10,  // per frame
  windowMs: 10_000,
  maxInFlight: 2,
  maxRefusals: 30,           // then the page closes the bridge: the frame is misbehaving
  minHeight: 120,
  maxHeight: 4000,
});

const REQUEST_FIELDS = ['id', 'path', 'body'];
const BODY_FIELDS = ['payoutKey', 'key', 'value'];

function isPlainObject(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Quotes a frame-supplied value for a message, cut short: never echo a frame's megabytes. */
export function quote(v) {
  const s = typeof v === 'string' ? v : String(v);
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
}

function refused(id, reason) {
  return { kind: 'refused', id, reason };
}

/**
 * Decides one message from the frame.
 * ctx: { payoutKey, keys: [{key, secret}], secretMask }
 * → { kind: 'resize', height } | { kind: 'request', id, body: {payoutKey, key, value} } | { kind: 'refused', id, reason }
 */
export function checkBridgeMessage(data, ctx) {
  if (!isPlainObject(data)) return refused(null, 'the message is not an object {id, path, body}');
  if (data.type === 'resize') {
    const keys = Object.keys(data);
    if (keys.length !== 2 || typeof data.height !== 'number' || !Number.isFinite(data.height)) return refused(null, 'a resize message is {type: "resize", height: <number>}');
    return { kind: 'resize', height: Math.min(BRIDGE_LIMITS.maxHeight, Math.max(BRIDGE_LIMITS.minHeight, Math.ceil(data.height))) };
  }
  const id = Number.isSafeInteger(data.id) && data.id >= 0 ? data.id : null;
  const extra = Object.keys(data).filter((k) => !REQUEST_FIELDS.includes(k));
  if (extra.length) return refused(id, `unexpected field ${quote(extra[0])} in the message; only id, path and body are allowed`);
  if (id === null) return refused(null, 'id must be a non-negative integer');

  const { path, body } = data;
  if (typeof path !== 'string') return refused(id, 'path must be a string');
  if (path.length > BRIDGE_LIMITS.maxPathLength) return refused(id, `path is longer than ${BRIDGE_LIMITS.maxPathLength} characters`);
  // The platform's own spelling has no leading slash; one is tolerated, nothing else is.
  if (path.replace(/^\//, '') !== SET_CONFIG_PATH) {
    return refused(id, `path ${quote(path)} is not allowed: a plugin's settings page may only call ${SET_CONFIG_PATH}`);
  }
  if (!isPlainObject(body)) return refused(id, 'body must be an object {payoutKey, key, value}');
  const extraBody = Object.keys(body).filter((k) => !BODY_FIELDS.includes(k));
  if (extraBody.length) return refused(id, `unexpected field ${quote(extraBody[0])} in the body; only payoutKey, key and value are allowed`);

  const { payoutKey, key, value } = body;
  if (payoutKey !== ctx.payoutKey) {
    return refused(id, `payoutKey ${quote(typeof payoutKey === 'string' ? payoutKey : typeof payoutKey)} refused: this settings page belongs to '${ctx.payoutKey}' and may only change its own config`);
  }
  if (typeof key !== 'string' || key.length === 0 || key.length > BRIDGE_LIMITS.maxKeyLength) return refused(id, 'key must be a config key name');
  const declared = ctx.keys.find((k) => k.key === key);
  if (!declared) return refused(id, `key ${quote(key)} is not declared in ${ctx.payoutKey}'s configure.js (default_config / required_config)`);
  if (typeof value === 'string') {
    if (value.length > BRIDGE_LIMITS.maxValueLength) return refused(id, `value is longer than ${BRIDGE_LIMITS.maxValueLength} characters`);
    if (declared.secret && ctx.secretMask && value === ctx.secretMask) {
      return refused(id, `${key} is a secret: the page shows ${ctx.secretMask} when one is stored; type the new secret to replace it`);
    }
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) return refused(id, 'value must be a finite number');
  } else if (typeof value !== 'boolean') {
    return refused(id, `value must be a string, number or boolean; got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return { kind: 'request', id, body: { payoutKey, key, value } };
}

/** At most `max` hits in any `windowMs`. */
export function createRateLimiter({ max, windowMs, now = () => Date.now() }) {
  const hits = [];
  return {
    take() {
      const t = now();
      while (hits.length && t - hits[0] >= windowMs) hits.shift();
      if (hits.length >= max) return false;
      hits.push(t);
      return true;
    },
  };
}
