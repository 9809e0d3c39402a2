// The last answer of a read made again and again (the snapshot every quick pass, the task list
// every 2 s): unchanged bytes need no decoding, and every answer is read into a reused buffer.
import { BodyScratch } from './one-connection.js';

/**
 * Each answer is read into the spare of two buffers, so the kept answer's bytes are never the ones
 * being overwritten; one read at a time.
 */
export class LastAnswer<T> {
  private kept: { body: Buffer; value: T } | null = null;
  private spare = new BodyScratch();
  private holder = new BodyScratch();
  private queue: Promise<unknown> = Promise.resolve();

  /** Reads an answer: the kept value when its bytes are the kept answer's, else `decode` of them (kept unless it throws). */
  read(get: (scratch: BodyScratch) => Promise<Buffer>, decode: (body: Buffer) => T): Promise<{ value: T; unchanged: boolean }> {
    const p = this.queue.then(async () => {
      const body = await get(this.spare);
      if (this.kept && this.kept.body.equals(body)) return { value: this.kept.value, unchanged: true };
      const value = decode(body);
      this.kept = { body, value };
      [this.spare, this.holder] = [this.holder, this.spare];
      return { value, unchanged: false };
    });
    this.queue = p.catch(() => undefined);
    return p;
  }
}
