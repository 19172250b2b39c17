// The sandbox process's last word on what an isolate reports: whatever JSON arrives, the host gets
// the exact shapes it reads (a string message, boolean methods, string headers).
import { describe, expect, it } from 'vitest';
import { normaliseDescription, normaliseLogLine, normaliseResponse, normaliseThrown } from '../../../../runtime/sandbox/child/plugin-reports.ts';

describe('reports from an isolate', () => {
  it('a failure: message always a string, other fields only with their types (control: a well-formed one passes unchanged)', () => {
    const good = { message: 'balance low', code: 6000011, statusCode: 402, name: 'ProviderRefused', responseStatus: 402, definite: true as const };
    expect(normaliseThrown(good)).toEqual(good);
    expect(normaliseThrown({ message: 1 })).toEqual({ message: 'the plugin threw a value that could not be read' });
    expect(normaliseThrown({ message: 'm', code: { x: 1 }, statusCode: '500', name: 7, responseStatus: null, definite: 'yes' })).toEqual({ message: 'm' });
    expect(normaliseThrown({ message: 'm', code: Number.NaN })).toEqual({ message: 'm' });
    for (const odd of [null, 5, [], ['message'], true]) expect(typeof normaliseThrown(odd).message).toBe('string');
    expect(normaliseThrown('plain')).toEqual({ message: 'plain' });
    expect(normaliseThrown({ message: 'x'.repeat(5000) }).message).toHaveLength(4001);
  });

  it('a description: booleans, strings, only string callback names', () => {
    expect(normaliseDescription({ className: 'P', methods: { getFields: true, transfer: true, initCron: false }, callbacks: ['a'] }))
      .toEqual({ className: 'P', methods: { getFields: true, transfer: true, initCron: false }, callbacks: ['a'] });
    expect(normaliseDescription({ className: 1, methods: { getFields: 1, transfer: 'yes' }, callbacks: ['a', 2, { n: 1 }], format: 'sdk' }))
      .toEqual({ className: 'anonymous', format: 'sdk', methods: { getFields: false, transfer: false, initCron: false, status: false }, callbacks: ['a'] });
    expect(normaliseDescription(null)).toEqual({ className: 'anonymous', methods: { getFields: false, transfer: false, initCron: false }, callbacks: [] });
  });

  it('a webhook answer and a log line', () => {
    expect(normaliseResponse({ status: 201, headers: { a: 'b' }, body: 'ok' })).toEqual({ status: 201, headers: { a: 'b' }, body: 'ok' });
    expect(normaliseResponse({ status: '201', headers: { a: 1, b: 'c', ['__proto__']: 'x' }, body: { x: 1 } })).toEqual({ status: 500, headers: { b: 'c' }, body: '' });
    expect(normaliseLogLine({ level: 'warn', text: 'hi' })).toEqual({ level: 'warn', text: 'hi' });
    expect(normaliseLogLine({ level: 3, text: 'hi' })).toEqual({ level: 'info', text: 'hi' });
    expect(normaliseLogLine(null)).toBeNull();
    expect(normaliseLogLine({ text: 5 })).toBeNull();
  });
});
