// Worker tasks as PVE runs them: a UPID in the exact format, a running/stopped status and an
// exit status that is "OK" or the error text; the work itself happens when the task ends. Every
// start and end also updates the node's entry in the cluster task list (task-list.ts).
import { TaskList } from './task-list.js';

/** A task's public state, as GET /nodes/{node}/tasks/{upid}/status answers it. */
export interface TaskStatus extends Upid {
  upid: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
}

/** The parts of a UPID. */
export interface Upid {
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

const hex8 = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');

/** Formats a UPID exactly like PVE::Tools::upid_encode. */
export function formatUpid(u: Upid): string {
  return `UPID:${u.node}:${hex8(u.pid)}:${hex8(u.pstart)}:${hex8(u.starttime)}:${u.type}:${u.id}:${u.user}:`;
}

/** Parses a UPID; null when it is not one (PVE: "unable to parse worker upid"). */
export function parseUpid(upid: string): Upid | null {
  const m = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/.exec(upid);
  if (!m) return null;
  return { node: m[1], pid: parseInt(m[3], 16), pstart: parseInt(m[4], 16), starttime: parseInt(m[5], 16), type: m[6], id: m[7], user: m[8] };
}

/** What a task does: `finish` runs when the duration has passed; throwing makes the task fail with that text. */
export interface TaskWork {
  node: string;
  type: string;
  id: string;
  user: string;
  durationMs: number;
  finish: () => void;
  /**
   * Runs first inside the worker, before the duration starts (taking locks, creating the new
   * config): returns what to release when the task ends. Throwing or rejecting fails the task.
   */
  hold?: () => (() => void) | void | Promise<(() => void) | void>;
}

const MAX_KEPT = 5000;

/** Runs tasks on timers and remembers their status (the newest MAX_KEPT of them). */
export class TaskRunner {
  private readonly tasks = new Map<string, TaskStatus>();
  /** What GET /cluster/tasks lists. */
  readonly list = new TaskList();
  private readonly waiters = new Map<string, Array<(s: TaskStatus) => void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextPid = 0x1000 + Math.floor(Math.random() * 0x10000);
  private readonly bootTicks = 0x100000 + Math.floor(Math.random() * 0x1000000);
  private readonly bootMs = Date.now();

  /** Starts a task and returns its UPID at once, like fork_worker. */
  run(work: TaskWork): string {
    const now = Date.now();
    const u: Upid = {
      node: work.node,
      pid: this.nextPid++,
      // pstart counts clock ticks (100 Hz) since the node booted.
      pstart: this.bootTicks + Math.floor((now - this.bootMs) / 10),
      starttime: Math.floor(now / 1000),
      type: work.type,
      id: work.id,
      user: work.user,
    };
    const upid = formatUpid(u);
    const status: TaskStatus = { upid, ...u, status: 'running' };
    this.tasks.set(upid, status);
    if (this.tasks.size > MAX_KEPT) this.tasks.delete(this.tasks.keys().next().value!);
    this.list.started({ upid, node: u.node, pid: u.pid, starttime: u.starttime, type: u.type, id: u.id, user: u.user });
    const end = (exit: string, release?: (() => void) | void): void => {
      status.exitstatus = exit;
      status.status = 'stopped';
      release?.();
      this.list.ended(u.node, upid, Math.floor(Date.now() / 1000), exit);
      for (const w of this.waiters.get(upid) ?? []) w({ ...status });
      this.waiters.delete(upid);
    };
    const begin = (release: (() => void) | void): void => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        try {
          work.finish();
          end('OK', release);
        } catch (e) {
          end(e instanceof Error ? e.message : String(e), release);
        }
      }, work.durationMs);
      // A pending task must not keep a process alive that is otherwise done.
      timer.unref();
      this.timers.add(timer);
    };
    let held: ReturnType<NonNullable<TaskWork['hold']>> | undefined;
    try {
      held = work.hold?.();
    } catch (e) {
      end(e instanceof Error ? e.message : String(e));
      return upid;
    }
    if (held instanceof Promise) held.then(begin, (e: unknown) => end(e instanceof Error ? e.message : String(e)));
    else begin(held);
    return upid;
  }

  /** The task's status, or undefined when this node never ran it. */
  get(upid: string): TaskStatus | undefined {
    return this.tasks.get(upid);
  }

  /** Resolves when the task has ended (at once when it already has); rejects for an unknown UPID. */
  whenDone(upid: string): Promise<TaskStatus> {
    const t = this.tasks.get(upid);
    if (!t) return Promise.reject(new Error(`no task ${upid}`));
    if (t.status === 'stopped') return Promise.resolve({ ...t });
    return new Promise((resolve) => {
      const list = this.waiters.get(upid) ?? [];
      list.push(resolve);
      this.waiters.set(upid, list);
    });
  }

  /** Cancels pending timers (simulator shutdown). */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
