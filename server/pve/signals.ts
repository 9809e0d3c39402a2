// Readers for Proxmox's live signals: the cluster task list (GET /cluster/tasks) and the node-local
// guest lists (GET /nodes/{node}/qemu|lxc). Lenient like normalise.ts: numbers may be strings, an
// entry that cannot be read is skipped and counted, never fatal.
import type { VmStatus } from '../../contract/vm.js';
import { normaliseStatus, type GuestType } from './normalise.js';
import { BodyScratch } from './one-connection.js';

/** One task as /cluster/tasks lists it. `endtime`/`status` are null while it runs. */
export interface TaskEntry {
  upid: string;
  node: string;
  /** qmstart, qmshutdown, qmigrate, qmclone, qmdestroy, vzstart, ... */
  type: string;
  /** The guest the task is about, when its id is a vmid. */
  vmid: number | null;
  user: string;
  starttime: number;
  endtime: number | null;
  /** "OK", "WARNINGS: n" or the error text, once ended. */
  status: string | null;
}

/** A guest as its node lists it (live process state). */
export interface NodeGuest {
  vmid: number;
  status: VmStatus;
  uptime: number | null;
}

/**
 * A node's guests as columns, refilled by every read: a sweep reads thousands of guests every few
 * seconds, and an object per guest was garbage V8 took to live long enough to allocate straight
 * into the old space (so every sweep fed the major collections). `uptime` is NaN where unknown.
 */
export class NodeGuestColumns {
  length = 0;
  /** A plain array: vmids are small integers, which map look-ups take fastest as such (not read back from a Float64Array). */
  vmid: number[] = [];
  uptime = new Float64Array(64);
  status: VmStatus[] = [];
  /** The answer's bytes are read into this, reused with the columns (one list at a time each). */
  readonly body = new BodyScratch();

  clear(): void {
    this.length = 0;
  }

  push(vmid: number, status: VmStatus, uptime: number | null): void {
    const i = this.length++;
    if (i === this.uptime.length) {
      const grown = new Float64Array(this.uptime.length * 2);
      grown.set(this.uptime);
      this.uptime = grown;
    }
    this.vmid[i] = vmid;
    this.uptime[i] = uptime ?? NaN;
    this.status[i] = status;
  }

  /** Guest `i` as an object (tests, logs). */
  at(i: number): NodeGuest {
    return { vmid: this.vmid[i], status: this.status[i], uptime: Number.isNaN(this.uptime[i]) ? null : this.uptime[i] };
  }

  toArray(): NodeGuest[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }

  /** Fills `into` (or new columns) with a list of guests. */
  static from(list: readonly NodeGuest[], into = new NodeGuestColumns()): NodeGuestColumns {
    into.clear();
    for (let i = 0; i < list.length; i++) into.push(list[i].vmid, list[i].status, list[i].uptime);
    return into;
  }
}

const num = (x: unknown): number | null => {
  const n = typeof x === 'number' ? x : typeof x === 'string' && x.trim() ? Number(x) : NaN;
  return Number.isFinite(n) ? n : null;
};
const str = (x: unknown): string | null => (typeof x === 'string' && x ? x : null);
const VMID = /^[1-9]\d{2,8}$/;

/** Reads /cluster/tasks; entries without upid, node, type or start time are skipped. */
export function normaliseTaskList(raw: unknown): { tasks: TaskEntry[]; skipped: number } {
  const tasks: TaskEntry[] = [];
  let skipped = 0;
  for (const e of Array.isArray(raw) ? raw : []) {
    const o = (e ?? {}) as Record<string, unknown>;
    const upid = str(o.upid);
    const node = str(o.node);
    const type = str(o.type);
    const starttime = num(o.starttime);
    if (!upid || !node || !type || starttime === null) { skipped++; continue; }
    const id = typeof o.id === 'number' ? String(o.id) : str(o.id) ?? '';
    const endtime = num(o.endtime);
    tasks.push({
      upid, node, type, vmid: VMID.test(id) ? Number(id) : null, user: str(o.user) ?? '', starttime,
      endtime, status: endtime === null ? null : str(o.status) ?? 'unknown',
    });
  }
  return { tasks, skipped };
}

/** Reads a node's guest list; entries without a usable vmid are skipped. */
export function normaliseNodeGuests(raw: unknown, _type: GuestType): NodeGuest[] {
  const out: NodeGuest[] = [];
  for (const e of Array.isArray(raw) ? raw : []) {
    const o = (e ?? {}) as Record<string, unknown>;
    const vmid = num(o.vmid);
    if (vmid === null || !Number.isInteger(vmid)) continue;
    out.push({ vmid, status: normaliseStatus(str(o.status)), uptime: num(o.uptime) });
  }
  return out;
}
