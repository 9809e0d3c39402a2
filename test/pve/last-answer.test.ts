// The snapshot and the task list are compared with their last answer before anything is decoded;
// the answers are read into two reused buffers. An answer must never be taken for the last one
// because it landed in the buffer that held it, a decode that fails must keep nothing, reads
// asked at once are answered one after the other, and a decoded value is kept only for reads
// that come close together.
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
    const last = new LastAnswer<string>(60_000);
    const decoded: string[] = [];
    const decode = (b: Buffer) => { decoded.push(b.toString()); return b.toString(); };
    const seen = [];
    for (const text of ['AAAA', 'AAAA', 'BBBB', 'BBBB', 'AAAA', 'CCCC', 'CCCC', 'AAAA']) seen.push(await last.read(answering(text), decode));
    expect(seen.map((s) => `${s.value}${s.unchanged ? '=' : ''}`)).toEqual(['AAAA', 'AAAA=', 'BBBB', 'BBBB=', 'AAAA', 'CCCC', 'CCCC=', 'AAAA']);
    expect(decoded).toEqual(['AAAA', 'BBBB', 'AAAA', 'CCCC', 'AAAA']);
  });

  it('keeps nothing of an answer it could not decode, or read', async () => {
    const last = new LastAnswer<string>(60_000);
    const decode = (b: Buffer) => { if (b.toString() === 'bad!') throw new Error('not JSON'); return b.toString(); };
    await last.read(answering('AAAA'), decode);
    await expect(last.read(answering('bad!'), decode)).rejects.toThrow('not JSON');
    await expect(last.read(async () => { throw new Error('cut'); }, decode)).rejects.toThrow('cut');
    expect(await last.read(answering('AAAA'), decode)).toMatchObject({ value: 'AAAA', unchanged: true });
    expect(await last.read(answering('bad!'), decode).catch((e: Error) => e.message)).toBe('not JSON');
    expect(await last.read(answering('BBBB'), decode)).toMatchObject({ value: 'BBBB', unchanged: false });
  });

  it('answers reads asked at once one after the other, each against the one before', async () => {
    const last = new LastAnswer<string>(60_000);
    const order: string[] = [];
    const slow = (text: string) => async (scratch: BodyScratch) => {
      order.push(`start ${text}`);
      await new Promise((r) => setImmediate(r));
      order.push(`end ${text}`);
      return answering(text)(scratch);
    };
    const got = await Promise.all(['AAAA', 'BBBB', 'BBBB'].map((t) => last.read(slow(t), (b) => b.toString())));
    expect(got).toMatchObject([{ value: 'AAAA', unchanged: false }, { value: 'BBBB', unchanged: false }, { value: 'BBBB', unchanged: true }]);
    expect(order).toEqual(['start AAAA', 'end AAAA', 'start BBBB', 'end BBBB', 'start BBBB', 'end BBBB']);
  });

  it('keeps the decoded value only while reads come close together, and says which decoding a value is', async () => {
    let clock = 0;
    const last = new LastAnswer<string[]>(10_000, () => clock);
    let decodes = 0;
    const decode = (b: Buffer) => { decodes++; return [b.toString()]; };
    const at = async (t: number, text: string) => { clock = t; return last.read(answering(text), decode); };
    const a = await at(0, 'AAAA');
    // 30 s later, the same bytes: the first value was kept (the pace was not known yet) ...
    const b = await at(30_000, 'AAAA');
    expect([b.unchanged, decodes, b.decoding === a.decoding]).toEqual([true, 1, true]);
    // ... but not after reads 30 s apart: the same bytes again are decoded afresh.
    const b2 = await at(60_000, 'AAAA');
    expect([b2.unchanged, decodes, b2.decoding === b.decoding]).toEqual([true, 2, false]);
    const b3 = await at(90_000, 'CCCC');
    expect([b3.unchanged, decodes]).toEqual([false, 3]);
    // Reads 1 s apart from now on: the value is kept and handed out again, the same objects.
    const c = await at(91_000, 'CCCC');
    const d = await at(92_000, 'CCCC');
    expect([c.unchanged, d.unchanged, decodes]).toEqual([true, true, 4]);
    expect(d.value).toBe(c.value);
    expect(d.decoding).toBe(c.decoding);
    const e = await at(93_000, 'BBBB');
    expect([e.unchanged, e.value, decodes]).toEqual([false, ['BBBB'], 5]);
    expect(e.decoding).not.toBe(d.decoding);
  });
});
