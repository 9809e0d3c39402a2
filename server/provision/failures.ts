// What a Proxmox failure means for a provisioning step (pure): retry later (a lock held by a
// parallel clone), pick another vmid (taken meanwhile), offer a re-clone (ZFS cannot roll back
// past a newer snapshot), or stop with a message a teacher can act on.

export type FailureKind = 'lock' | 'id-taken' | 'not-most-recent' | 'missing' | 'fatal';

export interface Failure { kind: FailureKind; message: string }

const LOCK = /can't lock file .* got timeout|is locked \((clone|create|disk|snapshot|rollback|config|migrate|backup)\)|got timeout/i;
const ID_TAKEN = /already exists|config file already exists|vmid.*already/i;

/** Classifies a Proxmox error text from a request or a task's exit status. */
export function classifyFailure(text: string): Failure {
  const t = text.trim() || 'unknown error';
  if (/is not most recent snapshot/i.test(t)) {
    return { kind: 'not-most-recent', message: `the storage can roll back only to its newest snapshot (${t}); re-clone the VM instead` };
  }
  if (LOCK.test(t)) return { kind: 'lock', message: `Proxmox is busy with this VM or its template (${t})` };
  if (ID_TAKEN.test(t)) return { kind: 'id-taken', message: `the VM id was taken meanwhile (${t})` };
  if (/does not exist/i.test(t)) return { kind: 'missing', message: t };
  if (/Linked clone feature|clone feature is not supported|not available/i.test(t)) {
    return { kind: 'fatal', message: `the template's storage cannot make linked clones (${t}); use a full clone` };
  }
  if (/Permission check failed|permission denied/i.test(t)) {
    return { kind: 'fatal', message: `labdeck's Proxmox token lacks a privilege (${t}); see labdeck check-config` };
  }
  if (/Parameter verification failed|invalid format|value does not match/i.test(t)) return { kind: 'fatal', message: `Proxmox refused the request (${t})` };
  return { kind: 'fatal', message: `Proxmox: ${t}` };
}

/** The delay before retry `attempt` (1-based): doubling from `baseMs`, at most 30 s, with up to 25 % jitter. */
export function retryDelay(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const d = Math.min(30_000, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d * (1 + 0.25 * random()));
}

/** Name of the n-th VM (1-based): the prefix plus a two- or three-digit number, a valid DNS name. */
export function vmName(prefix: string, n: number, count: number): string {
  return `${prefix}-${String(n).padStart(count >= 100 ? 3 : 2, '0')}`;
}

/** The snapshot provisioning takes and reverts to. */
export const BASELINE = 'labdeck-baseline';

/** Tags labdeck puts on a VM it made for a class. */
export function provisionTags(existing: readonly string[], classId: number): string[] {
  return [...new Set([...existing.filter((t) => t !== 'labdeck-template'), 'labdeck', `class-${classId}`])].sort();
}
