// The last answer of a read made again and again (the snapshot every quick pass, the task list
// every 2 s): unchanged bytes need no decoding, and every answer is read into a reused buffer.
import { BodyScratch } from './one-connection.js';

/** An answer as read: its decoded value, whether its bytes were the last answer's, and which decoding the value is. */
export interface Answer<T> {
  value: T;
  unchanged: boolean;
  /** Numbers the decodings: the same number, the same value (objects and all). */
  decoding: number;
}

/**
 * Each answer is read into the spare of two buffers, so the kept answer's bytes are never the ones
 * being overwritten; one read at a time. The decoded value is kept for the next read only while
 * reads come less than `keepValueMs` apart: slower than Proxmox renews an answer (pvestatd, 10 s)
 * the bytes always differ, and a value kept from one read to the next (2,000 rows of a snapshot,
 * 30 s apart) only outlived the young generation to become old-generation garbage. An unchanged
 * answer whose value was not kept is decoded again.
 */
export class LastAnswer<T> {
  private kept: { body: Buffer; value: T | null; decoding: number } | null = null;
  private spare = new BodyScratch();
  private holder = new BodyScratch();
  private queue: Promise<unknown> = Promise.resolve();
  private decodings = 0;
  private lastReadAt: number | null = null;

  constructor(private readonly keepValueMs: number, private readonly now: () => number = Date.now) {}

  /** Reads an answer: the kept value when its bytes are the kept answer's, else `decode` of them (kept unless it throws). */
  read(get: (scratch: BodyScratch) => Promise<Buffer>, decode: (body: Buffer) => T): Promise<Answer<T>> {
    const p = this.queue.then(async () => {
      const at = this.now();
      // The first value is kept (the pace is not known yet).
      const keepValue = this.lastReadAt === null || at - this.lastReadAt < this.keepValueMs;
      this.lastReadAt = at;
      const body = await get(this.spare);
      const kept = this.kept;
      if (kept && kept.body.equals(body)) {
        let value = kept.value;
        if (value === null) {
          value = decode(body);
          kept.decoding = ++this.decodings;
        }
        kept.value = keepValue ? value : null;
        return { value, unchanged: true, decoding: kept.decoding };
      }
      const value = decode(body);
      const decoding = ++this.decodings;
      this.kept = { body, value: keepValue ? value : null, decoding };
      [this.spare, this.holder] = [this.holder, this.spare];
      return { value, unchanged: false, decoding };
    });
    this.queue = p.catch(() => undefined);
    return p;
  }
}
