// The registry of error codes (runtime/errors.ts) is an interface: clients branch on `code`. These
// tests keep the list: a code that disappears, is renamed or changes its status fails here, on
// purpose. Adding a code means adding it below (and to README's code table, which is checked too).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HOST_CALL_ERRORS, ERRORS, PLUGIN_REJECTIONS, POLICY_RULES, codeForStatus, errorBody, errorMessage, isErrorCode, isPluginRejectionCode } from '../../runtime/errors.ts';
import type { PluginRejectionCode } from '../../runtime/errors.ts';
import { PluginRejected } from '../../runtime/plugin-errors.ts';
import { CapabilityError, PolicyDenied } from '../../host-api/capability.ts';
import type { FailureKind } from '../../runtime/sandbox/protocol.ts';
import { InstallError } from '../../runtime/install/install-errors.ts';
import type { InstallErrorCode } from '../../runtime/install/install-errors.ts';
import { StoreConflictError, StoreInputError, StoreOpenError, StoreTransitionError } from '../../runtime/store/errors.ts';
import { OrderFormError } from '../../runtime/orders/order-errors.ts';
import { HttpError, toHttpError } from '../../runtime/server/http-errors.ts';

/** Every code with its HTTP status, in registry order. Append; never rename, reuse or remove. */
const STABLE_CODES: [string, number][] = [
    ['ROUTE_NOT_FOUND', 404],
    ['BAD_REQUEST', 400],
    ['VALIDATION_FAILED', 400],
    ['NOT_FOUND', 404],
    ['FORBIDDEN', 403],
    ['CONFLICT', 409],
    ['UNPROCESSABLE', 422],
    ['BODY_TOO_LARGE', 413],
    ['UNSUPPORTED_MEDIA_TYPE', 415],
    ['RATE_LIMITED', 429],
    ['UPSTREAM_FAILED', 502],
    ['UNAVAILABLE', 503],
    ['INTERNAL', 500],
    ['ADMIN_TOKEN_INVALID', 401],
    ['METRICS_TOKEN_INVALID', 401],
    ['ORDER_INVALID', 400],
    ['ORDER_NOT_FOUND', 404],
    ['ORDER_CONFLICT', 409],
    ['ORDER_TOO_LARGE', 413],
    ['ORDER_MEDIA_TYPE', 415],
    ['ORDER_REFUSED', 422],
    ['ORDER_RATE_LIMITED', 429],
    ['ORDER_UNAVAILABLE', 503],
    ['CALLBACK_NOT_FOUND', 404],
    ['CALLBACK_BODY_TOO_LARGE', 413],
    ['CALLBACK_RATE_LIMITED', 429],
    ['CALLBACK_INBOX_FULL', 429],
    ['CALLBACK_INBOX_BYTES', 413],
    ['CALLBACK_NOT_RECORDED', 503],
    ['CALLBACK_PLUGIN_BUSY', 429],
    ['CALLBACK_PLUGIN_UNAVAILABLE', 503],
    ['CALLBACK_PLUGIN_FAILED', 500],
    ['CALLBACK_PLUGIN_TIMEOUT', 504],
    ['STORE_INPUT', 400],
    ['STORE_CONFLICT', 409],
    ['STORE_TRANSITION', 500],
    ['STORE_OPEN', 500],
    ['INSTALL_BAD_SOURCE', 400],
    ['INSTALL_FETCH_FAILED', 502],
    ['INSTALL_NOT_FOUND', 404],
    ['INSTALL_UNAUTHORIZED', 400],
    ['INSTALL_INTEGRITY_MISMATCH', 422],
    ['INSTALL_UNSAFE_ARCHIVE', 422],
    ['INSTALL_TOO_LARGE', 413],
    ['INSTALL_CHECK_FAILED', 422],
    ['INSTALL_TAMPERED', 409],
    ['INSTALL_CONFLICT', 409],
    ['INSTALL_NOTHING_TO_DO', 409],
    ['ENGINE_UNKNOWN', 400],
    ['ENGINE_LOAD_FAILED', 422],
];

