// A loopback "attacker" server at the TCP level: counts every connection and every byte, and
// records the first line of whatever arrives (an HTTP request line, a WebSocket upgrade, anything).
// A sandboxed settings frame that got anything out would show up here.
import net from 'node:net';

export interface Trap {
  url: string;
  /** TCP connections accepted. Chromium may open a bare one (no bytes) when CSP blocks a frame navigation. */
  connections: number;
  /** Bytes received on all connections: anything above zero means something got out. */
  bytes: number;
  /** First line of each connection that sent data. */
  requests: string[];
  reset(): void;
  close(): Promise<void>;
}

export async function startTrap(): Promise<Trap> {
  const sockets = new Set<net.Socket>();
  const trap: Trap = { url: '', connections: 0, bytes: 0, requests: [], close: async () => undefined,
    reset() { trap.connections = 0; trap.bytes = 0; trap.requests = []; } };
  const server = net.createServer((socket) => {
    trap.connections += 1;
    sockets.add(socket);
    let first = true;
    socket.on('data', (chunk) => {
      trap.bytes += chunk.length;
      if (!first) return;
      first = false;
      trap.requests.push(chunk.toString('latin1').split('\r\n')[0].slice(0, 200));
      socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 7\r\nconnection: close\r\n\r\ntrapped');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  trap.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  trap.close = () => new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
  return trap;
}
