// Writes the seed plan into labdeck's database before the server starts, through the classes
// repository. Users are inserted in bulk with one shared scrypt hash: hashing 2,000 passwords one
// by one would take minutes and measures nothing the benchmark is about.
import type { Db } from '../server/db/index.js';
import { hashPassword } from '../server/auth/password.js';
import { ClassesRepo } from '../server/classes/repository.js';
import { parseVmKey } from '../contract/vm.js';
import type { SeedPlan } from './protocol.js';

/** Seeds users, classes, pools and assignments; returns username → user id. */
export async function seedDatabase(db: Db, plan: SeedPlan): Promise<Map<string, number>> {
  const hash = await hashPassword(plan.password);
  const at = Date.now();
  const people: Array<{ username: string; role: 'admin' | 'teacher' | 'student' }> = [
    ...plan.admins.map((username) => ({ username, role: 'admin' as const })),
    ...plan.classes.map((c) => ({ username: c.teacher, role: 'teacher' as const })),
    ...plan.classes.flatMap((c) => c.students.map((username) => ({ username, role: 'student' as const }))),
  ];
  for (let i = 0; i < people.length; i += 500) {
    await db.insertInto('users').values(people.slice(i, i + 500).map((p) => ({
      username: p.username, display_name: p.username, role: p.role, password_hash: hash, source: 'local',
      created_at: at, updated_at: at,
    }))).execute();
  }
  const ids = new Map((await db.selectFrom('users').select(['id', 'username']).execute()).map((r) => [r.username, r.id]));
  const classes = new ClassesRepo(db);
  for (const c of plan.classes) {
    const classId = await classes.create(c.name, ids.get(c.teacher)!);
    if (c.scopeWholeCluster) await classes.setScope(classId, [{ kind: 'cluster', cluster: c.cluster }], null);
    for (const s of c.students) {
      const userId = ids.get(s)!;
      await classes.addMember(classId, userId);
      for (const key of plan.assignments[s]) {
        const vm = parseVmKey(key)!;
        await classes.addPoolEntry(classId, { kind: 'vm', cluster: vm.cluster, vmid: vm.vmid, value: null });
        await classes.assign(classId, vm.cluster, vm.vmid, userId);
      }
    }
  }
  return ids;
}