describe('the error registry', () => {
  it('holds exactly the stable codes, each with its status', () => {
    expect(Object.entries(ERRORS).map(([code, spec]) => [code, spec.status])).toEqual(STABLE_CODES);
  });

  it('has unique codes (also ignoring case), in one naming style, each with a status and a message', () => {
    const codes = Object.keys(ERRORS);
    expect(new Set(codes.map((c) => c.toLowerCase())).size).toBe(codes.length);
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/);
      expect(spec.status >= 400 && spec.status <= 599, code).toBe(true);
      expect(spec.message.length, code).toBeGreaterThan(0);
    }
  });

  it('fills message templates, and leaves a missing parameter visible', () => {
    expect(errorMessage('CALLBACK_BODY_TOO_LARGE', { limit: 1024 })).toBe('the request body is over the 1024-byte limit for payout callbacks; the plugin did not run');
    expect(errorMessage('RATE_LIMITED', { max: 5 })).toBe('too many requests: at most 5 per minute here; retry in {after}');
    expect(isErrorCode('NOT_A_CODE')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });

  it('builds the one body', () => {
    expect(errorBody('NOT_FOUND', 'no plugin x', { field: 'key' })).toEqual({
      statusCode: 404, code: 'NOT_FOUND', message: 'no plugin x', error: { code: 'NOT_FOUND', message: 'no plugin x', field: 'key' },
    });
    expect(codeForStatus(422, 'order')).toBe('ORDER_REFUSED');
    expect(codeForStatus(418)).toBe('BAD_REQUEST');
    expect(codeForStatus(599)).toBe('INTERNAL');
  });
});

describe('the error classes map onto the registry in one place (runtime/server/http-errors.ts)', () => {
  it('every InstallError code has its INSTALL_ code, with the status the admin API answers', () => {
    const installCodes: Record<InstallErrorCode, true> = {
      bad_source: true, fetch_failed: true, not_found: true, unauthorized: true, integrity_mismatch: true, unsafe_archive: true,
      too_large: true, check_failed: true, tampered: true, conflict: true, nothing_to_do: true,
    };
    for (const code of Object.keys(installCodes) as InstallErrorCode[]) {
      const answer = toHttpError(new InstallError(code, `refused: ${code}`));
      expect(answer.body.code).toBe(`INSTALL_${code.toUpperCase()}`);
      expect(answer.status).toBe(ERRORS[answer.body.code].status);
    }
  });

  it('the store\'s error codes are registry codes', () => {
    for (const e of [new StoreInputError('op', 'bad'), new StoreConflictError('op', 'taken'), new StoreTransitionError('op', 'no'), new StoreOpenError('gone')]) {
      expect(isErrorCode(e.code), e.code).toBe(true);
    }
    expect(toHttpError(new StoreInputError('listOrders', 'bad date')).body).toMatchObject({ statusCode: 400, code: 'STORE_INPUT', message: 'listOrders: bad date' });
  });

  it('OrderFormError keeps field, details and currentStatus; HttpError keeps its field', () => {
    const order = toHttpError(new OrderFormError('amount', 'amount is required', 400, { details: [{ field: 'amount', message: 'a' }, { field: 'lang', message: 'b' }] }));
    expect(order.body).toMatchObject({ statusCode: 400, code: 'ORDER_INVALID', error: { field: 'amount', details: [{ field: 'amount' }, { field: 'lang' }] } });
    expect(toHttpError(new HttpError(404, 'no plugin x', 'payoutKey')).body).toMatchObject({ code: 'NOT_FOUND', error: { field: 'payoutKey' } });
  });

  it('a fault answers INTERNAL and never echoes its message', () => {
    const fault = toHttpError(new Error('connection string postgres://u:pw@db'));
    expect(fault).toMatchObject({ status: 500, fault: true, body: { code: 'INTERNAL' } });
    expect(JSON.stringify(fault.body)).not.toContain('pw@db');
  });
});

/**
 * The codes that are not HTTP answers, as they appear in audit records, the admin API, the CLI and
 * plugins' errors. Sorted; add a code here when it is added to the registry, never remove one.
 */
