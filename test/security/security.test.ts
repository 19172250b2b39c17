// `npm run test:security`: the security figures the project prints about itself. Every group tries
// concrete attacks and decides "stopped" or "got through" from observable effects; only cases
// that got through are printed, one line each, then one count line per group and one summary:
//   security: <A> attacks tried, <M> got through; <L> leak scans (<S> sinks × <C> canaries), <F> found a canary
// (attacks: corpus, webhooks, ssrf; leak scans: the canaries group, each one sink scanned for one
// canary, which is a check, not an attack) and the suite fails unless M and F are 0. Set PS_SECURITY_VERBOSE=1 to also print the stopped cases.
//
// Groups (SECURITY.md lists what each proves):
//   corpus    escape and abuse: sandbox, other plugins' data, bundle-time escapes, SDK secrets,
//             callback responses (test/security/corpus-*.ts, webhooks.ts)
//   ssrf      the SSRF table of test/host-api/ssrf-cases.ts, replayed from inside a sandbox
//   webhooks  webhook abuse against a real server (webhooks.ts)
//   canaries  secret canaries scanned across every output of a real server (canaries.ts)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusStillServing, startCorpusEnv } from './corpus-env.ts';
import type { CorpusEnv } from './corpus-env.ts';
import { escapeCases } from './corpus-escape.ts';
import { bridgeCases } from './corpus-bridge.ts';
import { limitCases } from './corpus-limits.ts';
import { dataCases } from './corpus-data.ts';
import { bundleCases } from './corpus-bundle.ts';
import { sdkCases } from './corpus-sdk.ts';
import { callbackCases, serverStillServing, startHookEnv, webhookCases, webhookCounts } from './webhooks.ts';
import type { HookEnv } from './webhooks.ts';
import { ssrfCases, ssrfStillServing, startSsrfEnv } from './ssrf.ts';
import type { SsrfEnv } from './ssrf.ts';
import { CANARIES, canaryCases, canaryStillServing, legitimateLine, startCanaryEnv } from './canaries.ts';
import type { CanaryEnv } from './canaries.ts';
import { runCases, tally } from './tally.ts';

const groupLines: string[] = [];

describe('escape and abuse corpus (sandbox, data, bundle, SDK secrets)', () => {
  let env: CorpusEnv;
  beforeAll(async () => { env = await startCorpusEnv(); }, 60_000);
  afterAll(async () => { await env?.close(); }, 30_000);
  runCases('corpus', [...escapeCases, ...bridgeCases, ...limitCases, ...dataCases, ...bundleCases, ...sdkCases], () => env, corpusStillServing);
});

describe('callback responses and webhook abuse, against a real server', () => {
  let env: HookEnv;
  beforeAll(async () => { env = await startHookEnv(); }, 60_000);
  afterAll(async () => {
    groupLines.push(tally.groupLine('webhooks', webhookCounts()));
    await env?.close();
  }, 30_000);
  runCases('corpus', callbackCases, () => env, serverStillServing);
  runCases('webhooks', webhookCases, () => env, serverStillServing);
});

describe('SSRF table, from inside a sandbox', () => {
  let env: SsrfEnv;
  beforeAll(async () => { env = await startSsrfEnv(); }, 60_000);
  afterAll(async () => {
    groupLines.push(tally.groupLine('ssrf', `connector violations: ${env?.violations.length ?? '?'}, trap requests: ${env?.trap.requests.length ?? '?'}`));
    await env?.close();
  }, 30_000);
  runCases('ssrf', ssrfCases, () => env, ssrfStillServing);
});

describe('secret canaries across every output of a real server', () => {
  let env: CanaryEnv;
  beforeAll(async () => { env = await startCanaryEnv(); }, 120_000);
  afterAll(async () => {
    groupLines.push(tally.groupLine('canaries', env ? `legitimate: ${legitimateLine(env) || 'none'}` : 'no env'));
    await env?.close();
  }, 30_000);
  runCases('canaries', canaryCases, () => env, canaryStillServing);
});

describe('summary', () => {
  it('prints one line per group and the summary line; every case ran and nothing got through', () => {
    // Attacks and leak scans are different things: counted apart, so neither figure inflates the other.
    const throughIn = (group: string) => Number(/(\d+) got through/.exec(tally.groupLine(group))?.[1] ?? NaN);
    const attackGroups = ['corpus', 'webhooks', 'ssrf'];
    const attacks = attackGroups.reduce((n, g) => n + tally.triedIn(g), 0);
    const attacksThrough = attackGroups.reduce((n, g) => n + throughIn(g), 0);
    const canaries = Object.keys(CANARIES).length;
    const summary = `security: ${attacks} attacks tried, ${attacksThrough} got through; ` +
      `${tally.triedIn('canaries')} leak scans (${tally.triedIn('canaries') / canaries} sinks × ${canaries} canaries), ${throughIn('canaries')} found a canary`;
    const lines = [tally.groupLine('corpus'), ...groupLines, summary];
    console.log(lines.join('\n'));
    // A group whose environment failed to start skips its cases: that must fail the suite, not
    // pass it with fewer cases.
    const expected: Record<string, number> = {
      corpus: escapeCases.length + bridgeCases.length + limitCases.length + dataCases.length + bundleCases.length + sdkCases.length + callbackCases.length,
      webhooks: webhookCases.length, ssrf: ssrfCases.length, canaries: canaryCases.length,
    };
    for (const [group, n] of Object.entries(expected)) expect(tally.triedIn(group), `cases tried in ${group}`).toBe(n);
    expect(tally.triedIn('corpus')).toBeGreaterThanOrEqual(60);
    expect(tally.gotThrough, summary).toBe(0);
  });
});
