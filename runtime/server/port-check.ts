// Is the port free? Asked before plugins load, so a host that cannot listen fails at once with one
// line, instead of loading every plugin and running their start-up cron jobs first. The server
// still handles a port taken in the moment between this check and its own listen.
import net from 'node:net';

export async function ensurePortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new Error(`port ${port} on ${host} is already in use (another payout-sandbox?); stop that process or choose another port with --port`));
      else if (err.code === 'EACCES') reject(new Error(`port ${port} on ${host} needs privileges this user lacks; choose a port above 1023 with --port`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new Error(`--host ${host}: this machine has no such address; give one of its addresses, e.g. 127.0.0.1 or 0.0.0.0`));
      else reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`));
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}
