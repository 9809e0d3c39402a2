// Noise is not change: uptime becomes a start time rounded to a step, cpu and memory are
// quantised, and a stored value is kept while a new reading stays within tolerance of it.

export const START_STEP_MS = 10_000;
/** pvestatd lags up to 10 s, so two readings of one boot can disagree by that much. */
export const START_TOLERANCE_MS = 30_000;
/** Memory moves slowly and means something at 5 %. */
export const USAGE_STEP = 0.05;
/**
 * CPU of an idle lab guest jitters by a few percent from one pvestatd sample to the next; at 10 %
 * steps (with the hysteresis below) that jitter never reaches a step, while a guest that gets
 * busy does at once.
 */
export const CPU_STEP = 0.1;

/** Start time (epoch ms, rounded) from an uptime in seconds; keeps `stored` while within tolerance. */
export function startedAtFrom(uptimeSeconds: number | null, now: number, stored: number | null): number | null {
  if (uptimeSeconds === null || !(uptimeSeconds > 0)) return stored !== null && uptimeSeconds === null ? stored : null;
  const raw = now - uptimeSeconds * 1000;
  if (stored !== null && Math.abs(raw - stored) <= START_TOLERANCE_MS) return stored;
  return Math.round(raw / START_STEP_MS) * START_STEP_MS;
}

/**
 * A 0..1 usage quantised to `step`, with hysteresis: the stored value stays until a reading is a
 * whole step away from it, so jitter around a step edge does not flap.
 */
export function quantiseUsage(raw: number | null, stored: number | null, step = USAGE_STEP): number | null {
  if (raw === null || !Number.isFinite(raw)) return null;
  const clamped = Math.min(1, Math.max(0, raw));
  if (stored !== null && Math.abs(clamped - stored) < step) return stored;
  return Math.round(Math.round(clamped / step) * step * 100) / 100;
}

/** CPU use (0..1 of its cores) as stored: 10 % steps with hysteresis. */
export const quantiseCpu = (raw: number | null, stored: number | null): number | null => quantiseUsage(raw, stored, CPU_STEP);

/** mem / maxmem as a 0..1 fraction, null when either is unknown. */
export function memoryFraction(mem: number | null, maxmem: number | null): number | null {
  if (mem === null || maxmem === null || maxmem <= 0) return null;
  return mem / maxmem;
}
