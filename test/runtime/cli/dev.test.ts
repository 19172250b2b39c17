// `payout-sandbox dev`: one plugin on a real host with its fake provider; a payout completes from a
// plain merchant API call; a broken save is refused and the last good version keeps serving; a
// good save is swapped in.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDev } from '../../../runtime/cli/commands/dev.ts';
import type { DevServer } from '../../../runtime/cli/commands/dev.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-dev-'));
const dir = path.join(tmp, 'billpay');
fs.cpSync(path.resolve('plugins/billpay'), dir, { recursive: true });
const lines: string[] = [];
let dev: DevServer | null = null;

afterAll(async () => {
  await dev?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function until<T>(what: string, check: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function payOut(d: DevServer): Promise<string> {
  const res = await fetch(`${d.baseUrl}/api/public/exchanger/order/create`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ routeId: d.routes[0].routeId, amount: '100', agreement: true, lang: 'en', toValues: [{ key: 'card_number', value: '4111111111111111' }] }),
  });
  expect(res.status).toBe(200);
  const { orderId } = await res.json() as { orderId: string };
  await until(`order ${orderId} to be paid out`, async () => (await d.host.host.store.getOrder(orderId))?.status === 'done');
  return orderId;
}

describe('payout-sandbox dev', () => {
  it('serves the plugin with its fake provider: an order created over HTTP is paid out', async () => {
    dev = await startDev({ dir, port: 0, fakeProvider: true, debounceMs: 100, print: (l) => lines.push(l) });
    expect(dev.routes.map((r) => r.currency)).toEqual(['CARDRUB', 'CARDUAH']);
    expect(dev.provider?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const orderId = await payOut(dev);
    expect(lines.join('\n')).toContain(`payout succeeded: order ${orderId}`);
    expect(lines.some((l) => l.includes('paid by the stand-in customer'))).toBe(true);
  }, 40_000);

  it('a broken save is refused with the reason, and the last good version keeps paying out', async () => {
    const d = dev as DevServer;
    const file = path.join(dir, 'plugin.ts');
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, `${good}\nimport fs from 'fs';\nexport const leak = fs.readFileSync('/etc/passwd');\n`);
    await until('the refusal', () => d.reloads.refused > 0);
    expect(lines.join('\n')).toMatch(/✖ billpay was not reloaded: plugin\.ts:\d+: .*require\('fs'\) refused/);
    expect(lines.join('\n')).toContain('the last good version keeps running');
    expect(d.host.host.registry.active('billpay')).not.toBeNull();
    await payOut(d);

    fs.writeFileSync(file, good.replace("title: 'BillPay'", "title: 'BillPay (edited)'"));
    await until('the reload', () => d.host.host.registry.active('billpay')?.manifest.title === 'BillPay (edited)');
    expect(lines.join('\n')).toMatch(/✔ reloaded billpay: BillPay \(edited\)/);
    await payOut(d);
  }, 60_000);
});
