// The cluster-wide task list (GET /cluster/tasks) as PVE keeps it. A node rewrites and broadcasts
// its list when a worker starts (fork_worker) and when it ends ($log_task_result), so the list is
// live, unlike /cluster/resources. Each node's list is what RESTEnvironment::active_workers keeps:
// every running task (in the order they started), then the most recent finished ones by start time,
// 25 entries in all; finished tasks pushed out are gone from it for good. The cluster list is every
// node's list one after the other (PVE::Cluster::get_tasklist), not sorted as a whole.

/** One entry as the node broadcasts it. */
export interface TaskListEntry {
  upid: string;
  node: string;
  /** Running tasks only (active_workers deletes it once the process is gone). */
  pid?: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
  /** Finished tasks only. */
  endtime?: number;
  /** Finished tasks only: "OK", "WARNINGS: n" or the error text. */
  status?: string;
  /** Finished tasks: archived to the task index ("1", read back from the active file as a string). */
  saved?: string;
}

/** active_workers' $MAX_FINISHED: running plus finished entries kept per node. */
export const TASKS_KEPT_PER_NODE = 25;

/** Every node's list of active and recent tasks. */
export class TaskList {
  private readonly running = new Map<string, Map<string, TaskListEntry>>();
  private readonly finished = new Map<string, TaskListEntry[]>();

  constructor(private readonly kept = TASKS_KEPT_PER_NODE) {}

  /** A worker started: it is listed at once. */
  started(e: Omit<TaskListEntry, 'endtime' | 'status' | 'saved'>): void {
    let m = this.running.get(e.node);
    if (!m) this.running.set(e.node, (m = new Map()));
    m.set(e.upid, { ...e });
    this.trim(e.node);
  }

  /** A worker ended: its entry turns into a finished one (or drops out when older than all kept). */
  ended(node: string, upid: string, endtime: number, status: string): void {
    const e = this.running.get(node)?.get(upid);
    if (!e) return;
    this.running.get(node)!.delete(upid);
    const { pid: _pid, ...rest } = e;
    const done: TaskListEntry = { ...rest, endtime, status, saved: '1' };
    const list = this.finished.get(node) ?? [];
    list.push(done);
    list.sort((a, b) => b.starttime - a.starttime);
    this.finished.set(node, list);
    this.trim(node);
  }

  private trim(node: string): void {
    const running = this.running.get(node)?.size ?? 0;
    const list = this.finished.get(node);
    if (list) list.length = Math.min(list.length, Math.max(0, this.kept - running));
  }

  /** The cluster list: node by node, each node's running tasks first, then its finished ones. */
  entries(nodes: readonly string[]): TaskListEntry[] {
    const out: TaskListEntry[] = [];
    for (const n of nodes) {
      for (const e of this.running.get(n)?.values() ?? []) out.push({ ...e });
      for (const e of this.finished.get(n) ?? []) out.push({ ...e });
    }
    return out;
  }
}

/** What GET /cluster/tasks shows a caller: tokens split into user and tokenid, others' tasks only with Sys.Audit. */
export function visibleTasks(entries: readonly TaskListEntry[], caller: string, sysAudit: boolean): Array<TaskListEntry & { tokenid?: string }> {
  const out: Array<TaskListEntry & { tokenid?: string }> = [];
  for (const e of entries) {
    const bang = e.user.indexOf('!');
    const shown = bang > 0 ? { ...e, user: e.user.slice(0, bang), tokenid: e.user.slice(bang + 1) } : e;
    // PVE compares the split user with the caller's id; a token's id keeps its '!name', so a token
    // without Sys.Audit does not even see its own tasks.
    if (sysAudit || shown.user === caller) out.push(shown);
  }
  return out;
}
