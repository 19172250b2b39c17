// `payout-sandbox start --demo`: the demo's part of start. The CLI hands it to runStart as a
// StartCompanion, so the server's core path imports no demo code (design.md §2): the fake provider
// and merchant start once start's checks pass, are wired into the host once it runs, and add the
// demo's lines to the banner.
import type { Host } from '../server/host.ts';
import type { StartCompanion } from '../server/start.ts';
import { DEMO_IPN_SECRET, startDemoPeers, wireDemo } from './demo-setup.ts';
import type { Demo } from './demo-setup.ts';

export function demoCompanion(): StartCompanion {
  let peers: Awaited<ReturnType<typeof startDemoPeers>> | null = null;
  let demo: Demo | null = null;
  return {
    async prepare(dataDir: string) {
      peers = await startDemoPeers(dataDir);
      // The peers listen on loopback: the host must accept grants and IPN URLs there.
      return { allowLoopbackGrants: true, ipnLoopbackOrigins: [new URL(peers.merchant.url).origin], acceptedReviewAfterMs: 10 * 60_000 };
    },
    async wire(host: Host) {
      if (peers) demo = await wireDemo(host, peers);
    },
    banner(base: string): string[] {
      if (!demo) return [];
      const order = {
        routeId: demo.routeId, amount: '100', agreement: true, lang: 'en',
        toValues: [{ key: 'card_number', value: '4111111111111111' }],
        ipnUrl: demo.merchant.url, ipnSecret: DEMO_IPN_SECRET,
      };
      return [
        '',
        'DEMO MODE: a fake NimbusPay provider and a fake merchant run on loopback; nothing real is paid.',
        `  fake provider: ${demo.provider.url}    fake merchant (IPN receiver): ${demo.merchant.url}`,
        '  Create an order (the demo customer pays it two seconds later, then watch it being paid out):',
        '',
        `  curl -s -X POST ${base}/api/public/exchanger/order/create -H 'content-type: application/json' \\`,
        `    -d '${JSON.stringify(order)}'`,
        '',
        '  Then open the order page from the "links.order" field of the answer, or watch the admin API:',
        `  curl -s -H 'Authorization: Bearer <token>' ${base}/api/admin/orders`,
      ];
    },
    async close() {
      // A wired demo closes its peers itself (and stops its payer); before that, close the peers.
      if (demo) await demo.close();
      else if (peers) {
        await peers.provider.close();
        await peers.merchant.close();
      }
      demo = null;
      peers = null;
    },
  };
}
