// Demo mode's people and class: admin, teacher, student01..student24 (password "demo") and
// "Demo class" owned by teacher with every student enrolled and one VM each, its scope the whole of
// the first cluster (lab-a) and nothing of the others. Idempotent.
import type { UsersRepo } from '../auth/users.js';
import type { Role } from '../db/schema.js';
import type { ClassesRepo } from './repository.js';

export const DEMO_PASSWORD = 'demo';
export const DEMO_CLASS = 'Demo class';
export const DEMO_STUDENTS = Array.from({ length: 24 }, (_, i) => `student${String(i + 1).padStart(2, '0')}`);

/** Creates what is missing; returns the class id. `vms` are the pool VMs in hand-out order. */
export async function seedDemo(users: UsersRepo, classes: ClassesRepo, vms: Array<{ cluster: string; vmid: number }>): Promise<number> {
  const ensure = async (username: string, role: Role, displayName: string) =>
    (await users.getByUsername(username)) ?? (await users.get((await users.create({ username, role, password: DEMO_PASSWORD, displayName })).id))!;
  await ensure('admin', 'admin', 'Administrator');
  const teacher = await ensure('teacher', 'teacher', 'Teacher');
  const students = [];
  for (const [i, name] of DEMO_STUDENTS.entries()) students.push(await ensure(name, 'student', `Student ${i + 1}`));
  const classId = (await classes.findOwnedByName(teacher.id, DEMO_CLASS)) ?? (await classes.create(DEMO_CLASS, teacher.id));
  // Given once: an admin who changes the demo class's scope keeps their change across restarts.
  if (vms.length && (await classes.scopeSize(classId)) === 0) await classes.setScope(classId, [{ cluster: vms[0].cluster, kind: 'cluster' }], null);
  const assigned = new Set((await classes.assignments(classId)).map((a) => a.userId));
  for (const [i, s] of students.entries()) {
    await classes.addMember(classId, s.id);
    const vm = vms[i];
    if (!vm) continue;
    await classes.addPoolEntry(classId, { kind: 'vm', cluster: vm.cluster, vmid: vm.vmid, value: null, approved: true });
    if (!assigned.has(s.id)) await classes.assign(classId, vm.cluster, vm.vmid, s.id);
  }
  return classId;
}

/** The lines printed on a demo start: where to go and how to sign in. */
export function demoBanner(url: string, password: string): string {
  return [
    '',
    '  labdeck demo mode: two simulated Proxmox clusters, no real machines are touched.',
    `  Open ${url}`,
    `  Sign in as admin, teacher or student01 … student24 — password "${password}"`,
    '  (set LABDECK_CONFIG to use real clusters)',
    '',
  ].join('\n');
}
