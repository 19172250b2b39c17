// The dev console: a signed test webhook sent from dev (trigger) and its refusals, each delivery
// with status and time, the plugin's HTTP calls with their status, the signature verdict, type
// errors after a rename-style save, and cron lines.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDev } from '../../../runtime/cli/commands/dev.ts';
import type { DevServer } from '../../../runtime/cli/commands/dev.ts';
import { scaffoldPlugin } from '../../../runtime/cli/commands/new.ts';
import { auditLine, cronLine } from '../../../runtime/cli/dev-console.ts';
import { REPO, authorProject, childEnv, cli } from './cli-fixture.ts';

const project = authorProject('ps-dev-console-', ['@types']);
const lines: string[] = [];
let dev: DevServer | null = null;

afterAll(async () => {
  await dev?.close();
  fs.rmSync(project, { recursive: true, force: true });
});

// Asynchronous: the dev server the CLI talks to runs in this process.
const runCli = (args: string[]) => cli(args, { base: childEnv(['PAYOUT_SANDBOX_WEBHOOK_SECRET']) });

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('dev console', () => {
  it('trigger sends a signed webhook; deliveries, HTTP calls, verdicts and type errors are streamed', async () => {
    const { dir, key } = scaffoldPlugin({ name: 'quickpay', dir: path.join(project, 'plugins') });
    dev = await startDev({ dir, port: 0, fakeProvider: true, debounceMs: 50, print: (l) => lines.push(l) });
    const out = () => lines.join('\n');
    expect(out()).toContain('webhookSecret: set to a test secret generated for this session');
    await until('the first typecheck', () => out().includes('types: ok (1 file)'));

    const signed = await dev.trigger({ json: { id: 'po_404' } });
    expect(signed.status).toBe(502); // the plugin read it back and the fake provider does not know it
    await until('the console lines of the signed delivery', () => /signature verified/.test(out()) && /→ http GET http:\/\/127\.0\.0\.1:\d+\/v1\/payouts\/po_404 body=0B host-side: auth=bearer\(apiKey\) → 404 \(\d+ ms\)/.test(out()), 20_000);
    expect(out()).toMatch(new RegExp(`← webhook POST /payout_call/${key}/webhook/ → 502 \\(\\d+ ms\\)`));

    const unsigned = await dev.trigger({ json: { id: 'po_1' }, unsigned: true });
    expect(unsigned.status).toBe(401);
    await until('the refusal verdict', () => out().includes('signature not verified: missing_signature'));
    const expired = await dev.trigger({ json: { id: 'po_2' }, timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect(expired.text).toBe('expired');

    // Standalone, as `payout-sandbox trigger <dir> --url … --secret …` (here a wrong secret).
    // (Not spawnSync: the dev server answering it runs in this process.)
    const cli = await runCli(['trigger', dir, '--url', dev.baseUrl, '--secret', 'not-the-secret', '--json', '{"id":"po_3"}']);
    expect(cli.stdout).toMatch(new RegExp(`^HMAC-SHA256\\(webhookSecret, timestamp "\\." body\\) → x-signature, timestamp in x-timestamp\nPOST ${dev.baseUrl}/payout_call/${key}/webhook/ → 401 \\(\\d+ ms\\) mismatch`));
    expect(cli.code).toBe(1);
    const noSecret = await runCli(['trigger', dir, '--url', dev.baseUrl]);
    expect(noSecret.stderr).toBe("payout-sandbox trigger: the signing secret 'webhookSecret' is needed: pass --secret <value> (the value the host has for quickpay.webhookSecret)\n");

    // A rename-style save that reads the secret key: the sandbox would refuse it only when it
    // runs; the typecheck says so at once.
    const file = path.join(dir, 'plugin.ts');
    const tmp = path.join(dir, '.plugin.ts.swp-new');
    fs.writeFileSync(tmp, `${fs.readFileSync(file, 'utf8')}\nexport const peek = (ctx: import('payout-sandbox/sdk').PayoutContext<typeof manifest>) => ctx.config.get('apiKey');\n`);
    fs.renameSync(tmp, file);
    await until('the type error after the save', () => /types: 1 error\n\s+plugin\.ts:\d+:\d+ TS2345 Argument of type '"apiKey"'/.test(out()));
    expect(out()).toContain('↻ plugin.ts changed: checking quickpay again');
    expect(dev.reloads.ok).toBe(1);
  }, 120_000);

  it('a platform plugin\'s cron runs are shown with their result and the next run', async () => {
    await dev?.close();
    const dir = path.join(project, 'cron-probe');
    fs.cpSync(path.join(REPO, 'test/fixtures/plugins/cron-probe'), dir, { recursive: true });
    lines.length = 0;
    dev = await startDev({ dir, port: 0, config: { mode: 'throw' }, print: (l) => lines.push(l) });
    await until('the init run', () => /⏱ cron \(init\) ok|✖ cron \(init\) failed/.test(lines.join('\n')), 30_000);
    await dev.host.host.cron.runNow('cron-probe');
    await until('the manual run', () => lines.some((l) => l.startsWith('✖ cron (manual)')), 30_000);
    expect(lines.find((l) => l.startsWith('✖ cron (manual)'))).toMatch(/^✖ cron \(manual\) failed after \d+ ms: \w+ .*provider status API is down; next run \d\d:\d\d:\d\d \(in \d+ s\)$/);
  }, 90_000);

  it('formats refusals and cron runs with their results and the next run', () => {
    const base = { _id: 'a', at: '2026-12-01T12:00:00.000Z', plugin: 'p', actor: 'plugin:p', callId: 'c', durationMs: 12.4 };
    expect(auditLine({ ...base, capability: 'http.request', decision: 'denied', rule: 'http.grant', summary: 'transfer: POST https://evil.example:443/x body=0B' }))
      .toBe('✖ http.request refused (http.grant): POST https://evil.example:443/x body=0B');
    expect(auditLine({ ...base, capability: 'config.get', decision: 'allowed', rule: null, summary: 'transfer: apiUrl' })).toBeNull();
    const next = new Date(Date.now() + 30_000).toISOString();
    expect(cronLine({ kind: 'run', key: 'p', trigger: 'schedule', at: base.at, ok: true, durationMs: 8, callId: 'c', errorKind: null, error: null }, next))
      .toMatch(/^⏱ cron \(schedule\) ok in 8 ms; next run \d\d:\d\d:\d\d \(in (29|30) s\)$/);
    expect(cronLine({ kind: 'run', key: 'p', trigger: 'manual', at: base.at, ok: false, durationMs: 5, callId: 'c', errorKind: 'plugin_error', error: 'boom' }, null))
      .toBe('✖ cron (manual) failed after 5 ms: plugin_error boom');
  });
});
