// The rules of classes: who may create, change and read them; enrolment by invite; the VM pool;
// assignments (by hand, automatic, from mappings.json); projector links. Every change is audited
// and announced through Access (the realtime hub recomputes rooms from it).
import type { Vm } from '../../contract/vm.js';
import type { ClassDetail, ProjectorView } from '../../contract/classes.js';
import { parseVmKey, vmKey } from '../../contract/vm.js';
import type { Access } from '../auth/permissions.js';
import type { AuditLog } from '../auth/audit-log.js';
import type { SessionUser } from '../auth/session.js';
import type { UsersRepo } from '../auth/users.js';
import { badRequest, conflict, forbidden, notFound } from '../../contract/errors.js';
import type { ClassesRepo, ClassSummary, PoolEntryView, AssignmentView, ClassPerson, LinkView } from './repository.js';
import type { InventoryReader } from '../inventory/reader.js';
import { onlyMatch, vmsMatching } from '../inventory/resolve.js';
import { planAutoAssign } from './auto-assign.js';
import { planMappingsImport, type Mappings, type MappingsReport } from './mappings-import.js';
import { toProjectorVm, type ProjectorStudent, type ProjectorVm } from './projector-vm.js';
import { decideScope, describeRule, describeScope, type ScopeDecision, type ScopeRule, type ScopeTarget } from '../auth/scope.js';

export type { ClassDetail, ProjectorView } from '../../contract/classes.js';

/** Most VM ids one mappings.json import may list (a bigger file is split by the admin). */
export const MAX_IMPORT_VMIDS = 5000;
/** Most usernames in one import. */
export const MAX_IMPORT_USERS = 2000;

export type PoolInput =
  | { kind: 'vm'; vmid: number; cluster?: string }
  | { kind: 'tag'; tag: string; cluster: string }
  | { kind: 'pool'; pool: string; cluster: string };

export class ClassesService {
  constructor(
    private readonly repo: ClassesRepo,
    private readonly users: UsersRepo,
    private readonly access: Access,
    private readonly audit: AuditLog,
    private readonly inventory: InventoryReader,
    /** Ids of the configured clusters (a scope rule must name one). */
    private readonly clusterIds: () => string[] = () => [],
  ) {}

  /**
   * Whether the class's scope lets it take the target (a VM, a tag, a pool; a template only with
   * `use: 'clone-source'`). Pure decision over the current scope; no side effects.
   */
  checkScope(classId: number, target: ScopeTarget): ScopeDecision {
    return decideScope(this.access.scopeOf(classId), target);
  }

  /** Throws 403 (with what the scope allows) unless the class's scope lets it take the target. */
  requireScope(classId: number, target: ScopeTarget): void {
    const d = this.checkScope(classId, target);
    if (!d.allowed) throw forbidden(d.reason);
  }

  /** The scope of a class (its teachers and admins may read it). */
  async scope(user: SessionUser, id: number): Promise<{ scope: ScopeRule[]; scopeText: string }> {
    await this.manageable(user, id);
    const scope = this.access.scopeOf(id);
    return { scope, scopeText: describeScope(scope) };
  }

  /** Replaces the scope of a class (admins only); VMs that leave it leave the class's sockets at once. */
  async setScope(user: SessionUser, id: number, rules: ScopeRule[]): Promise<{ scope: ScopeRule[]; scopeText: string }> {
    await this.exists(id);
    this.must(user.role === 'admin', 'only an admin decides what a class may draw from');
    const known = new Set(this.clusterIds());
    rules.forEach((r, i) => {
      if (known.size && !known.has(r.cluster)) throw badRequest(`cluster ${r.cluster} is not configured (known: ${[...known].join(', ')})`, `rules[${i}].cluster`);
      if (r.kind === 'range' && r.min > r.max) throw badRequest('min must not be above max', `rules[${i}].min`);
    });
    const c = await this.repo.get(id);
    await this.repo.setScope(id, rules, user.id);
    await this.access.changed({ userIds: [...(c?.teachers.map((t) => t.id) ?? []), ...(await this.repo.members(id)).map((m) => m.id)], classIds: [id] });
    await this.log(user, 'class.scope.set', id, rules.length ? rules.map(describeRule).join('; ') : 'none');
    return this.scope(user, id);
  }

