// The one polling helper of the test suite, for state that announces no event (a row in the
// database, a simulator counter). Prefer an event or a barrier where one exists.

/**
 * Polls `check` until it returns a truthy value and returns that value; a check that throws counts
 * as "not yet". After `timeoutMs` it fails naming `what` (and the check's last error, if any).
 */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const got = await check();
      if (got) return got as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
