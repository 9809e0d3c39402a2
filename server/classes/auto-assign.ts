// Auto-assignment: give each student who has no VM in the class one free pool VM. Pure planning.
import { vmKey } from '../../contract/vm.js';

export interface AutoAssignInput {
  /** Pool VMs eligible for students (no templates), in the order to hand them out. */
  poolVms: Array<{ cluster: string; vmid: number }>;
  /** Students in the order to serve them. */
  students: Array<{ id: number }>;
  /** Current assignments in the class. */
  assignments: Array<{ cluster: string; vmid: number; userId: number }>;
}

/** The (VM, student) pairs to add: unassigned students get free VMs until either runs out. */
export function planAutoAssign(input: AutoAssignInput): Array<{ cluster: string; vmid: number; userId: number }> {
  const taken = new Set(input.assignments.map((a) => vmKey(a.cluster, a.vmid)));
  const served = new Set(input.assignments.map((a) => a.userId));
  const free = input.poolVms.filter((v) => !taken.has(vmKey(v.cluster, v.vmid)));
  const out: Array<{ cluster: string; vmid: number; userId: number }> = [];
  for (const s of input.students) {
    if (served.has(s.id)) continue;
    const vm = free.shift();
    if (!vm) break;
    out.push({ cluster: vm.cluster, vmid: vm.vmid, userId: s.id });
  }
  return out;
}
