// The legacy mappings.json (`{"username": [vmid, ...]}`) turned into a plan of enrolments, pool
// entries and assignments, with a report of what matched. Pure: the service applies the plan.
import * as v from 'valibot';
import { vmKey } from '../../contract/vm.js';

export const MappingsSchema = v.record(
  v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(999_999_999))), v.maxLength(1000)),
);
export type Mappings = v.InferOutput<typeof MappingsSchema>;

export interface MappingsReport {
  /** Newly assigned. */
  assigned: Array<{ username: string; cluster: string; vmid: number }>;
  /** Already assigned to that student in this class (a repeated import changes nothing). */
  alreadyAssigned: Array<{ username: string; cluster: string; vmid: number }>;
  unknownUsers: string[];
  /** Users that exist but are not students. */
  notStudents: string[];
  unknownVms: Array<{ username: string; vmid: number }>;
  /** vmid exists on several clusters and no cluster was given. */
  ambiguous: Array<{ username: string; vmid: number; clusters: string[] }>;
  /** Assigned in this class to someone else; left as it was. */
  takenByOther: Array<{ username: string; cluster: string; vmid: number; assignedTo: string }>;
  /** The class may not take the VM (outside its scope, a template, held by another class). */
  refused: Array<{ username: string; cluster: string; vmid: number; reason: string }>;
}

export interface MappingsPlan {
  report: MappingsReport;
  enrol: number[];
  pool: Array<{ cluster: string; vmid: number }>;
  assign: Array<{ cluster: string; vmid: number; userId: number }>;
}

export interface MappingsContext {
  users: Map<string, { id: number; role: string }>;
  /** vmid → clusters where a (non-deleted) VM has it. */
  clustersOfVmid: Map<number, string[]>;
  /** When given, only VMs of that cluster match. */
  cluster?: string;
  members: Set<number>;
  /** `${cluster}:${vmid}` → user id assigned in this class. */
  assignments: Map<string, number>;
  inPool: (cluster: string, vmid: number) => boolean;
  /** Why the class may not take a VM that is not in its pool yet, or null when it may. */
  refusal?: (cluster: string, vmid: number) => string | null;
  usernameOf: (id: number) => string;
}

/** Plans an import; the same input against the result of applying it plans nothing new. */
export function planMappingsImport(mappings: Mappings, ctx: MappingsContext): MappingsPlan {
  const report: MappingsReport = { assigned: [], alreadyAssigned: [], unknownUsers: [], notStudents: [], unknownVms: [], ambiguous: [], takenByOther: [], refused: [] };
  const enrol = new Set<number>();
  const pool: MappingsPlan['pool'] = [];
  const assign: MappingsPlan['assign'] = [];
  const planned = new Map(ctx.assignments);
  for (const username of Object.keys(mappings).sort()) {
    const user = ctx.users.get(username);
    if (!user) { report.unknownUsers.push(username); continue; }
    if (user.role !== 'student') { report.notStudents.push(username); continue; }
    for (const vmid of [...new Set(mappings[username])]) {
      let clusters = ctx.clustersOfVmid.get(vmid) ?? [];
      if (ctx.cluster) clusters = clusters.filter((c) => c === ctx.cluster);
      if (clusters.length === 0) { report.unknownVms.push({ username, vmid }); continue; }
      if (clusters.length > 1) { report.ambiguous.push({ username, vmid, clusters }); continue; }
      const cluster = clusters[0];
      const key = vmKey(cluster, vmid);
      const holder = planned.get(key);
      if (holder === user.id) { report.alreadyAssigned.push({ username, cluster, vmid }); continue; }
      if (holder !== undefined) { report.takenByOther.push({ username, cluster, vmid, assignedTo: ctx.usernameOf(holder) }); continue; }
      const inPool = ctx.inPool(cluster, vmid);
      const reason = inPool ? null : ctx.refusal?.(cluster, vmid) ?? null;
      if (reason) { report.refused.push({ username, cluster, vmid, reason }); continue; }
      if (!ctx.members.has(user.id)) enrol.add(user.id);
      if (!inPool && !pool.some((p) => p.cluster === cluster && p.vmid === vmid)) pool.push({ cluster, vmid });
      assign.push({ cluster, vmid, userId: user.id });
      planned.set(key, user.id);
      report.assigned.push({ username, cluster, vmid });
    }
  }
  return { report, enrol: [...enrol], pool, assign };
}
