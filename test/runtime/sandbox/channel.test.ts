// The channel is where the server receives everything a sandbox process sends, on the server's
// own thread and charged to no plugin's CPU budget. A plugin may hand over 4 M characters (its
// payload limit) per host call or result; at 3 bytes a character in UTF-8 that is a 12 MB frame,
// which a pipe delivers in chunks of 64 KB or less. Reassembly joined every chunk to the frame so
// far: quadratic copying, about 2 s of server CPU per such frame (≈ 8 times the CPU the plugin's
// budget was charged to send it). These tests count the bytes the server copies, not time.
import { PassThrough } from 'node:stream';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FramedChannel, MAX_FRAME_BYTES } from '../../../runtime/sandbox/channel.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { recordingHandler, registerDir, startSandbox } from '../../helpers/sandbox.ts';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';

/** Counts the bytes Buffer.concat copies from now on (what frame reassembly costs). */
function countCopies(): { bytes: () => number } {
  const concat = Buffer.concat;
  let copied = 0;
  vi.spyOn(Buffer, 'concat').mockImplementation((list: readonly Uint8Array[], total?: number) => {
    const joined = concat(list, total);
    copied += joined.length;
    return joined;
  });
  return { bytes: () => copied };
}

function frameOf(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32LE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Delivers `bytes` to a receiving channel in chunks of `chunk` bytes, as a pipe would. */
function receiveInChunks(bytes: Buffer, chunk: number) {
  const stream = new PassThrough();
  const channel = new FramedChannel<unknown, unknown>(stream as unknown as Duplex);
  const messages: unknown[] = [];
  const errors: string[] = [];
  channel.onMessage = (m) => messages.push(m);
  channel.onError = (e) => errors.push(e.message);
  for (let i = 0; i < bytes.length; i += chunk) stream.emit('data', bytes.subarray(i, i + chunk));
  return { messages, errors };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('frame reassembly', () => {
  it('copies each byte of a large frame at most twice, however small the chunks', () => {
    const text = '\u20ac'.repeat(1024 * 1024); // 1 M characters, 3 MB in UTF-8
    const frame = frameOf({ t: 'hostCall', args: text });
    const copies = countCopies();
    const { messages, errors } = receiveInChunks(frame, 16 * 1024);
    expect(errors).toEqual([]);
    expect(messages).toHaveLength(1);
    expect((messages[0] as { args: string }).args).toBe(text); // the frame arrives whole
    // Joining every chunk to what came before copied ≈ 96 times the frame here (192 chunks).
    expect(copies.bytes()).toBeLessThanOrEqual(2 * frame.length);
  });

  it('splits many frames out of one chunk, and a header split across chunks, without losing a byte', () => {
    const frames = Buffer.concat([frameOf({ n: 1 }), frameOf({ n: 2, s: 'x'.repeat(1000) }), frameOf({ n: 3 })]);
    const copies = countCopies();
    expect(receiveInChunks(frames, frames.length).messages.map((m) => (m as { n: number }).n)).toEqual([1, 2, 3]);
    // One byte at a time: every header straddles chunks.
    expect(receiveInChunks(frames, 1).messages.map((m) => (m as { n: number }).n)).toEqual([1, 2, 3]);
    expect(copies.bytes()).toBeGreaterThan(0); // positive control: the counter sees the joins it must make
  });

  it('refuses a frame announced over the limit before receiving its body', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32LE(MAX_FRAME_BYTES + 1, 0);
    const { messages, errors } = receiveInChunks(header, 4);
    expect(messages).toEqual([]);
    expect(errors).toEqual([expect.stringMatching(/exceeds the limit/)]);
  });
});

// Through a real sandbox process: a plugin that sends host calls and a result at its payload
// limit, in the 3-byte characters that make the largest frames.
const SENDS_LARGE_FRAMES = `module.exports = class {
  async getFields(lang, calls) {
    const big = '\\u20ac'.repeat(4 * 1024 * 1024 - 64);
    for (let i = 0; i < Number(calls); i++) await __ps_host.call('config.get', { key: big });
    return big.length;
  }
};`;

describe('frames from a plugin at its payload limit', () => {
  let host: SandboxHost;
  const handler = recordingHandler();
  afterAll(async () => {
    await host?.close();
  });

  it('reach the server whole, copied at most twice over on the server', async () => {
    ({ host } = await startSandbox({ limits: { cpuMsPerCall: 10_000, wallMsPerCall: 60_000 } }, handler));
    expect((await registerDir(host, writePlugin('large-frames', { 'index.js': SENDS_LARGE_FRAMES }))).ok).toBe(true);
    const copies = countCopies();
    const r = await host.invoke('large-frames', 'getFields', ['en', 2]);
    expect(r).toMatchObject({ ok: true, value: 4 * 1024 * 1024 - 64 });
    const received = handler.calls.filter((c) => c.plugin === 'large-frames' && c.capability === 'config.get');
    expect(received).toHaveLength(2); // positive control: the large frames did cross
    expect((received[0].args as { key: string }).key).toHaveLength(4 * 1024 * 1024 - 64);
    // Two host calls of 12 MB each; the replies to them are small. Quadratic reassembly copied
    // about 2 GB here.
    expect(copies.bytes()).toBeLessThanOrEqual(2 * 2 * 12 * 1024 * 1024 + 1024 * 1024);
  }, 60_000);
});

describe('sending', () => {
  it('frames multi-byte text, a lone surrogate and many messages of one tick exactly as the receiver reads them', async () => {
    const stream = new PassThrough();
    const sender = new FramedChannel<unknown, unknown>(stream as unknown as Duplex);
    const sent = [{ text: 'é😀ü' }, { lone: '\ud800', n: 1 }, 'x'.repeat(70_000), { nested: [{ a: 'ß' }] }];
    const wire: Buffer[] = [];
    stream.on('data', (c: Buffer) => wire.push(c));
    for (const m of sent) sender.send(m);
    await new Promise((r) => setImmediate(r));
    const bytes = Buffer.concat(wire);
    expect(bytes.equals(Buffer.concat(sent.map(frameOf)))).toBe(true);
    sender.close();
  });
});
