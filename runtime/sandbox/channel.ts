// One persistent, length-prefixed JSON channel between the server and a sandbox process, over an
// extra stdio pipe (fd 3). No per-call setup: each message is one frame, 4-byte length + UTF-8 JSON.
import type { Duplex } from 'node:stream';

export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export class FramedChannel<Out, In> {
  private readonly stream: Duplex;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  /** Body length of the frame being received, once its 4-byte header is in; -1 before. */
  private expected = -1;
  private closed = false;
  private corked = false;
  /**
   * Milliseconds this process spent encoding, decoding and handling (synchronously) the frames of
   * this channel since the last takeBusyMs(): work done for the process at the other end.
   */
  private busyMs = 0;
  /** When the chunk holding the message being handled arrived (performance.now()): for traced calls. */
  arrivedAt = 0;
  onMessage: (message: In) => void = () => {};
  onError: (err: Error) => void = () => {};
  onClose: () => void = () => {};

  constructor(stream: Duplex) {
    this.stream = stream;
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    stream.on('error', (err) => this.onError(err));
    stream.on('end', () => stream.end());
    stream.on('close', () => {
      this.closed = true;
      this.onClose();
    });
  }

  send(message: Out): boolean {
    if (this.closed) return false;
    const started = performance.now();
    const json = JSON.stringify(message);
    // Encoded straight into the frame: no intermediate buffer and copy per message.
    const length = Buffer.byteLength(json, 'utf8');
    if (length > MAX_FRAME_BYTES) {
      this.busyMs += performance.now() - started;
      throw new Error(`sandbox channel: a message of ${length} bytes exceeds the ${MAX_FRAME_BYTES}-byte frame limit`);
    }
    const frame = Buffer.allocUnsafe(4 + length);
    frame.writeUInt32LE(length, 0);
    frame.write(json, 4, 'utf8');
    this.busyMs += performance.now() - started;
    // Frames sent in the same tick (host results answered together, replies of concurrent calls)
    // leave in one writev: each write wakes the other process, and a wake-up costs more than the
    // frame itself (bench/: webhook throughput).
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(() => {
        this.corked = false;
        this.stream.uncork();
      });
    }
    this.stream.write(frame);
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.corked) {
      // Frames sent in this tick go out first, as they did before sends were coalesced.
      this.corked = false;
      this.stream.uncork();
    }
    this.stream.destroy();
  }

  private receive(chunk: Buffer): void {
    this.arrivedAt = performance.now();
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    while (this.bufferedBytes >= 4) {
      if (this.expected < 0) {
        // The header may straddle chunks only while fewer than 4 bytes were buffered: this
        // joins at most those bytes and the chunk that completed them.
        if (this.buffered[0].length < 4) this.buffered = [Buffer.concat(this.buffered, this.bufferedBytes)];
        const length = this.buffered[0].readUInt32LE(0);
        if (length > MAX_FRAME_BYTES) {
          this.onError(new Error(`sandbox channel: incoming frame of ${length} bytes exceeds the limit`));
          this.close();
          return;
        }
        this.expected = length;
      }
      // Chunks of an incomplete frame are only kept, never joined: joining them on every chunk
      // copied the whole frame so far each time, so a 12 MB frame (4 M characters of a host-call
      // argument, 3 bytes each in UTF-8) cost the server about 2 s of CPU to receive, charged to
      // no plugin. Now each byte is copied at most twice, whatever the chunking.
      if (this.bufferedBytes < 4 + this.expected) return;
      const head = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered, this.bufferedBytes);
      const body = head.subarray(4, 4 + this.expected);
      const rest = head.subarray(4 + this.expected);
      this.buffered = rest.length ? [rest] : [];
      this.bufferedBytes = rest.length;
      this.expected = -1;
      const started = performance.now();
      let message: In;
      try {
        message = JSON.parse(body.toString('utf8')) as In;
      } catch (err) {
        this.onError(new Error(`sandbox channel: undecodable frame (${(err as Error).message})`));
        continue;
      } finally {
        this.busyMs += performance.now() - started;
      }
      const handling = performance.now();
      try {
        this.onMessage(message);
      } finally {
        this.busyMs += performance.now() - handling;
      }
    }
  }

  /** The busy time accumulated since the last call (see busyMs), and starts counting anew. */
  takeBusyMs(): number {
    const ms = this.busyMs;
    this.busyMs = 0;
    return ms;
  }
}
