// The progress of one bulk action as the teacher page sums it up ("Starting 9: 6 done, 0 failed"):
// pure, fed with the server's per-VM results and the VMs' live states.
import { TARGET_STATUS, type PowerAction, type BulkResult } from './actions.js';
import { isPending, type Vm } from '../../../contract/vm.js';

export type BulkItemState = 'sending' | 'working' | 'done' | 'failed' | 'skipped';

export interface BulkRun {
  action: PowerAction;
  /** VM id → what the server answered (absent while the request is out). */
  results: Map<string, BulkResult>;
  /** VMs seen in a pending state since the answer (so a later settle elsewhere counts as failed). */
  seenPending: Set<string>;
  /** Ids asked for, before the server answered. */
  asked: string[];
  /** VMs left alone on the client's side (already in the target state). */
  skippedHere: Map<string, string>;
}


/** Where one VM of the run stands. */
export function itemState(run: BulkRun, id: string, vm: Vm | undefined): { state: BulkItemState; message: string } {
  const here = run.skippedHere.get(id);
  if (here) return { state: 'skipped', message: here };
  const r = run.results.get(id);
  if (!r) return { state: 'sending', message: '' };
  if (r.skipped) return { state: 'skipped', message: r.skipped };
  if (!r.ok) {
    const msg = r.error?.message ?? 'failed';
    if (/is a template/i.test(msg)) return { state: 'skipped', message: 'a template' };
    return { state: 'failed', message: msg };
  }
  const status = vm?.status ?? r.status ?? '';
  if (status === TARGET_STATUS[run.action] && !isPending(status)) return { state: 'done', message: '' };
  if (isPending(status) || !run.seenPending.has(id)) return { state: 'working', message: '' };
  return { state: 'failed', message: `it is ${status} again` };
}

export interface BulkSummary { total: number; done: number; failed: number; skipped: number; working: number; skippedWhy: string[] }

/** Counts of a run. */
export function summarise(run: BulkRun, vmOf: (id: string) => Vm | undefined): BulkSummary {
  const ids = new Set([...run.asked, ...run.results.keys(), ...run.skippedHere.keys()]);
  const out: BulkSummary = { total: ids.size, done: 0, failed: 0, skipped: 0, working: 0, skippedWhy: [] };
  const why = new Map<string, number>();
  for (const id of ids) {
    const s = itemState(run, id, vmOf(id));
    if (s.state === 'done') out.done++;
    else if (s.state === 'failed') out.failed++;
    else if (s.state === 'skipped') { out.skipped++; why.set(s.message, (why.get(s.message) ?? 0) + 1); }
    else out.working++;
  }
  out.skippedWhy = [...why].map(([m, n]) => `${n} ${m}`);
  return out;
}

const ING: Record<PowerAction, string> = { start: 'Starting', stop: 'Force-stopping', shutdown: 'Shutting down', reboot: 'Rebooting' };

/** "Starting 9: 6 done, 0 failed · 2 skipped (2 already running)". */
export function summaryText(run: BulkRun, s: BulkSummary): string {
  const acted = s.total - s.skipped;
  const head = s.working === 0 ? `${ING[run.action]} ${acted} finished: ${s.done} done, ${s.failed} failed` : `${ING[run.action]} ${acted}: ${s.done} done, ${s.failed} failed`;
  return s.skipped ? `${head} · ${s.skipped} skipped (${s.skippedWhy.join(', ')})` : head;
}