  /** Other classes whose pool holds the VM (by name, for a 409 that says who has it). */
  private otherHolders(id: number, cluster: string, vmid: number): Array<{ id: number; name: string }> {
    const snap = this.access.snapshot();
    return [...this.access.poolClassesOf(cluster, vmid)].filter((c) => c !== id)
      .map((c) => ({ id: c, name: snap.classes.get(c)?.name ?? String(c) }));
  }

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
    const shared = vms.map((vm) => ({ vm: vm.id, classes: this.otherHolders(id, vm.cluster, vm.vmid) })).filter((x) => x.classes.length > 0);
    const scope = this.access.scopeOf(id);
    return { ...c, students: this.withVms(members, assignments), pool, assignments, vms, scope, scopeText: describeScope(scope), shared };
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
  async createInvite(user: SessionUser, id: number, ttlHours: number, maxUses: number | null = null): Promise<{ id: number; token: string; path: string; expiresAt: number; maxUses: number | null }> {
    await this.manageable(user, id);
    const link = await this.repo.createLink('invites', id, user.id, ttlHours * 3_600_000, maxUses);
    await this.log(user, 'class.invite.create', id, `expires ${new Date(link.expiresAt).toISOString()}${maxUses ? `, ${maxUses} uses` : ''}`);
    return { ...link, maxUses, path: `/invite/${link.token}` };
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
    if (!link || link.usedUp) throw notFound('this invite link is unknown, expired, used up or revoked');
    const c = await this.exists(link.classId);
    return { class: { id: c.id, name: c.name }, expiresAt: link.expiresAt };
  }

