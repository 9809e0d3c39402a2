// Readers for Proxmox's live signals: the cluster task list (GET /cluster/tasks) and the node-local
// guest lists (GET /nodes/{node}/qemu|lxc). Lenient like normalise.ts: numbers may be strings, an
// entry that cannot be read is skipped and counted, never fatal.
import type { VmStatus } from '../../contract/vm.js';
import { normaliseStatus, type GuestType } from './normalise.js';

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
