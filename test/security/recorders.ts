// Loopback HTTP servers the suites point plugins at: they record every request and echo it back,
// so a test can see both what left the host and what came back into a plugin.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Recorder {
  /** http://127.0.0.1:PORT */
  origin: string;
  requests: RecordedRequest[];
  /** Everything received, as one string, for canary scans. */
  dump(): string;
  close(): Promise<void>;
}

/**
 * `/redirect?to=<url>&status=<code>` answers a redirect; `/bin/...` echoes as
 * application/octet-stream; anything else echoes {method, url, headers, body} as JSON.
 */
export async function startRecorder(): Promise<Recorder> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(entry);
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/redirect') {
        res.writeHead(Number(u.searchParams.get('status') ?? 302), { location: u.searchParams.get('to') ?? '/' });
        res.end();
        return;
      }
      const echo = JSON.stringify(entry);
      res.setHeader('content-type', u.pathname.startsWith('/bin') ? 'application/octet-stream' : 'application/json');
      // Echoed in headers too: a provider that reflects request headers in its own.
      const reflected = String(req.headers['x-api-secret'] ?? req.headers.authorization ?? '');
      if (/^[\t\x20-\x7e]*$/.test(reflected)) res.setHeader('x-reflected', reflected);
      res.end(echo);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    requests,
    dump: () => JSON.stringify(requests),
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
