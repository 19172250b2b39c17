// The far end of the round-trip floor (round-trip-floor.ts): a bare Node process on an extra stdio
// pipe (fd 3), as a sandbox process is, that answers each message at once and does nothing else.
// `node echo-process.ts raw`: every chunk is written back as is (bytes only, no framing).
// `node echo-process.ts json`: the sandbox channel's framing (4-byte length + JSON); each frame is
// parsed and a reply frame of the shape a sandbox reply has is built and sent.
import net from 'node:net';
import { FramedChannel } from '../../runtime/sandbox/channel.ts';

const socket = new net.Socket({ fd: 3, readable: true, writable: true });
if (process.argv[2] === 'raw') {
  socket.on('data', (chunk: Buffer) => socket.write(chunk));
} else {
  const channel = new FramedChannel<unknown, { id: number }>(socket);
  channel.onMessage = (m) => channel.send({ t: 'reply', id: m.id, ok: true, value: [{ _id: 'account', name: 'Account', required: true }] });
}
socket.on('close', () => process.exit(0));
