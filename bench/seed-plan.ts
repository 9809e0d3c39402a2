// Pure: who the benchmark seeds (admins, teachers, students in classes) and which guests each
// student is assigned, chosen deterministically from the simulator's guest list.
import { clusterIds, type SeedPlan, type SimGuestBrief } from './protocol.js';
import type { Scale } from './scale.js';

/** Builds the plan: class c lives on cluster c mod N; its pool is the VMs its students get. */
export function makeSeedPlan(scale: Scale, guests: readonly SimGuestBrief[]): SeedPlan {
  const ids = clusterIds(scale.clusters);
  const free = new Map<string, SimGuestBrief[]>(ids.map((id) => [id, []]));
  for (const g of guests) if (!g.template) free.get(g.cluster)?.push(g);
  for (const list of free.values()) list.sort((a, b) => a.vmid - b.vmid);
  const plan: SeedPlan = {
    password: 'bench-password-1',
    admins: Array.from({ length: scale.admins }, (_, i) => `admin${i + 1}`),
    classes: [],
    assignments: {},
  };
  let studentNo = 0;
  for (let c = 0; c < scale.classes; c++) {
    const cluster = ids[c % ids.length];
    const pool = free.get(cluster)!;
    const cls = { name: `Bench class ${c + 1}`, teacher: `teacher${String(c + 1).padStart(2, '0')}`, cluster, students: [] as string[], pool: [] as string[] };
    for (let s = 0; s < scale.studentsPerClass; s++) {
      const username = `student${String(++studentNo).padStart(4, '0')}`;
      const vms: string[] = [];
      for (let k = 0; k < scale.vmsPerStudent; k++) {
        const g = pool.shift();
        if (!g) throw new Error(`cluster ${cluster} has too few guests for the seed plan`);
        vms.push(`${g.cluster}:${g.vmid}`);
      }
      cls.students.push(username);
      cls.pool.push(...vms);
      plan.assignments[username] = vms;
    }
    plan.classes.push(cls);
  }
  return plan;
}

/** Who may see which VM key, as the plan says: the assigned student, the class teacher, admins. */
export function entitlement(plan: SeedPlan): { byUser: Map<string, Set<string> | 'all'>; byVm: Map<string, string[]> } {
  const byUser = new Map<string, Set<string> | 'all'>();
  const byVm = new Map<string, string[]>();
  const add = (vm: string, user: string) => {
    const list = byVm.get(vm);
    if (list) list.push(user);
    else byVm.set(vm, [user]);
  };
  for (const a of plan.admins) byUser.set(a, 'all');
  for (const cls of plan.classes) {
    byUser.set(cls.teacher, new Set(cls.pool));
    for (const vm of cls.pool) add(vm, cls.teacher);
    for (const s of cls.students) {
      byUser.set(s, new Set(plan.assignments[s]));
      for (const vm of plan.assignments[s]) add(vm, s);
    }
  }
  return { byUser, byVm };
}
