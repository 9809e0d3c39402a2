// The rules of classes: who may create, change and read them; enrolment by invite; the VM pool;
// assignments (by hand, automatic, from mappings.json); projector links. Every change is audited
// and announced through Access (the realtime hub recomputes rooms from it).
import type { Vm } from '../inventory/vm.js';
import { vmKey } from '../inventory/vm.js';
import type { Access } from '../auth/permissions.js';
import type { AuditLog } from '../auth/audit-log.js';
import type { SessionUser } from '../auth/session.js';
import type { UsersRepo } from '../auth/users.js';
import { conflict, forbidden, notFound } from '../http/errors.js';
import type { ClassesRepo, ClassSummary, PoolEntryView, AssignmentView, ClassPerson, LinkView } from './repository.js';
import type { InventoryReader } from './inventory-reader.js';
import { planAutoAssign } from './auto-assign.js';
import { planMappingsImport, type Mappings, type MappingsReport } from './mappings-import.js';
import { toProjectorVm, type ProjectorStudent, type ProjectorVm } from './projector-vm.js';

export interface ClassDetail extends ClassSummary {
  students: Array<ClassPerson & { vms: string[] }>;
  pool: PoolEntryView[];
  assignments: AssignmentView[];
  /** Pool VMs (resolved from entries) and assigned VMs, as the inventory has them. */
  vms: Vm[];
}

export interface ProjectorView {
  class: { id: number; name: string };
  students: ProjectorStudent[];
  /** Every VM of the class pool, assigned or not (unassigned ones get their own tile). */
  vms: ProjectorVm[];
  revision: number;
}

export type PoolInput =
  | { kind: 'vm'; vmid: number; cluster?: string }
  | { kind: 'tag'; tag: string; cluster?: string }
  | { kind: 'pool'; pool: string; cluster?: string };

export class ClassesService {
  constructor(
    private readonly repo: ClassesRepo,
    private readonly users: UsersRepo,
    private readonly access: Access,
    private readonly audit: AuditLog,
    private readonly inventory: InventoryReader,
  ) {}

  private must(ok: boolean, message?: string): void {
    if (!ok) throw forbidden(message);
  }

  private async exists(id: number): Promise<ClassSummary> {
    const c = await this.repo.get(id);
    if (!c) throw notFound(`class ${id} does not exist`);
    return c;
  }

  /** Checks the class exists (404) and the user may manage it (403). */
  private async manageable(user: SessionUser, id: number): Promise<ClassSummary> {
    const c = await this.exists(id);
    this.must(this.access.canManageClass(user, id), 'only the teachers of this class may do this');
    return c;
  }

  private log(user: SessionUser, action: string, classId: number, detail?: string, extra: { cluster?: string; vmid?: number; target?: 'class' | 'vm' } = {}) {
    return this.audit.record({ actor: { id: user.id, username: user.username }, action, target: extra.target ?? 'class', classId, cluster: extra.cluster, vmid: extra.vmid, outcome: 'ok', detail });
  }

  /** Classes the user teaches or attends (all for admins), with how many VMs each holds. */
  async list(user: SessionUser): Promise<Array<ClassSummary & { vmCount: number }>> {
    const classes = await this.repo.list(user.role === 'admin' ? undefined : this.access.classIdsFor(user));
    return classes.map((c) => ({ ...c, vmCount: this.access.vmKeysOfClass(c.id).size }));
  }

  /** Roster, pool, assignments and VMs of a class (its teachers and admins). */
  async detail(user: SessionUser, id: number): Promise<ClassDetail> {
    const c = await this.manageable(user, id);
    const [members, pool, assignments] = await Promise.all([this.repo.members(id), this.repo.pool(id), this.repo.assignments(id)]);
    const keys = [...this.access.vmKeysOfClass(id)];
    const vms = keys.length ? await this.inventory.list({ keys }) : [];
    return { ...c, students: this.withVms(members, assignments), pool, assignments, vms };
  }

