// The simulator's load model: idle lab guests jitter a little, about one in ten is busy and drifts
// slowly, and the same seed gives the same busy guests.
import { describe, expect, it } from 'vitest';
import { loadOf, seededBusy } from '../../server/simulator/guest.js';
import { startSimulator } from '../../server/simulator/index.js';

describe('simulated guest load', () => {
  it('an idle guest stays between 0.5 and 4 % cpu with memory within half a percent of its level', () => {
    for (let vmid = 100; vmid < 140; vmid++) {
      const samples = Array.from({ length: 120 }, (_, i) => loadOf({ vmid, busy: false }, 1_700_000_000_000 + i * 1000));
      const cpus = samples.map((s) => s.cpu);
      const mems = samples.map((s) => s.mem);
      expect(Math.min(...cpus)).toBeGreaterThanOrEqual(0.005);
      expect(Math.max(...cpus)).toBeLessThanOrEqual(0.04);
      expect(new Set(cpus).size).toBeGreaterThan(60);
      expect(Math.max(...mems) - Math.min(...mems)).toBeLessThanOrEqual(0.01);
    }
  });

  it('a busy guest works hard and drifts over minutes, not seconds', () => {
    const t0 = 1_700_000_000_000;
    const at = (s: number) => loadOf({ vmid: 123, busy: true }, t0 + s * 1000);
    const minute = Array.from({ length: 360 }, (_, i) => at(i).cpu);
    expect(Math.min(...minute)).toBeGreaterThanOrEqual(0.3);
    expect(Math.max(...minute) - Math.min(...minute)).toBeGreaterThan(0.3);
    for (let i = 1; i < 360; i++) expect(Math.abs(at(i).cpu - at(i - 1).cpu)).toBeLessThan(0.05);
  });

  it('about one guest in ten starts busy, the same ones for the same seed', async () => {
    const busy = Array.from({ length: 2000 }, (_, i) => seededBusy(42, 100 + i)).filter(Boolean).length;
    expect(busy).toBeGreaterThan(140);
    expect(busy).toBeLessThan(260);
    const sim = await startSimulator({ clusters: [{ id: 'a', guests: 30, seed: 42 }], unauthorizedDelayMs: 0, pvestatdIntervalMs: 0 });
    try {
      const a = sim.cluster('a');
      for (const g of a.guests()) expect(a.isBusy(g.vmid)).toBe(seededBusy(42, g.vmid));
      const idle = a.guests().find((g) => !a.isBusy(g.vmid))!;
      a.setLoad(idle.vmid, 'busy');
      expect(a.isBusy(idle.vmid)).toBe(true);
    } finally {
      await sim.close();
    }
  });
});
