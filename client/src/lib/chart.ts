// Pure geometry for the sync chart: series of (time, ms) points scaled into an SVG box.

export interface Point { t: number; v: number }
export interface Series { label: string; points: Point[]; dashed?: boolean; colour: string }

export interface Scaled { label: string; colour: string; dashed: boolean; path: string; dots: Array<{ x: number; y: number; t: number; v: number }> }

/** A "nice" upper bound for an axis (1, 2, 5 × 10^n). */
export function niceMax(v: number): number {
  if (v <= 0) return 10;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Scales series into a width×height box (time on x, value on y) and gives SVG path data. */
export function scaleSeries(series: Series[], width: number, height: number, now: number, spanMs: number): { scaled: Scaled[]; max: number } {
  const from = now - spanMs;
  let top = 0;
  for (const s of series) for (const p of s.points) if (p.t >= from) top = Math.max(top, p.v);
  const max = niceMax(top);
  const x = (t: number) => ((t - from) / spanMs) * width;
  const y = (v: number) => height - (Math.min(v, max) / max) * height;
  const scaled = series.map((s) => {
    const pts = s.points.filter((p) => p.t >= from).sort((a, b) => a.t - b.t);
    const dots = pts.map((p) => ({ x: +x(p.t).toFixed(1), y: +y(p.v).toFixed(1), t: p.t, v: p.v }));
    const path = dots.map((d, i) => `${i ? 'L' : 'M'}${d.x} ${d.y}`).join(' ');
    return { label: s.label, colour: s.colour, dashed: !!s.dashed, path, dots };
  });
  return { scaled, max };
}
