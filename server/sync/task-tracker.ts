// What changed in Proxmox's task list between two reads (pure): tasks that started, tasks that
// ended, and nodes whose list rolled over so far that entries may have been missed. A node keeps
// its running tasks plus the newest finished ones (25 in all), so as long as one finished entry of
// the last read is still listed, everything newer is listed too; when none is, some may be gone.
import type { TaskEntry } from '../pve/signals.js';

export interface TaskChanges {
  /** Listed for the first time and still running. */
  started: TaskEntry[];
  /** Ended since the last read (seen running before, or started and ended in between). */
  ended: TaskEntry[];
  /** Running last time and no longer listed: ended and pushed out at once, status unknown. */
  vanished: TaskEntry[];
  /** Nodes whose list kept nothing of the last read: tasks may have come and gone unseen. */
  rolledOver: string[];
}

/** Remembers the last read of one cluster's task list. */
export class TaskTracker {
  private last: Map<string, TaskEntry> | null = null;

  /**
   * Compares a fresh read with the last one. The first read reports running tasks as started and
   * those that ended at or after `endedSince` (epoch seconds) as ended.
   */
  observe(tasks: readonly TaskEntry[], endedSince = Infinity): TaskChanges {
    const out: TaskChanges = { started: [], ended: [], vanished: [], rolledOver: [] };
    const now = new Map<string, TaskEntry>();
    for (const t of tasks) now.set(t.upid, t);
    const prev = this.last;
    this.last = now;
    if (!prev) {
      for (const t of now.values()) {
        if (t.endtime === null) out.started.push(t);
        else if (t.endtime >= endedSince) out.ended.push(t);
      }
      return out;
    }
    for (const t of now.values()) {
      const before = prev.get(t.upid);
      if (!before) (t.endtime === null ? out.started : out.ended).push(t);
      else if (before.endtime === null && t.endtime !== null) out.ended.push(t);
    }
    const kept = new Set<string>();
    const hadEntries = new Set<string>();
    for (const t of prev.values()) {
      hadEntries.add(t.node);
      if (now.has(t.upid)) kept.add(t.node);
      else if (t.endtime === null) out.vanished.push(t);
    }
    for (const node of hadEntries) if (!kept.has(node)) out.rolledOver.push(node);
    return out;
  }

  /** Forgets the last read (after a failed read nothing can be compared). */
  reset(): void {
    this.last = null;
  }
}

/** The status a power task ends in when it succeeds; null when it does not change the status (reboot) or is not a power task. */
export function taskTarget(type: string): 'running' | 'stopped' | 'paused' | null {
  switch (type) {
    case 'qmstart': case 'vzstart': case 'qmresume': case 'vzresume': return 'running';
    case 'qmstop': case 'qmshutdown': case 'vzstop': case 'vzshutdown': return 'stopped';
    case 'qmpause': case 'vzsuspend': return 'paused';
    default: return null;
  }
}

/** Tasks that change which guests exist or where they are: a pass must look once they end. */
export const MEMBERSHIP_TASKS: ReadonlySet<string> = new Set(['qmigrate', 'vzmigrate', 'qmclone', 'vzclone', 'qmdestroy', 'vzdestroy', 'qmcreate', 'vzcreate', 'qmrestore', 'vzrestore']);

/** Tasks that remove their guest when they end well. */
export const DESTROY_TASKS: ReadonlySet<string> = new Set(['qmdestroy', 'vzdestroy']);
