// When to alert about a cluster: a pure state machine fed with each cluster's sync state. One
// "down" alert when passes keep failing (N in a row) or data goes stale (M minutes without a
// successful pass), one "recovered" when a pass succeeds again, nothing in between.

export interface AlertPolicy {
  /** Consecutive failed passes that make a cluster "down". */
  failures: number;
  /** Time without a successful pass that makes a cluster "down", ms. */
  staleMs: number;
}

/** What the sync side reports about one cluster at one moment. */
export interface ClusterObservation {
  consecutiveFailures: number;
  lastSuccessAt: number | null;
  lastError: string | null;
}

export interface AlertState {
  down: boolean;
  /** When the last alert went out, or when watching began: staleness of a never-synced cluster counts from here. */
  since: number;
}

export interface AlertDecision {
  kind: 'down' | 'recovered';
  reason: string;
}

/** The state of a cluster nobody has alerted about yet, watched from `now`. */
export function initialAlertState(now: number, lastAlert?: { kind: 'down' | 'recovered'; at: number } | null): AlertState {
  if (lastAlert?.kind === 'down') return { down: true, since: lastAlert.at };
  return { down: false, since: now };
}

function minutes(ms: number): string {
  const m = ms / 60_000;
  return m < 1 ? `${Math.round(ms / 1000)} s` : `${m < 10 ? m.toFixed(1) : Math.round(m)} min`;
}

/** Next state and, at most once per transition, the alert to send. */
export function decideAlert(
  state: AlertState,
  obs: ClusterObservation,
  policy: AlertPolicy,
  now: number,
): { state: AlertState; alert: AlertDecision | null } {
  if (!state.down) {
    const staleFrom = obs.lastSuccessAt ?? state.since;
    const staleFor = now - staleFrom;
    const why = obs.lastError ? `: ${obs.lastError}` : '';
    let reason: string | null = null;
    if (obs.consecutiveFailures >= policy.failures) {
      reason = `${obs.consecutiveFailures} sync passes in a row failed${why}`;
    } else if (staleFor >= policy.staleMs) {
      reason = obs.lastSuccessAt === null
        ? `no successful sync pass since watching began ${minutes(staleFor)} ago${why}`
        : `no successful sync pass for ${minutes(staleFor)}${why}`;
    }
    if (reason === null) return { state, alert: null };
    return { state: { down: true, since: now }, alert: { kind: 'down', reason } };
  }
  const recovered = obs.consecutiveFailures === 0 && obs.lastSuccessAt !== null
    && obs.lastSuccessAt > state.since && now - obs.lastSuccessAt < policy.staleMs;
  if (!recovered) return { state, alert: null };
  return {
    state: { down: false, since: now },
    alert: { kind: 'recovered', reason: `sync works again after ${minutes(now - state.since)} down` },
  };
}
