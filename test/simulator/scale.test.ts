// Scale and determinism: 20,000 guests generated from a seed, always the same, and one
// cluster/resources call that lists them all from the cached snapshot body.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import { generateGuests } from '../../server/simulator/generator.js';
import { raw, startFast } from './helpers.js';

describe('20,000 guests', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ clusters: [{ id: 'big', guests: 20_000, nodes: 8, seed: 42 }] });
  });
  afterAll(() => sim.close());

  it('generates the same classroom from the same seed, and another from another seed', () => {
    const a = generateGuests('big', ['pve1', 'pve2'], 20_000, 42);
    expect(generateGuests('big', ['pve1', 'pve2'], 20_000, 42)).toEqual(a);
    expect(generateGuests('big', ['pve1', 'pve2'], 20_000, 43)).not.toEqual(a);
  });

  it('has a realistic mix: ~80% qemu, windows and linux, templates, stopped guests, pools, unique MACs', () => {
    const guests = sim.cluster('big').guests();
    expect(guests).toHaveLength(20_000);
    expect(guests[0].vmid).toBe(100);
    const share = (f: (g: (typeof guests)[number]) => boolean) => guests.filter(f).length / guests.length;
    expect(share((g) => g.type === 'qemu')).toBeGreaterThan(0.75);
    expect(share((g) => g.type === 'qemu')).toBeLessThan(0.85);
    expect(share((g) => g.ostype.startsWith('win'))).toBeGreaterThan(0.1);
    expect(share((g) => g.template)).toBeGreaterThan(0.01);
    expect(share((g) => g.status === 'stopped' && !g.template)).toBeGreaterThan(0.2);
    expect(share((g) => g.pool !== null)).toBeGreaterThan(0.3);
    expect(guests.every((g) => /^class-\d+$/.test(g.tags[0]))).toBe(true);
    expect(guests[0].name).toMatch(/^big-(ws|ct|tpl)-001$/);
    expect(new Set(guests.map((g) => g.mac)).size).toBe(20_000);
    expect(new Set(guests.filter((g) => g.ip).map((g) => g.ip)).size).toBe(guests.filter((g) => g.ip).length);
  });

  it('lists every guest in one cluster/resources call, the same body until something changes', async () => {
    const c = sim.cluster('big');
    // Plain node:http, so the measurement is the server's answer and not a client's stream decoding.
    const get = () => new Promise<{ text: string; ms: number }>((resolve, reject) => {
      const t = performance.now();
      http.get(`${c.url}/api2/json/cluster/resources?type=vm`, { headers: { Authorization: `PVEAPIToken=${c.tokenId}=${c.tokenSecret}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t }));
      }).on('error', reject);
    });
    const first = await get();
    const second = await get();
    expect((JSON.parse(first.text) as { data: unknown[] }).data.length).toBe(20_000);
    expect(second.text).toBe(first.text);
    // Timing is reported, not asserted: speed belongs to bench/.
    console.log(`cluster/resources, 20,000 guests, ${(first.text.length / 1e6).toFixed(1)} MB: ${first.ms.toFixed(0)} ms, then ${second.ms.toFixed(0)} ms (request to last byte)`);
    c.createGuest({ name: 'one-more' });
    const third = await raw(c, 'GET', '/cluster/resources?type=vm');
    expect((third.json!.data as unknown[]).length).toBe(20_001);
  });
});
