// The snapshot and the task list are compared with their last answer before anything is decoded;
// the answers are read into two reused buffers. An answer must never be taken for the last one
// because it landed in the buffer that held it, a decode that fails must keep nothing, and reads
// asked at once are answered one after the other.
import { describe, expect, it } from 'vitest';
import { LastAnswer } from '../../server/pve/last-answer.js';
import type { BodyScratch } from '../../server/pve/one-connection.js';

/** A read that puts `text` into the buffer it is given, as the HTTP client does. */
const answering = (text: string) => async (scratch: BodyScratch) => {
  const bytes = Buffer.from(text);
  scratch.begin(bytes.length);
  scratch.append(bytes, 0, bytes.length);
  return scratch.view();
};

describe('the last answer', () => {
  it('decodes each changed answer once, also when it has the length of the one before', async () => {
    const last = new LastAnswer<string>();
    const decoded: string[] = [];
    const decode = (b: Buffer) => { decoded.push(b.toString()); return b.toString(); };
    const seen = [];
    for (const text of ['AAAA', 'AAAA', 'BBBB', 'BBBB', 'AAAA', 'CCCC', 'CCCC', 'AAAA']) seen.push(await last.read(answering(text), decode));
    expect(seen.map((s) => `${s.value}${s.unchanged ? '=' : ''}`)).toEqual(['AAAA', 'AAAA=', 'BBBB', 'BBBB=', 'AAAA', 'CCCC', 'CCCC=', 'AAAA']);
    expect(decoded).toEqual(['AAAA', 'BBBB', 'AAAA', 'CCCC', 'AAAA']);
  });

  it('keeps nothing of an answer it could not decode, or read', async () => {
    const last = new LastAnswer<string>();
    const decode = (b: Buffer) => { if (b.toString() === 'bad!') throw new Error('not JSON'); return b.toString(); };
    await last.read(answering('AAAA'), decode);
    await expect(last.read(answering('bad!'), decode)).rejects.toThrow('not JSON');
    await expect(last.read(async () => { throw new Error('cut'); }, decode)).rejects.toThrow('cut');
    expect(await last.read(answering('AAAA'), decode)).toEqual({ value: 'AAAA', unchanged: true });
    expect(await last.read(answering('bad!'), decode).catch((e: Error) => e.message)).toBe('not JSON');
    expect(await last.read(answering('BBBB'), decode)).toEqual({ value: 'BBBB', unchanged: false });
  });

  it('answers reads asked at once one after the other, each against the one before', async () => {
    const last = new LastAnswer<string>();
    const order: string[] = [];
    const slow = (text: string) => async (scratch: BodyScratch) => {
      order.push(`start ${text}`);
      await new Promise((r) => setImmediate(r));
      order.push(`end ${text}`);
      return answering(text)(scratch);
    };
    const got = await Promise.all(['AAAA', 'BBBB', 'BBBB'].map((t) => last.read(slow(t), (b) => b.toString())));
    expect(got).toEqual([{ value: 'AAAA', unchanged: false }, { value: 'BBBB', unchanged: false }, { value: 'BBBB', unchanged: true }]);
    expect(order).toEqual(['start AAAA', 'end AAAA', 'start BBBB', 'end BBBB', 'start BBBB', 'end BBBB']);
  });
});
