// Backoff grows exponentially with jitter and stops at the cap; bounded concurrency keeps order.
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../server/sync/backoff.js';
import { mapLimit } from '../../server/limit.js';

describe('backoffDelay', () => {
  const policy = { baseMs: 1000, maxMs: 300_000 };
  it('doubles per failure, jittered between half and all of the ceiling, capped', () => {
    expect(backoffDelay(0, policy)).toBe(0);
    expect(backoffDelay(1, policy, () => 0)).toBe(500);
    expect(backoffDelay(1, policy, () => 1)).toBe(1000);
    expect(backoffDelay(4, policy, () => 1)).toBe(8000);
    expect(backoffDelay(40, policy, () => 1)).toBe(300_000);
    expect(backoffDelay(40, policy, () => 0)).toBe(150_000);
  });
});

describe('mapLimit', () => {
  it('never runs more than the limit at once and keeps the order', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, x * 3));
      active--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});
