// Exponential backoff with jitter for a failing cluster: pure, so tests need no clock.

export interface BackoffPolicy { baseMs: number; maxMs: number }

/** Delay before the next attempt after `failures` consecutive failures (≥1); "equal jitter". */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  if (failures <= 0) return 0;
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
