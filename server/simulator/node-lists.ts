// The node-local guest lists (GET /nodes/{node}/qemu and /lxc): the node answers them itself from
// live process state (qemu-server / pve-container `vmstatus`), so a guest that shut down from inside
// shows there at once while /cluster/resources still has pvestatd's older view.
import { type Guest, statusCurrent } from './guest.js';

/** Keys of status/current that vmstatus adds only with `full=1` (QMP queries) or never lists. */
const QEMU_FULL_ONLY = ['qmpstatus', 'running-machine', 'running-qemu', 'balloon', 'freemem', 'agent'];

/** One node's guests of one kind, as vmstatus lists them (hash order in PVE: clients must not rely on any). */
export function nodeGuestList(guests: Iterable<Guest>, node: string, kind: 'qemu' | 'lxc', now: number, full: boolean): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const g of guests) {
    if (g.node !== node || g.type !== kind) continue;
    const e = statusCurrent(g, now);
    delete e.ha;
    if (kind === 'qemu') {
      if (!full) for (const k of QEMU_FULL_ONLY) delete e[k];
      // vmstatus sets serial only when a serial port is configured.
      if (!e.serial) delete e.serial;
    }
    out.push(e);
  }
  return out;
}
