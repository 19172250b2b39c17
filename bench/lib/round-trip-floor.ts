// The floor a sandboxed call is compared with: one round trip between two plain Node processes
// over the same kind of link the sandbox channel uses (an extra stdio pipe, fd 3), measured in the
// same run as the calls. Two forms: raw bytes (write a buffer, wait for it to come back) and JSON
// frames (the channel's own framing and JSON encode/parse on both ends, message shapes of an
// invoke and its reply). No isolate, no policy, no store: what any process hop costs at least.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { FramedChannel } from '../../runtime/sandbox/channel.ts';

const ENTRY = fileURLToPath(new URL('./echo-process.ts', import.meta.url));

export interface FloorEnd {
  /** One round trip; resolves when the answer is back. One at a time: the raw form has no ids. */
  roundTrip(): Promise<void>;
  pid: number;
  close(): Promise<void>;
}

function spawnEcho(mode: 'raw' | 'json'): { child: ChildProcess; stream: Duplex } {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ENTRY, mode], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  return { child, stream: child.stdio[3] as Duplex };
}

function closer(child: ChildProcess, stream: Duplex): () => Promise<void> {
  return () => new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => { clearTimeout(force); resolve(); });
    stream.destroy();
  });
}

/** An invoke frame as the server sends one (getFields with two short arguments). */
const INVOKE = { t: 'invoke', plugin: 'benchpay', callId: 'c0123456789abcdef', method: 'getFields', args: ['en', 'NOHOST'], wallMs: 30_000 };

export async function startJsonFloor(): Promise<FloorEnd> {
  const { child, stream } = spawnEcho('json');
  const channel = new FramedChannel<object, { id: number }>(stream);
  const waiting = new Map<number, () => void>();
  channel.onMessage = (m) => { waiting.get(m.id)?.(); waiting.delete(m.id); };
  let next = 0;
  const end: FloorEnd = {
    pid: child.pid as number,
    roundTrip: () => new Promise<void>((resolve) => {
      const id = ++next;
      waiting.set(id, resolve);
      channel.send({ ...INVOKE, id });
    }),
    close: closer(child, stream),
  };
  await end.roundTrip(); // the child is up and answering
  return end;
}

export async function startRawFloor(): Promise<FloorEnd> {
  const { child, stream } = spawnEcho('raw');
  // The same number of bytes as the JSON invoke frame, so only the JSON work differs.
  const payload = Buffer.alloc(4 + Buffer.byteLength(JSON.stringify({ ...INVOKE, id: 1 })), 0x61);
  let pending: { left: number; resolve: () => void } | null = null;
  stream.on('data', (chunk: Buffer) => {
    if (!pending) return;
    pending.left -= chunk.length;
    if (pending.left <= 0) { const p = pending; pending = null; p.resolve(); }
  });
  const end: FloorEnd = {
    pid: child.pid as number,
    roundTrip: () => new Promise<void>((resolve) => {
      pending = { left: payload.length, resolve };
      stream.write(payload);
    }),
    close: closer(child, stream),
  };
  await end.roundTrip();
  return end;
}
