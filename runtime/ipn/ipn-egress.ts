// The merchant IPN's egress policy, on the host's one egress guard (host-api/http/egress.ts through
// createServerEgress): a POST to the ipnUrl the merchant gave, to a public address only (literal,
// every DNS answer and the connected socket), no redirect followed (a redirect is a misconfigured
// receiver, not something to chase with signed data), and loopback only at an origin listed in
// ipnLoopbackOrigins, exactly (scheme, address, port; the demo's and the tests' local merchant).
// The name `localhost` is never looked up. Every refusal happens before a socket is opened.
import { PolicyDenied } from '../../host-api/capability.ts';
import { createServerEgress } from '../../host-api/http.ts';
import type { ServerEgress, ServerEgressOptions } from '../../host-api/http.ts';

export interface IpnEgressOptions {
  /** ServerOptions.ipnLoopbackOrigins: `http://127.0.0.1:PORT` style origins; empty in production. */
  loopbackOrigins: string[];
  /** Tests: resolver, connector, caps; never the policy itself. */
  overrides?: Pick<ServerEgressOptions, 'resolve' | 'connect' | 'caps' | 'now' | 'userAgent'>;
}

export function createIpnEgress(options: IpnEgressOptions): ServerEgress {
  const egress = createServerEgress({
    ...options.overrides,
    label: 'ipn',
    allowLoopbackOrigins: options.loopbackOrigins,
    // A merchant gets one IPN per status change: the per-origin cap must not eat them.
    caps: { maxRequestsPerMinute: 100_000, ...options.overrides?.caps, maxRedirects: 0 },
  });
  return {
    request(req) {
      if (String(req.method).toUpperCase() !== 'POST') {
        return Promise.reject(new PolicyDenied('ipn.method', `ipn refused: ${req.method} is not sent; an IPN is one POST`));
      }
      return egress.request(req);
    },
  };
}