  private withVms(members: ClassPerson[], assignments: AssignmentView[]) {
    return members.map((m) => ({ ...m, vms: assignments.filter((a) => a.userId === m.id).map((a) => vmKey(a.cluster, a.vmid)) }));
  }

  /** Creates a class owned by the caller (teachers and admins). */
  async create(user: SessionUser, name: string): Promise<ClassSummary> {
    this.must(user.role !== 'student', 'students cannot create classes');
    const id = await this.repo.create(name, user.id);
    await this.access.changed({ userIds: [user.id], classIds: [id] });
    await this.log(user, 'class.create', id, name);
    return (await this.repo.get(id))!;
  }

  async rename(user: SessionUser, id: number, name: string): Promise<ClassSummary> {
    await this.manageable(user, id);
    await this.repo.rename(id, name);
    await this.access.changed({ userIds: [], classIds: [id] });
    await this.log(user, 'class.rename', id, name);
    return (await this.repo.get(id))!;
  }

  /** Deletes a class (its owner or an admin). */
  async delete(user: SessionUser, id: number): Promise<void> {
    const c = await this.manageable(user, id);
    this.must(user.role === 'admin' || c.teachers.some((t) => t.id === user.id && t.owner), 'only the owner may delete a class');
    const projectors = [...this.access.snapshot().projectors].filter(([, p]) => p.classId === id).map(([h]) => h);
    const userIds = await this.repo.delete(id);
    await this.access.changed({ userIds, classIds: [id] });
    for (const tokenHash of projectors) this.access.feed.emit('projector:revoked', { tokenHash, classId: id });
    await this.log(user, 'class.delete', id, c.name);
  }

  /** Adds a co-teacher by username (a teacher or admin account). */
  async addTeacher(user: SessionUser, id: number, username: string): Promise<ClassSummary> {
    await this.manageable(user, id);
    const t = await this.users.getByUsername(username);
    if (!t || t.disabled) throw notFound(`user ${username} does not exist`);
    if (t.role === 'student') throw conflict(`${username} is a student, not a teacher`);
    await this.repo.addTeacher(id, t.id);
    await this.access.changed({ userIds: [t.id], classIds: [id] });
    await this.log(user, 'class.teacher.add', id, username);
    return (await this.repo.get(id))!;
  }

  /** Removes a co-teacher; the owner stays. */
  async removeTeacher(user: SessionUser, id: number, userId: number): Promise<ClassSummary> {
    const c = await this.manageable(user, id);
    const t = c.teachers.find((x) => x.id === userId);
    if (!t) throw notFound(`user ${userId} does not teach this class`);
    if (t.owner) throw conflict('the owner cannot be removed from their class');
    await this.repo.removeTeacher(id, userId);
    await this.access.changed({ userIds: [userId], classIds: [id] });
    await this.log(user, 'class.teacher.remove', id, t.username);
    return (await this.repo.get(id))!;
  }

  /** A new invite link; the token is shown only now. */
  async createInvite(user: SessionUser, id: number, ttlHours: number): Promise<{ id: number; token: string; path: string; expiresAt: number }> {
    await this.manageable(user, id);
    const link = await this.repo.createLink('invites', id, user.id, ttlHours * 3_600_000);
    await this.log(user, 'class.invite.create', id, `expires ${new Date(link.expiresAt).toISOString()}`);
    return { ...link, path: `/invite/${link.token}` };
  }

  async listInvites(user: SessionUser, id: number): Promise<LinkView[]> {
    await this.manageable(user, id);
    return this.repo.links('invites', id);
  }

  async revokeInvite(user: SessionUser, id: number, inviteId: number): Promise<void> {
    await this.manageable(user, id);
    if (!(await this.repo.revokeLink('invites', id, { id: inviteId }))) throw notFound(`invite ${inviteId} does not exist`);
    await this.log(user, 'class.invite.revoke', id, String(inviteId));
  }

