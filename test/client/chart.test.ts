// The sync chart's geometry: nice axis bounds, and points placed by time and value.
import { describe, it, expect } from 'vitest';
import { niceMax, scaleSeries } from '../../client/src/lib/chart.js';
import { ago, ipText, statusInfo } from '../../client/src/lib/format.js';

describe('sync chart geometry', () => {
  it('rounds the axis up to 1, 2 or 5 times a power of ten', () => {
    expect([niceMax(0), niceMax(7), niceMax(130), niceMax(450), niceMax(1800)]).toEqual([10, 10, 200, 500, 2000]);
  });

  it('puts the newest point at the right edge and drops points older than the span', () => {
    const now = 1_000_000;
    const { scaled, max } = scaleSeries([{ label: 'a', colour: '#000', points: [{ t: now - 120_000, v: 50 }, { t: now - 60_000, v: 100 }, { t: now, v: 0 }] }], 100, 50, now, 60_000);
    expect(max).toBe(100);
    expect(scaled[0].dots).toEqual([{ x: 0, y: 0, t: now - 60_000, v: 100 }, { x: 100, y: 50, t: now, v: 0 }]);
    expect(scaled[0].path).toBe('M0 0 L100 50');
  });
});

describe('status words', () => {
  it('says what a status means and why there is no IP', () => {
    expect(statusInfo('shutting-down')).toEqual({ label: 'Shutting down…', tone: 'busy' });
    expect(ipText({ ip: null, ipReason: 'no-agent' })).toBe('this VM does not report its address');
    expect(ago(0, 125_000)).toBe('2 min ago');
  });
});
