// Exact-length reads from a stream of WebSocket messages, for the few handshake steps the relay
// speaks itself before it only passes bytes on.

/** Buffers incoming bytes; `read(n)` resolves with the next n bytes, rejects once the stream ended. */
export class ByteQueue {
  private buf: Buffer = Buffer.alloc(0);
  private want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private ended: Error | null = null;

  push(data: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    this.pump();
  }

  /** The stream ended: a pending or later read that cannot be met fails with `why`. */
  end(why: Error): void {
    this.ended ??= why;
    this.pump();
  }

  private pump(): void {
    const w = this.want;
    if (!w) return;
    if (this.buf.length >= w.n) {
      this.want = null;
      const out = Buffer.from(this.buf.subarray(0, w.n));
      this.buf = this.buf.subarray(w.n);
      w.resolve(out);
    } else if (this.ended) {
      this.want = null;
      w.reject(this.ended);
    }
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.want = { n, resolve, reject };
      this.pump();
    });
  }

  /** Whatever arrived beyond the reads (handed on when the relay starts passing bytes). */
  rest(): Buffer {
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }
}