  /** What an invite opens (any signed-in user may look before accepting). */
  async inviteInfo(token: string): Promise<{ class: { id: number; name: string }; expiresAt: number }> {
    const link = await this.repo.findLiveLink('invites', token);
    if (!link) throw notFound('this invite link is unknown, expired or revoked');
    const c = await this.exists(link.classId);
    return { class: { id: c.id, name: c.name }, expiresAt: link.expiresAt };
  }

  /** Enrols the signed-in student in the invite's class. */
  async acceptInvite(user: SessionUser, token: string): Promise<{ class: { id: number; name: string }; enrolled: boolean }> {
    const link = await this.repo.findLiveLink('invites', token);
    if (!link) throw notFound('this invite link is unknown, expired or revoked');
    this.must(user.role === 'student', 'only students enrol through invite links');
    const c = await this.exists(link.classId);
    const enrolled = await this.repo.addMember(c.id, user.id);
    if (enrolled) {
      await this.repo.countUse('invites', link.id);
      await this.access.changed({ userIds: [user.id], classIds: [c.id] });
      await this.log(user, 'class.enrol', c.id, `via invite ${link.id}`);
    }
    return { class: { id: c.id, name: c.name }, enrolled };
  }

  /** Enrols a student by username (teachers adding someone by hand, demo seeding). */
  async addStudent(user: SessionUser, id: number, username: string): Promise<void> {
    await this.manageable(user, id);
    const s = await this.users.getByUsername(username);
    if (!s || s.disabled) throw notFound(`user ${username} does not exist`);
    if (s.role !== 'student') throw conflict(`${username} is not a student`);
    if (await this.repo.addMember(id, s.id)) {
      await this.access.changed({ userIds: [s.id], classIds: [id] });
      await this.log(user, 'class.student.add', id, username);
    }
  }

  /** Removes a student and their assignments in this class. */
  async removeStudent(user: SessionUser, id: number, userId: number): Promise<void> {
    await this.manageable(user, id);
    const m = (await this.repo.members(id)).find((x) => x.id === userId);
    if (!m) throw notFound(`user ${userId} is not in this class`);
    await this.repo.removeMember(id, userId);
    await this.access.changed({ userIds: [userId], classIds: [id] });
    await this.log(user, 'class.student.remove', id, m.username);
  }

  /** One VM by vmid (and cluster when given or ambiguous). */
  async resolveVm(vmid: number, cluster?: string): Promise<Vm> {
    if (cluster) {
      const vm = await this.inventory.get(cluster, vmid);
      if (!vm || isDeleted(vm)) throw notFound(`VM ${vmid} does not exist on cluster ${cluster}`);
      return vm;
    }
    const found = (await this.inventory.findByVmid(vmid)).filter((v) => !isDeleted(v));
    if (found.length === 0) throw notFound(`VM ${vmid} does not exist`);
    if (found.length > 1) throw conflict(`VM ${vmid} exists on clusters ${found.map((v) => v.cluster).join(', ')}: add ?cluster=`);
    return found[0];
  }

  /** Adds VMs to the pool: one VM, or every VM with a Proxmox tag or in a Proxmox pool. */
  async addPool(user: SessionUser, id: number, input: PoolInput): Promise<PoolEntryView> {
    await this.manageable(user, id);
    let entry: { kind: 'vm' | 'tag' | 'pool'; cluster: string | null; vmid: number | null; value: string | null };
    if (input.kind === 'vm') {
      const vm = await this.resolveVm(input.vmid, input.cluster);
      entry = { kind: 'vm', cluster: vm.cluster, vmid: vm.vmid, value: null };
    } else {
      entry = { kind: input.kind, cluster: input.cluster ?? null, vmid: null, value: input.kind === 'tag' ? input.tag : input.pool };
    }
    const entryId = await this.repo.addPoolEntry(id, entry);
    await this.access.changed({ userIds: [], classIds: [id] });
    await this.log(user, 'class.pool.add', id, `${entry.kind} ${entry.value ?? entry.vmid}`, entry.kind === 'vm' ? { cluster: entry.cluster!, vmid: entry.vmid! } : {});
    return (await this.repo.pool(id)).find((p) => p.id === entryId)!;
  }