  /** Enrols the signed-in student in the invite's class. */
  async acceptInvite(user: SessionUser, token: string): Promise<{ class: { id: number; name: string }; enrolled: boolean }> {
    const link = await this.repo.findLiveLink('invites', token);
    if (!link || link.usedUp) throw notFound('this invite link is unknown, expired, used up or revoked');
    this.must(user.role === 'student', 'only students enrol through invite links');
    const c = await this.exists(link.classId);
    const removed = await this.repo.removedAt(c.id, user.id);
    // A removal sticks: only an invitation made after it, or a teacher adding them, brings the student back.
    if (removed !== null && link.createdAt <= removed) {
      throw forbidden('a teacher removed you from this class; ask them for a new invitation');
    }
    if ((await this.repo.members(c.id)).some((m) => m.id === user.id)) return { class: { id: c.id, name: c.name }, enrolled: false };
    if (!(await this.repo.countUse('invites', link.id))) throw notFound('this invite link is unknown, expired, used up or revoked');
    const enrolled = await this.repo.addMember(c.id, user.id);
    if (!enrolled) await this.repo.uncountUse(link.id);
    if (enrolled) {
      await this.repo.clearRemoval(c.id, user.id);
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
    await this.repo.clearRemoval(id, s.id);
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

  /**
   * resolveVm for a class's teacher: only VMs they already see or the class's scope holds count,
   * so a VM outside both answers exactly like one that does not exist (no probing which
   * cluster/vmid pairs exist); admins resolve everything.
   */
  private async resolveForClass(user: SessionUser, classId: number, vmid: number, cluster?: string): Promise<Vm> {
    if (user.role === 'admin') return this.resolveVm(vmid, cluster);
    const scope = this.access.scopeOf(classId);
    const usable = (await vmsMatching(this.inventory, vmid, cluster)).filter((v) => this.access.canSeeVm(user, v.cluster, v.vmid)
      || decideScope(scope, { cluster: v.cluster, vmid: v.vmid, tags: v.tags, pool: v.pool }).allowed);
    const vm = onlyMatch(usable, vmid);
    if (!vm) throw forbidden(`VM ${cluster ? `${cluster}:` : ''}${vmid} is not available to this class; ${describeScope(scope)}`);
    return vm;
  }

  /** One VM by vmid (and cluster when given or ambiguous). */
  async resolveVm(vmid: number, cluster?: string): Promise<Vm> {
    const vm = onlyMatch(await vmsMatching(this.inventory, vmid, cluster), vmid);
    if (!vm) throw notFound(cluster ? `VM ${vmid} does not exist on cluster ${cluster}` : `VM ${vmid} does not exist`);
    return vm;
  }

  /**
   * Adds VMs to the pool: one VM, or every VM with a Proxmox tag or in a Proxmox pool of one
   * cluster. A teacher stays inside the class's scope (403 says what it allows) and cannot take a
   * VM another class holds (409 names it); an admin's entry is approved and may share a VM.
   */
  async addPool(user: SessionUser, id: number, input: PoolInput): Promise<PoolEntryView> {
    await this.manageable(user, id);
    const admin = user.role === 'admin';
    let entry: { kind: 'vm' | 'tag' | 'pool'; cluster: string; vmid: number | null; value: string | null; approved: boolean };
    if (input.kind === 'vm') {
      const vm = await this.resolveForClass(user, id, input.vmid, input.cluster);
      if (!admin) this.requireScope(id, { cluster: vm.cluster, vmid: vm.vmid, tags: vm.tags, pool: vm.pool, template: vm.template });
      entry = { kind: 'vm', cluster: vm.cluster, vmid: vm.vmid, value: null, approved: admin };
    } else {
      const value = input.kind === 'tag' ? input.tag : input.pool;
      if (!admin) this.requireScope(id, input.kind === 'tag' ? { cluster: input.cluster, tag: value } : { cluster: input.cluster, pool: value });
      entry = { kind: input.kind, cluster: input.cluster, vmid: null, value, approved: admin };
    }
    if (!admin) {
      const named = entry.kind === 'vm' ? [vmKey(entry.cluster, entry.vmid!)] : this.access.vmKeysNamedBy(entry);
      const holders = new Map<number, { name: string; vms: string[] }>();
      for (const key of named) {
        const { cluster, vmid } = parseVmKey(key)!;
        for (const h of this.otherHolders(id, cluster, vmid)) {
          const x = holders.get(h.id) ?? { name: h.name, vms: [] };
          x.vms.push(key);
          holders.set(h.id, x);
        }
      }
      if (holders.size) {
        const list = [...holders.values()];
        const first = list[0];
        throw conflict(`${first.vms.length === 1 ? `VM ${first.vms[0]} is` : `${first.vms.length} of these VMs are`} held by class "${first.name}"`
          + `${list.length > 1 ? ` (and ${list.length - 1} more class${list.length > 2 ? 'es' : ''})` : ''}; sharing a VM between classes is an admin's decision`);
      }
    }
    const entryId = await this.repo.addPoolEntry(id, entry);
    await this.access.changed({ userIds: [], classIds: [id] });
    await this.log(user, 'class.pool.add', id, `${entry.kind} ${entry.value ?? entry.vmid} on ${entry.cluster}${entry.approved ? ' (admin)' : ''}`,
      entry.kind === 'vm' ? { cluster: entry.cluster, vmid: entry.vmid! } : {});
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
    const vm = await this.resolveForClass(user, id, a.vmid, a.cluster);
    if (vm.template) throw conflict(`VM ${vm.id} is a template; templates are cloned from, never handed out`);
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
    const poolVms = vms.filter((v) => !v.template && this.access.poolHoldsVm(id, v.cluster, v.vmid))
      .sort((x, y) => x.cluster.localeCompare(y.cluster) || x.vmid - y.vmid);
    const plan = planAutoAssign({ poolVms, students: await this.repo.members(id), assignments: await this.repo.assignments(id) });
    for (const p of plan) await this.repo.assign(id, p.cluster, p.vmid, p.userId);
    if (plan.length) {
      await this.access.changed({ userIds: plan.map((p) => p.userId), classIds: [id] });
      await this.log(user, 'class.auto-assign', id, `${plan.length} assigned`);
    }
    return plan;
  }

  /**
   * Imports a legacy mappings.json into this class; repeating it changes nothing. Bounded: at most
   * MAX_IMPORT_USERS names and MAX_IMPORT_VMIDS vmids, looked up in a few queries for all keys; a
   * teacher's import takes only VMs inside the class's scope that no other class holds.
   */
  async importMappings(user: SessionUser, id: number, mappings: Mappings, cluster?: string): Promise<MappingsReport> {
    await this.manageable(user, id);
    const names = Object.keys(mappings);
    if (names.length > MAX_IMPORT_USERS) throw badRequest(`the file names ${names.length} users; at most ${MAX_IMPORT_USERS} per import (split the file)`, 'body');
    const listed = Object.values(mappings).reduce((n, l) => n + l.length, 0);
    if (listed > MAX_IMPORT_VMIDS) throw badRequest(`the file lists ${listed} VM ids; at most ${MAX_IMPORT_VMIDS} per import (split the file)`, 'body');
    const found = await this.users.listByUsernames(names);
    const vmids = [...new Set(Object.values(mappings).flat())];
    const vms = await this.inventory.findByVmids(vmids);
    const clustersOfVmid = new Map<number, string[]>();
    const byKey = new Map<string, Vm>();
    for (const v of vms) {
      clustersOfVmid.set(v.vmid, [...(clustersOfVmid.get(v.vmid) ?? []), v.cluster]);
      byKey.set(v.id, v);
    }
    const scope = this.access.scopeOf(id);
    const refusal = (c: string, vmid: number): string | null => {
      const vm = byKey.get(vmKey(c, vmid));
      if (vm?.template) return 'a template';
      if (user.role === 'admin') return null;
      const d = decideScope(scope, { cluster: c, vmid, tags: vm?.tags ?? [], pool: vm?.pool ?? null });
      if (!d.allowed) return 'outside this class\'s scope';
      const held = this.otherHolders(id, c, vmid);
      return held.length ? `held by class "${held[0].name}"` : null;
    };
    const assignments = await this.repo.assignments(id);
    const members = await this.repo.members(id);
    const nameOf = new Map([...found.map((u) => [u.id, u.username] as const), ...members.map((m) => [m.id, m.username] as const)]);
    const plan = planMappingsImport(mappings, {
      users: new Map(found.filter((u) => !u.disabled).map((u) => [u.username, u])),
      clustersOfVmid, cluster,
      members: new Set(members.map((m) => m.id)),
      assignments: new Map(assignments.map((a) => [vmKey(a.cluster, a.vmid), a.userId])),
      inPool: (c, v) => this.access.poolHoldsVm(id, c, v),
      refusal,
      usernameOf: (uid) => nameOf.get(uid) ?? String(uid),
    });
    for (const uid of plan.enrol) await this.repo.addMember(id, uid);
    for (const p of plan.pool) await this.repo.addPoolEntry(id, { kind: 'vm', cluster: p.cluster, vmid: p.vmid, value: null, approved: user.role === 'admin' });
    for (const a of plan.assign) await this.repo.assign(id, a.cluster, a.vmid, a.userId);
    if (plan.assign.length || plan.enrol.length || plan.pool.length) {
      await this.access.changed({ userIds: [...new Set([...plan.enrol, ...plan.assign.map((a) => a.userId)])], classIds: [id] });
    }
    const r = plan.report;
    await this.log(user, 'class.import-mappings', id, `${r.assigned.length} assigned, ${r.alreadyAssigned.length} already, `
      + `${r.unknownUsers.length + r.unknownVms.length + r.ambiguous.length + r.takenByOther.length + r.notStudents.length + r.refused.length} not matched`);
    return r;
  }

  /** A new projector link (read-only view of the class without a session). */
  async createProjectorLink(user: SessionUser, id: number, ttlHours: number): Promise<{ id: number; token: string; path: string; expiresAt: number }> {
    await this.manageable(user, id);
    const link = await this.repo.createLink('projector_links', id, user.id, ttlHours * 3_600_000);
    await this.access.changed({ userIds: [], classIds: [id] });
    await this.log(user, 'class.projector.create', id);
    return { id: link.id, token: link.token, path: `/projector/${link.token}`, expiresAt: link.expiresAt };
  }

  async listProjectorLinks(user: SessionUser, id: number): Promise<LinkView[]> {
    await this.manageable(user, id);
    return this.repo.links('projector_links', id);
  }

  /** Revokes a projector link (by its id or token); its sockets are disconnected by the hub. */
  async revokeProjectorLink(user: SessionUser, id: number, link: { id: number } | { token: string }): Promise<void> {
    await this.manageable(user, id);
    const tokenHash = await this.repo.revokeLink('projector_links', id, link);
    if (!tokenHash) throw notFound('no such projector link for this class');
    await this.access.reload();
    this.access.feed.emit('projector:revoked', { ...('token' in link ? { token: link.token } : {}), tokenHash, classId: id });
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
    const vms = keys.length ? await this.inventory.list({ keys }) : [];
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
