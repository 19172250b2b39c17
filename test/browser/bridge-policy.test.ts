// The admin page's checks on what a plugin's settings frame sends over its MessagePort. The same
// file the browser loads (runtime/admin-ui/bridge-policy.js), tested here message by message.
import { describe, expect, it } from 'vitest';
import { BRIDGE_LIMITS, SET_CONFIG_PATH, checkBridgeMessage, createRateLimiter } from '../../runtime/admin-ui/bridge-policy.js';

const ctx = { payoutKey: 'nimbuspay', keys: [{ key: 'apiKey', secret: false }, { key: 'apiSecret', secret: true }, { key: 'debug', secret: false }], secretMask: '********' };
const req = (body: unknown, extra: Record<string, unknown> = {}) => ({ id: 7, path: SET_CONFIG_PATH, body, ...extra });

describe('bridge policy', () => {
  it('accepts a set-config request for the frame\'s own declared key, with a scalar value', () => {
    expect(checkBridgeMessage(req({ payoutKey: 'nimbuspay', key: 'apiKey', value: 'k' }), ctx)).toEqual({ kind: 'request', id: 7, body: { payoutKey: 'nimbuspay', key: 'apiKey', value: 'k' } });
    expect(checkBridgeMessage(req({ payoutKey: 'nimbuspay', key: 'debug', value: true }), ctx).kind).toBe('request');
    expect(checkBridgeMessage(req({ payoutKey: 'nimbuspay', key: 'debug', value: 1 }), ctx).kind).toBe('request');
    expect(checkBridgeMessage({ ...req({ payoutKey: 'nimbuspay', key: 'apiSecret', value: 'new-secret' }), path: `/${SET_CONFIG_PATH}` }, ctx).kind).toBe('request');
  });

  it.each([
    ['another plugin', req({ payoutKey: 'other', key: 'apiKey', value: 'x' }), /payoutKey "other" refused: this settings page belongs to 'nimbuspay'/],
    ['an undeclared key', req({ payoutKey: 'nimbuspay', key: 'adminToken', value: 'x' }), /key "adminToken" is not declared in nimbuspay's configure\.js/],
    ['another API path', { ...req({ payoutKey: 'nimbuspay', key: 'apiKey', value: 'x' }), path: 'admin/plugins/nimbuspay/grants' }, /path "admin\/plugins\/nimbuspay\/grants" is not allowed/],
    ['a path that walks out', { ...req({ payoutKey: 'nimbuspay', key: 'apiKey', value: 'x' }), path: `${SET_CONFIG_PATH}/../../plugins` }, /is not allowed/],
    ['a full URL', { ...req({ payoutKey: 'nimbuspay', key: 'apiKey', value: 'x' }), path: `http://127.0.0.1/api/${SET_CONFIG_PATH}` }, /is not allowed/],
    ['an object value', req({ payoutKey: 'nimbuspay', key: 'apiKey', value: { a: 1 } }), /value must be a string, number or boolean; got object/],
    ['a null value', req({ payoutKey: 'nimbuspay', key: 'apiKey', value: null }), /got null/],
    ['an infinite number', req({ payoutKey: 'nimbuspay', key: 'debug', value: Infinity }), /finite/],
    ['an oversized value', req({ payoutKey: 'nimbuspay', key: 'apiKey', value: 'x'.repeat(BRIDGE_LIMITS.maxValueLength + 1) }), /longer than 8192/],
    ['the secret mask as a secret', req({ payoutKey: 'nimbuspay', key: 'apiSecret', value: '********' }), /type the new secret/],
    ['an extra body field', req({ payoutKey: 'nimbuspay', key: 'apiKey', value: 'x', token: 'y' }), /unexpected field "token" in the body/],
    ['an extra message field', req({ payoutKey: 'nimbuspay', key: 'apiKey', value: 'x' }, { headers: {} }), /unexpected field "headers" in the message/],
    ['a body that is an array', req([]), /body must be an object/],
    ['a missing id', { path: SET_CONFIG_PATH, body: { payoutKey: 'nimbuspay', key: 'apiKey', value: 'x' } }, /id must be a non-negative integer/],
    ['a string', 'admin/merchant-and-payout/set-config-payout', /not an object/],
    ['null', null, /not an object/],
    ['an array', [1, 2], /not an object/],
    ['an oversized path', { ...req({}), path: 'a'.repeat(500) }, /path is longer than/],
    ['a bad resize', { type: 'resize', height: 'huge' }, /resize message/],
  ])('refuses %s', (_what, message, reason) => {
    const verdict = checkBridgeMessage(message, ctx);
    expect(verdict.kind).toBe('refused');
    expect(verdict.kind === 'refused' && verdict.reason).toMatch(reason);
  });

  it('never echoes more than a short quote of what the frame sent', () => {
    const verdict = checkBridgeMessage({ ...req({}), path: `x${'A'.repeat(150)}` }, ctx);
    expect(verdict.kind === 'refused' && verdict.reason.length).toBeLessThan(200);
  });

  it('clamps resize requests', () => {
    expect(checkBridgeMessage({ type: 'resize', height: 10 }, ctx)).toEqual({ kind: 'resize', height: BRIDGE_LIMITS.minHeight });
    expect(checkBridgeMessage({ type: 'resize', height: 1e9 }, ctx)).toEqual({ kind: 'resize', height: BRIDGE_LIMITS.maxHeight });
  });

  it('rate-limits per window', () => {
    let t = 0;
    const limiter = createRateLimiter({ max: 3, windowMs: 1000, now: () => t });
    expect([limiter.take(), limiter.take(), limiter.take(), limiter.take()]).toEqual([true, true, true, false]);
    t = 1000;
    expect(limiter.take()).toBe(true);
  });
});