  async removePool(user: SessionUser, id: number, entryId: number): Promise<void> {
    await this.manageable(user, id);
    const before = await this.repo.assignments(id);
    if (!(await this.repo.removePoolEntry(id, entryId))) throw notFound(`pool entry ${entryId} does not exist`);
    const after = new Set((await this.repo.assignments(id)).map((a) => vmKey(a.cluster, a.vmid)));
    const lost = before.filter((a) => !after.has(vmKey(a.cluster, a.vmid))).map((a) => a.userId);
    await this.access.changed({ userIds: lost, classIds: [id] });
    await this.log(user, 'class.pool.remove', id, String(entryId));
  }

  /** Assigns a pool VM to an enrolled student (replacing an earlier assignee). */
  async assign(user: SessionUser, id: number, a: { vmid: number; cluster?: string; userId?: number; username?: string }): Promise<AssignmentView[]> {
    await this.manageable(user, id);
    const vm = await this.resolveVm(a.vmid, a.cluster);
    if (!this.access.poolHoldsVm(id, vm.cluster, vm.vmid)) throw conflict(`VM ${vm.id} is not in this class's pool`);
    const members = await this.repo.members(id);
    const student = members.find((m) => (a.userId !== undefined ? m.id === a.userId : m.username === a.username));
    if (!student) throw conflict('that student is not enrolled in this class');
    const prev = await this.repo.assign(id, vm.cluster, vm.vmid, student.id);
    await this.access.changed({ userIds: prev !== null && prev !== student.id ? [student.id, prev] : [student.id], classIds: [id] });
    await this.log(user, 'vm.assign', id, student.username, { cluster: vm.cluster, vmid: vm.vmid });
    return this.repo.assignments(id);
  }

  async unassign(user: SessionUser, id: number, cluster: string, vmid: number): Promise<AssignmentView[]> {
    await this.manageable(user, id);
    const prev = await this.repo.unassign(id, cluster, vmid);
    if (prev === null) throw notFound(`VM ${vmKey(cluster, vmid)} is not assigned in this class`);
    await this.access.changed({ userIds: [prev], classIds: [id] });
    await this.log(user, 'vm.unassign', id, String(prev), { cluster, vmid });
    return this.repo.assignments(id);
  }

  /** Gives each unassigned student one free pool VM (no templates); returns the new pairs. */
  async autoAssign(user: SessionUser, id: number): Promise<Array<{ cluster: string; vmid: number; userId: number }>> {
    await this.manageable(user, id);
    const keys = [...this.access.vmKeysOfClass(id)];
    const vms = keys.length ? await this.inventory.list({ keys }) : [];
    const poolVms = vms.filter((v) => !v.template && !isDeleted(v) && this.access.poolHoldsVm(id, v.cluster, v.vmid))
      .sort((x, y) => x.cluster.localeCompare(y.cluster) || x.vmid - y.vmid);
    const plan = planAutoAssign({ poolVms, students: await this.repo.members(id), assignments: await this.repo.assignments(id) });
    for (const p of plan) await this.repo.assign(id, p.cluster, p.vmid, p.userId);
    if (plan.length) {
      await this.access.changed({ userIds: plan.map((p) => p.userId), classIds: [id] });
      await this.log(user, 'class.auto-assign', id, `${plan.length} assigned`);
    }
    return plan;
  }

