// https through the egress guard (host-api/http/egress.ts with the pins of address-pins.ts): the
// connection goes to the checked address, yet the certificate is verified for the granted name
// and SNI carries it.

import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { buildConnector } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpCapability } from '../../../host-api/http.ts';
import { CapabilityError } from '../../../host-api/capability.ts';
import { args, call, ctxFor, makeCap, open, useLoopbackProviders, violations } from './http-fixture.ts';

useLoopbackProviders();

// Self-signed, test-only (SAN: DNS:localhost, IP:127.0.0.1), trusted by nothing but these tests.
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBsDCCAVWgAwIBAgIUPX1o4M+sA4mHgclCFBoXeyGXdZgwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTcGF5b3V0LXNhbmRib3ggdGVzdDAgFw0yNjExMjMxNTU0MzRa
GA8yMTI2MTAzMDE1NTQzNFowHjEcMBoGA1UEAwwTcGF5b3V0LXNhbmRib3ggdGVz
dDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABLCHv2pkRDV4W2yUjkGYUE0yr5AL
so6qkxJYmzPPDtIKGjT1G5b7yXWkRFmfCwAeWA6GuSUMV7qBAPajDH5TMFqjbzBt
MB0GA1UdDgQWBBSzVOl19iThrgQRgw5ebVVOyoN8GjAfBgNVHSMEGDAWgBSzVOl1
9iThrgQRgw5ebVVOyoN8GjAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGCCWxv
Y2FsaG9zdIcEfwAAATAKBggqhkjOPQQDAgNJADBGAiEAyK98Lc3lxdtuFufWYpqB
gmblkElxhHE8QVvaTUhUjooCIQD0ZRCNPb+Syu13fyVUtLcrdV6IEoKJtvNKE2Bh
EqclPw==
-----END CERTIFICATE-----`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDqHvbL3scqkja5ji
eNl9bDMDCiRp74DXEswX/tvxnyOhRANCAASwh79qZEQ1eFtslI5BmFBNMq+QC7KO
qpMSWJszzw7SCho09RuW+8l1pERZnwsAHlgOhrklDFe6gQD2owx+UzBa
-----END PRIVATE KEY-----`;

describe('TLS with a pinned address', () => {
  let tls: { port: number; sni: string[]; hosts: string[]; close(): Promise<void> };
  beforeAll(async () => {
    const sni: string[] = [];
    const hosts: string[] = [];
    const server = https.createServer({ cert: TEST_CERT, key: TEST_KEY }, (req, res) => {
      sni.push(String((req.socket as import('node:tls').TLSSocket).servername));
      hosts.push(String(req.headers.host));
      res.setHeader('content-type', 'text/plain');
      res.end('secure');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    tls = {
      port: (server.address() as AddressInfo).port,
      sni,
      hosts,
      close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
    };
  });
  afterAll(() => tls.close());

  // The guard's default connector with one extra trusted CA, still refusing non-loopback addresses.
  function trustingConnector() {
    const real = buildConnector({ ca: TEST_CERT, allowH2: false, timeout: 2000 });
    return ((o, cb) => {
      if (!/^127\./.test(o.hostname)) {
        violations.push(`tls connector reached for ${o.hostname}`);
        throw new Error('non-loopback');
      }
      return real(o, cb);
    }) as ReturnType<typeof buildConnector>;
  }

  it('a name granted over https connects to the pinned address but verifies the certificate and sends SNI for the name', async () => {
    const origin = `https://localhost:${tls.port}`;
    const cap = makeCap([open(origin)], { connect: trustingConnector() });
    const res = await call(cap, { url: `${origin}/x` });
    expect(res).toMatchObject({ status: 200, body: 'secure' });
    expect(tls.sni.at(-1)).toBe('localhost');
    expect(tls.hosts.at(-1)).toBe(`localhost:${tls.port}`);
  });

  it('an IP literal over https is verified against the IP in the certificate', async () => {
    const origin = `https://127.0.0.1:${tls.port}`;
    const cap = makeCap([open(origin)], { connect: trustingConnector() });
    expect((await call(cap, { url: `${origin}/x` })).status).toBe(200);
  });

  it('an untrusted certificate fails the request as a TLS error, with nothing counted', async () => {
    const origin = `https://127.0.0.1:${tls.port}`;
    const cap = createHttpCapability({ grantsFor: async () => [open(origin)] });
    const ctx = ctxFor();
    const e = await cap.invoke(ctx, cap.parse(args({ url: `${origin}/x` }))).catch((x) => x);
    expect(e).toBeInstanceOf(CapabilityError);
    expect(e.code).toBe('tls');
    expect(ctx.counters.outboundRequests).toBe(0);
  });
});