const STABLE_REJECTIONS = [
  'bad_key', 'bad_request', 'bad_result', 'circuit_open', 'computed_require', 'cpu_limit', 'cron_invalid', 'cron_refused', 'deadline',
  'forbidden_require', 'hash_failed', 'isolate_reset', 'load_failed', 'manifest_invalid', 'manifest_timeout', 'memory_limit',
  'missing_file', 'missing_method', 'no_admin_template', 'not_a_folder', 'not_found', 'not_loaded', 'plugin_error', 'sandbox_crashed',
  'sandbox_unavailable', 'syntax_error', 'tampered', 'template_dynamic_read', 'template_file_type', 'template_missing_file',
  'template_outside', 'throttled', 'too_large', 'unapproved',
];
const STABLE_RULES = [
  'config.secret-host-side', 'config.secret-too-short', 'config.undeclared-key', 'config.unknown-plugin', 'config.unset',
  'history.forbidden-status', 'history.no-live-payout', 'history.not-own-order', 'history.stale-old-status', 'history.wrong-current-status',
  'host.arg-bytes', 'host.bytes-per-call', 'host.bytes-per-minute', 'host.call-ended', 'host.calls-per-call', 'host.calls-per-minute',
  'http.address', 'http.call-ended', 'http.grant', 'http.grant.method', 'http.grant.path', 'http.host-spelling', 'http.localhost',
  'http.loopback', 'http.not-recorded', 'http.rate.call', 'http.rate.minute', 'http.redirect', 'http.redirect.max', 'http.remote-address',
  'http.request-size', 'http.response-size', 'http.scheme', 'http.secret-origin', 'http.secrets', 'http.url',
  'install.origin', 'install.scheme', 'ipn.method',
  'payoutTxs.cast', 'payoutTxs.field', 'payoutTxs.filter', 'payoutTxs.foreign-module', 'payoutTxs.operator', 'payoutTxs.populate',
  'payoutTxs.readonly-field', 'payoutTxs.sort', 'payoutTxs.update-operator',
  'schema', 'unknown-capability', 'webhook.verify.no-scheme', 'webhook.verify.outside-webhook',
];
const STABLE_HOST_CALL_ERRORS = ['HOST_DENIED', 'HOST_ERROR', 'NO_CALL', 'TOO_LARGE', 'TOO_MANY_TIMERS', 'connect_timeout', 'deadline', 'dns', 'grants', 'network', 'timeout', 'tls'];

describe('the codes that are not HTTP answers are in the same registry', () => {
  it('keeps every plugin refusal code, policy rule and host-call error code, each with a meaning', () => {
    expect(Object.keys(PLUGIN_REJECTIONS).sort()).toEqual(STABLE_REJECTIONS);
    expect(Object.keys(POLICY_RULES).sort()).toEqual(STABLE_RULES);
    expect(Object.keys(HOST_CALL_ERRORS).sort()).toEqual(STABLE_HOST_CALL_ERRORS);
    for (const table of [PLUGIN_REJECTIONS, POLICY_RULES, HOST_CALL_ERRORS]) {
      for (const [code, meaning] of Object.entries(table)) expect(meaning.length, code).toBeGreaterThan(10);
    }
  });

  it('the classes carry the listed codes unchanged', () => {
    expect(new PluginRejected('tampered', 'x').code).toBe('tampered');
    expect(new PolicyDenied('config.undeclared-key', 'x').rule).toBe('config.undeclared-key');
    expect(new CapabilityError('dns', 'x').code).toBe('dns');
    expect(isPluginRejectionCode('manifest_invalid')).toBe(true);
    expect(isPluginRejectionCode('toString')).toBe(false);
  });

  it('a sandbox failure while loading keeps its kind as the refusal code', () => {
    // Compiles only while every FailureKind is a listed refusal code (load-plugin.ts passes it on).
    const asRejection = (kind: FailureKind): PluginRejectionCode => kind;
    expect(asRejection('cpu_limit')).toBe('cpu_limit');
  });

  it('positive control (checked by the typecheck): an unlisted code does not compile', () => {
    // Each line below must fail to compile; if one compiles, `tsc` reports an unused directive.
    // @ts-expect-error not a listed plugin refusal code
    expect(new PluginRejected('no_such_refusal', 'x').code).toBe('no_such_refusal');
    // @ts-expect-error not a listed policy rule
    expect(new PolicyDenied('config.no-such-rule', 'x').rule).toBe('config.no-such-rule');
    // @ts-expect-error not a listed capability failure
    expect(new CapabilityError('no_such_failure', 'x').code).toBe('no_such_failure');
    // @ts-expect-error listed, but a host-call code, not a capability's own failure
    expect(new CapabilityError('HOST_DENIED', 'x').code).toBe('HOST_DENIED');
  });
});

describe('README documents the error shape and every code', () => {
  it('lists each code of the registry in its code table', () => {
    const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const missing = Object.keys(ERRORS).filter((code) => !readme.includes(`| \`${code}\` |`));
    expect(missing).toEqual([]);
  });

  it('lists each plugin refusal code, policy rule and host-call error code with its meaning', () => {
    const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const rows = [PLUGIN_REJECTIONS, POLICY_RULES, HOST_CALL_ERRORS].flatMap((t) => Object.entries(t)).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`);
    expect(rows.filter((row) => !readme.includes(row))).toEqual([]);
  });
});