  /** Imports a legacy mappings.json into this class; repeating it changes nothing. */
  async importMappings(user: SessionUser, id: number, mappings: Mappings, cluster?: string): Promise<MappingsReport> {
    await this.manageable(user, id);
    const allUsers = await this.users.list();
    const vmids = [...new Set(Object.values(mappings).flat())];
    const clustersOfVmid = new Map<number, string[]>();
    for (const vmid of vmids) {
      clustersOfVmid.set(vmid, (await this.inventory.findByVmid(vmid)).filter((v) => !isDeleted(v)).map((v) => v.cluster));
    }
    const assignments = await this.repo.assignments(id);
    const plan = planMappingsImport(mappings, {
      users: new Map(allUsers.filter((u) => !u.disabled).map((u) => [u.username, u])),
      clustersOfVmid, cluster,
      members: new Set((await this.repo.members(id)).map((m) => m.id)),
      assignments: new Map(assignments.map((a) => [vmKey(a.cluster, a.vmid), a.userId])),
      inPool: (c, v) => this.access.poolHoldsVm(id, c, v),
      usernameOf: (uid) => allUsers.find((u) => u.id === uid)?.username ?? String(uid),
    });
    for (const uid of plan.enrol) await this.repo.addMember(id, uid);
    for (const p of plan.pool) await this.repo.addPoolEntry(id, { kind: 'vm', cluster: p.cluster, vmid: p.vmid, value: null });
    for (const a of plan.assign) await this.repo.assign(id, a.cluster, a.vmid, a.userId);
    if (plan.assign.length || plan.enrol.length) {
      await this.access.changed({ userIds: [...new Set([...plan.enrol, ...plan.assign.map((a) => a.userId)])], classIds: [id] });
    }
    await this.log(user, 'class.import-mappings', id, `${plan.report.assigned.length} assigned, ${plan.report.alreadyAssigned.length} already, `
      + `${plan.report.unknownUsers.length + plan.report.unknownVms.length + plan.report.ambiguous.length + plan.report.takenByOther.length + plan.report.notStudents.length} not matched`);
    return plan.report;
  }

  /** A new projector link (read-only view of the class without a session). */
  async createProjectorLink(user: SessionUser, id: number, ttlHours: number): Promise<{ token: string; path: string; expiresAt: number }> {
    await this.manageable(user, id);
    const link = await this.repo.createLink('projector_links', id, user.id, ttlHours * 3_600_000);
    await this.access.changed({ userIds: [], classIds: [id] });
    await this.log(user, 'class.projector.create', id);
    return { token: link.token, path: `/projector/${link.token}`, expiresAt: link.expiresAt };
  }

  async listProjectorLinks(user: SessionUser, id: number): Promise<LinkView[]> {
    await this.manageable(user, id);
    return this.repo.links('projector_links', id);
  }

  /** Revokes a projector link; its sockets are disconnected by the hub. */
  async revokeProjectorLink(user: SessionUser, id: number, token: string): Promise<void> {
    await this.manageable(user, id);
    const tokenHash = await this.repo.revokeLink('projector_links', id, { token });
    if (!tokenHash) throw notFound('no such projector link for this class');
    await this.access.reload();
    this.access.feed.emit('projector:revoked', { token, tokenHash, classId: id });
    await this.log(user, 'class.projector.revoke', id);
  }

  /** What a projector shows: the class, its students and its VMs. No session; only that class. */
  async projectorView(token: string): Promise<ProjectorView> {
    const link = await this.repo.findLiveLink('projector_links', token);
    if (!link) throw notFound('this projector link is unknown, expired or revoked');
    const c = await this.exists(link.classId);
    const [members, assignments] = await Promise.all([this.repo.members(c.id), this.repo.assignments(c.id)]);
    const revision = await this.inventory.currentRevision();
    const keys = [...this.access.vmKeysOfClass(c.id)];
    const vms = keys.length ? (await this.inventory.list({ keys })).filter((v) => !isDeleted(v)) : [];
    const students = this.withVms(members, assignments).map((m) => ({ id: m.id, displayName: m.displayName, vms: m.vms }));
    return { class: { id: c.id, name: c.name }, students, vms: vms.map(toProjectorVm), revision };
  }

  /** Seeds a class (demo mode): idempotent by owner and name. */
  async ensureClass(owner: SessionUser, name: string): Promise<number> {
    const existing = await this.repo.findOwnedByName(owner.id, name);
    if (existing !== null) return existing;
    return (await this.create(owner, name)).id;
  }
}

/** Tombstones (removed VMs) carry `deleted` when the repository exposes it. */
function isDeleted(vm: Vm): boolean {
  return Boolean((vm as Vm & { deleted?: boolean }).deleted);
}
