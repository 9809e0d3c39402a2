// The one place that decides who may see or act on a VM, a class or a projector link, for HTTP
// routes and socket.io rooms alike. The rules are pure functions over an AccessSnapshot (loaded
// from the database); `Access` keeps the current snapshot and answers synchronously.
import { AccessRepo } from './access-repository.js';
import { ADMIN_ROOM, classRoom, userRoom } from '../../contract/rooms.js';
import type { Db } from '../db/index.js';
import type { Role } from '../db/schema.js';
import type { ChangeFeed } from '../inventory/changes.js';
import { parseVmKey, vmKey } from '../../contract/vm.js';
import type { AccessFeed, AccessChanged } from './access-feed.js';
import { hashToken } from './tokens.js';
import { scopeHoldsVm, type ScopeRule } from './scope.js';

/** The least a permission check needs to know about the caller. */
export interface Principal { id: number; role: Role }

export interface PoolEntry {
  id: number;
  classId: number;
  kind: 'vm' | 'tag' | 'pool';
  cluster: string | null;
  vmid: number | null;
  value: string | null;
  /** Added by an admin (or before scopes existed): holds its VMs whatever the class's scope. */
  approved: boolean;
}

export interface ClassAccess {
  id: number;
  name: string;
  /** Owner and co-teachers. */
  teachers: Set<number>;
  owners: Set<number>;
  members: Set<number>;
  pool: PoolEntry[];
  /** VM key → assigned student. */
  assignments: Map<string, number>;
  /** What the class may draw from (admin-defined); a teacher's pool entries hold only VMs inside it. */
  scope: ScopeRule[];
}

/** Tags and Proxmox pool of a VM: what tag- and pool-based class pools match on. */
export interface VmAttrs { tags: string[]; pool: string | null; template?: boolean }

export interface AccessSnapshot {
  classes: Map<number, ClassAccess>;
  teacherClasses: Map<number, Set<number>>;
  memberClasses: Map<number, Set<number>>;
  /** user → VM keys assigned to them (any class). */
  assignedToUser: Map<number, Set<string>>;
  /** VM key → [classId, userId] assignments. */
  assignmentsOfVm: Map<string, Array<{ classId: number; userId: number }>>;
  /** Indexes of pool entries. */
  poolByVm: Map<string, PoolEntry[]>;
  poolByTag: Map<string, PoolEntry[]>;
  poolByPool: Map<string, PoolEntry[]>;
  /** token hash → class and expiry of live projector links. */
  projectors: Map<string, { classId: number; expiresAt: number }>;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  s.add(value);
}

/** Builds the indexed snapshot from plain rows (pure, for tests and for Access.reload). */
/** The database rows a permission snapshot is built from (read by AccessRepo). */
export interface SnapshotRows {
  classes: Array<{ id: number; name: string }>;
  teachers: Array<{ class_id: number; user_id: number; is_owner: number }>;
  members: Array<{ class_id: number; user_id: number }>;
  pool: Array<{ id: number; class_id: number; kind: 'vm' | 'tag' | 'pool'; cluster_id: string | null; vmid: number | null; value: string | null; approved?: number }>;
  assignments: Array<{ class_id: number; cluster_id: string; vmid: number; user_id: number }>;
  projectors: Array<{ class_id: number; token_hash: string; expires_at: number }>;
  scope?: Array<{ class_id: number; cluster_id: string; kind: string; value: string | null; vmid_min: number | null; vmid_max: number | null }>;
}

export function buildSnapshot(rows: SnapshotRows): AccessSnapshot {
  const snap: AccessSnapshot = {
    classes: new Map(), teacherClasses: new Map(), memberClasses: new Map(), assignedToUser: new Map(),
    assignmentsOfVm: new Map(), poolByVm: new Map(), poolByTag: new Map(), poolByPool: new Map(), projectors: new Map(),
  };
  for (const c of rows.classes) {
    snap.classes.set(c.id, { id: c.id, name: c.name, teachers: new Set(), owners: new Set(), members: new Set(), pool: [], assignments: new Map(), scope: [] });
  }
  for (const r of rows.scope ?? []) {
    const rule = scopeRuleOf(r);
    if (rule) snap.classes.get(r.class_id)?.scope.push(rule);
  }
  for (const t of rows.teachers) {
    const c = snap.classes.get(t.class_id);
    if (!c) continue;
    c.teachers.add(t.user_id);
    if (t.is_owner) c.owners.add(t.user_id);
    addTo(snap.teacherClasses, t.user_id, t.class_id);
  }
  for (const m of rows.members) {
    const c = snap.classes.get(m.class_id);
    if (!c) continue;
    c.members.add(m.user_id);
    addTo(snap.memberClasses, m.user_id, m.class_id);
  }
  for (const p of rows.pool) {
    const c = snap.classes.get(p.class_id);
    if (!c) continue;
    const entry: PoolEntry = { id: p.id, classId: p.class_id, kind: p.kind, cluster: p.cluster_id, vmid: p.vmid, value: p.value, approved: Boolean(p.approved) };
    c.pool.push(entry);
    if (p.kind === 'vm' && p.cluster_id && p.vmid !== null) {
      const key = vmKey(p.cluster_id, p.vmid);
      snap.poolByVm.set(key, [...(snap.poolByVm.get(key) ?? []), entry]);
    } else if (p.value) {
      const index = p.kind === 'tag' ? snap.poolByTag : snap.poolByPool;
      index.set(p.value, [...(index.get(p.value) ?? []), entry]);
    }
  }
  for (const a of rows.assignments) {
    const c = snap.classes.get(a.class_id);
    if (!c) continue;
    const key = vmKey(a.cluster_id, a.vmid);
    c.assignments.set(key, a.user_id);
    addTo(snap.assignedToUser, a.user_id, key);
    snap.assignmentsOfVm.set(key, [...(snap.assignmentsOfVm.get(key) ?? []), { classId: a.class_id, userId: a.user_id }]);
  }
  for (const p of rows.projectors) snap.projectors.set(p.token_hash, { classId: p.class_id, expiresAt: p.expires_at });
  return snap;
}

/** A scope row as a rule (rows of an unknown kind are ignored, never widened). */
export function scopeRuleOf(r: { cluster_id: string; kind: string; value: string | null; vmid_min: number | null; vmid_max: number | null }): ScopeRule | null {
  if (r.kind === 'cluster') return { cluster: r.cluster_id, kind: 'cluster' };
  if (r.kind === 'pool' && r.value) return { cluster: r.cluster_id, kind: 'pool', pool: r.value };
  if (r.kind === 'tag' && r.value) return { cluster: r.cluster_id, kind: 'tag', tag: r.value };
  if (r.kind === 'range' && r.vmid_min !== null && r.vmid_max !== null) return { cluster: r.cluster_id, kind: 'range', min: r.vmid_min, max: r.vmid_max };
  return null;
}

/** Whether one pool entry names the VM (tag and pool entries never name templates). */
export function poolEntryMatches(e: PoolEntry, cluster: string, vmid: number, attrs: VmAttrs | undefined): boolean {
  if (e.cluster === null || e.cluster !== cluster) return false;
  if (e.kind === 'vm') return e.vmid === vmid;
  if (!attrs || !e.value || attrs.template) return false;
  return e.kind === 'tag' ? attrs.tags.includes(e.value) : attrs.pool === e.value;
}

/** Whether the entry brings the VM into its class: it names it, and an admin approved it or the VM is in the class's scope. */
export function poolEntryHolds(snap: AccessSnapshot, e: PoolEntry, cluster: string, vmid: number, attrs: VmAttrs | undefined): boolean {
  if (!poolEntryMatches(e, cluster, vmid, attrs)) return false;
  if (e.approved) return true;
  const c = snap.classes.get(e.classId);
  return c !== undefined && scopeHoldsVm(c.scope, cluster, vmid, attrs);
}

/** Classes whose pool holds the VM (by id, tag or Proxmox pool). */
export function poolClassesOfVm(snap: AccessSnapshot, cluster: string, vmid: number, attrs: VmAttrs | undefined): Set<number> {
  const out = new Set<number>();
  for (const e of snap.poolByVm.get(vmKey(cluster, vmid)) ?? []) if (poolEntryHolds(snap, e, cluster, vmid, attrs)) out.add(e.classId);
  if (attrs) {
    for (const tag of attrs.tags) for (const e of snap.poolByTag.get(tag) ?? []) if (poolEntryHolds(snap, e, cluster, vmid, attrs)) out.add(e.classId);
    if (attrs.pool) for (const e of snap.poolByPool.get(attrs.pool) ?? []) if (poolEntryHolds(snap, e, cluster, vmid, attrs)) out.add(e.classId);
  }
  return out;
}

/** Classes that hold the VM: in their pool, or assigned within them. */
export function classesOfVm(snap: AccessSnapshot, cluster: string, vmid: number, attrs: VmAttrs | undefined): Set<number> {
  const out = poolClassesOfVm(snap, cluster, vmid, attrs);
  for (const a of snap.assignmentsOfVm.get(vmKey(cluster, vmid)) ?? []) out.add(a.classId);
  return out;
}

/** May the user see this VM? Admin: all; teacher: VMs of classes they (co-)own; student: assigned VMs. */
export function canSeeVmIn(snap: AccessSnapshot, attrs: VmAttrs | undefined, user: Principal, cluster: string, vmid: number): boolean {
  if (user.role === 'admin') return true;
  if (snap.assignedToUser.get(user.id)?.has(vmKey(cluster, vmid))) return true;
  if (user.role !== 'teacher') return false;
  const mine = snap.teacherClasses.get(user.id);
  if (!mine) return false;
  for (const c of classesOfVm(snap, cluster, vmid, attrs)) if (mine.has(c)) return true;
  return false;
}

/** The VM keys the user may see, or 'all' for admins. */
export function visibleVmKeysIn(snap: AccessSnapshot, attrsOf: ReadonlyMap<string, VmAttrs>, user: Principal): Set<string> | 'all' {
  if (user.role === 'admin') return 'all';
  const out = new Set(snap.assignedToUser.get(user.id) ?? []);
  if (user.role !== 'teacher') return out;
  for (const classId of snap.teacherClasses.get(user.id) ?? []) for (const key of vmKeysOfClassIn(snap, attrsOf, classId)) out.add(key);
  return out;
}

/** Every VM key a class holds (pool entries resolved against known VMs, plus assignments). */
export function vmKeysOfClassIn(snap: AccessSnapshot, attrsOf: ReadonlyMap<string, VmAttrs>, classId: number): Set<string> {
  const c = snap.classes.get(classId);
  const out = new Set<string>();
  if (!c) return out;
  for (const key of c.assignments.keys()) out.add(key);
  const byAttr = c.pool.filter((e) => e.kind !== 'vm' && e.cluster !== null);
  for (const e of c.pool) {
    if (e.kind !== 'vm' || !e.cluster || e.vmid === null) continue;
    const key = vmKey(e.cluster, e.vmid);
    if (poolEntryHolds(snap, e, e.cluster, e.vmid, attrsOf.get(key))) out.add(key);
  }
  if (byAttr.length) {
    for (const [key, attrs] of attrsOf) {
      const vm = parseVmKey(key);
      if (vm && byAttr.some((e) => poolEntryHolds(snap, e, vm.cluster, vm.vmid, attrs))) out.add(key);
    }
  }
  return out;
}

/** Rooms a user's sockets join: `user:<id>`, `class:<id>` per class taught, and `admin`. */
export function roomsForUserIn(snap: AccessSnapshot, user: Principal): string[] {
  const rooms = [userRoom(user.id)];
  if (user.role === 'admin') rooms.push(ADMIN_ROOM);
  if (user.role === 'teacher' || user.role === 'admin') for (const c of snap.teacherClasses.get(user.id) ?? []) rooms.push(classRoom(c));
  return rooms;
}

/** Every room that may see the VM: `admin`, `class:<id>` of classes holding it, `user:<id>` of its students. */
export function roomsForVmIn(snap: AccessSnapshot, attrs: VmAttrs | undefined, cluster: string, vmid: number): string[] {
  const rooms = [ADMIN_ROOM];
  for (const c of classesOfVm(snap, cluster, vmid, attrs)) rooms.push(classRoom(c));
  const users = new Set((snap.assignmentsOfVm.get(vmKey(cluster, vmid)) ?? []).map((a) => a.userId));
  for (const u of users) rooms.push(userRoom(u));
  return rooms;
}

/** May the user see the class (teachers of it, its students, admins)? */
export function canSeeClassIn(snap: AccessSnapshot, user: Principal, classId: number): boolean {
  const c = snap.classes.get(classId);
  if (!c) return false;
  return user.role === 'admin' || c.teachers.has(user.id) || c.members.has(user.id);
}

/** May the user change the class (its teachers, admins)? */
export function canManageClassIn(snap: AccessSnapshot, user: Principal, classId: number): boolean {
  const c = snap.classes.get(classId);
  if (!c) return false;
  return user.role === 'admin' || (user.role === 'teacher' && c.teachers.has(user.id));
}

/** The current snapshot plus the VM tag/pool cache, kept in step with the database and the change feed. */
export class Access {
  private snap: AccessSnapshot = buildSnapshot({ classes: [], teachers: [], members: [], pool: [], assignments: [], projectors: [] });
  private readonly attrs = new Map<string, VmAttrs>();

  private readonly repo: AccessRepo;

  constructor(db: Db, readonly feed: AccessFeed, changes?: ChangeFeed) {
    this.repo = new AccessRepo(db);
    // Registered before the realtime hub attaches, so rooms are computed from fresh tags.
    changes?.on('vm:changed', ({ vms }) => {
      for (const vm of vms) this.attrs.set(vm.id, { tags: vm.tags, pool: vm.pool, template: vm.template });
    });
  }

  private attrsLoaded = false;
  private started = 0;
  private applied = 0;

  /**
   * Reloads classes, pools, assignments and links from the database. VM tags and pools are read
   * once; after that the change feed keeps them current (a reload per class change stays cheap).
   */
  async reload(): Promise<void> {
    // Reloads can overlap (two teachers at once); one that started earlier must not win.
    const mine = ++this.started;
    const [rows, vms] = await Promise.all([this.repo.snapshotRows(Date.now()), this.attrsLoaded ? Promise.resolve([]) : this.repo.vmAttrs()]);
    this.attrsLoaded = true;
    for (const v of vms) this.attrs.set(vmKey(v.cluster, v.vmid), { tags: v.tags, pool: v.pool, template: v.template });
    if (mine < this.applied) return;
    this.applied = mine;
    this.snap = buildSnapshot(rows);
  }

  /** Reloads, then announces the change (the hub recomputes rooms of those users and classes). */
  async changed(change: AccessChanged): Promise<void> {
    await this.reload();
    this.feed.emit('access:changed', change);
  }

  /** The current snapshot (read-only use). */
  snapshot(): AccessSnapshot { return this.snap; }

  /** Known tags/pool of a VM. */
  attrsOf(cluster: string, vmid: number): VmAttrs | undefined { return this.attrs.get(vmKey(cluster, vmid)); }

  canSeeVm(user: Principal, cluster: string, vmid: number): boolean {
    return canSeeVmIn(this.snap, this.attrsOf(cluster, vmid), user, cluster, vmid);
  }

  /** Acting needs the same right as seeing: a VM you may see is one you may power. */
  canActOnVm(user: Principal, cluster: string, vmid: number): boolean {
    return this.canSeeVm(user, cluster, vmid);
  }

  visibleVmKeys(user: Principal): Set<string> | 'all' {
    return visibleVmKeysIn(this.snap, this.attrs, user);
  }

  /** VM keys a class holds. */
  vmKeysOfClass(classId: number): Set<string> {
    return vmKeysOfClassIn(this.snap, this.attrs, classId);
  }

  /** Whether the class pool holds the VM (assignments aside). */
  poolHoldsVm(classId: number, cluster: string, vmid: number): boolean {
    return poolClassesOfVm(this.snap, cluster, vmid, this.attrsOf(cluster, vmid)).has(classId);
  }

  /** Classes whose pool holds the VM (assignments aside). */
  poolClassesOf(cluster: string, vmid: number): Set<number> {
    return poolClassesOfVm(this.snap, cluster, vmid, this.attrsOf(cluster, vmid));
  }

  /** The admin-defined scope of a class (empty when it has none or does not exist). */
  scopeOf(classId: number): ScopeRule[] {
    return this.snap.classes.get(classId)?.scope ?? [];
  }

  /** Keys of known VMs a pool entry would name (before any scope or approval is applied). */
  vmKeysNamedBy(e: Omit<PoolEntry, 'id' | 'classId' | 'approved'>): string[] {
    const probe: PoolEntry = { ...e, id: 0, classId: 0, approved: true };
    const out: string[] = [];
    for (const [key, attrs] of this.attrs) {
      const vm = parseVmKey(key);
      if (vm && poolEntryMatches(probe, vm.cluster, vm.vmid, attrs)) out.push(key);
    }
    return out;
  }

  roomsForUser(user: Principal): string[] { return roomsForUserIn(this.snap, user); }

  roomsForVm(cluster: string, vmid: number): string[] {
    return roomsForVmIn(this.snap, this.attrsOf(cluster, vmid), cluster, vmid);
  }

  /** The class a live projector token opens, or null. */
  projectorClass(token: string): number | null {
    const p = this.snap.projectors.get(hashToken(token));
    return p && p.expiresAt > Date.now() && this.snap.classes.has(p.classId) ? p.classId : null;
  }

  /** Rooms of a projector socket: only its class's room; none for a bad, expired or revoked token. */
  roomsForProjector(token: string): string[] {
    const classId = this.projectorClass(token);
    return classId === null ? [] : [classRoom(classId)];
  }

  canSeeClass(user: Principal, classId: number): boolean { return canSeeClassIn(this.snap, user, classId); }
  canManageClass(user: Principal, classId: number): boolean { return canManageClassIn(this.snap, user, classId); }

  /**
   * The class an action on a VM belongs to, for the audit log: the class the student has it
   * assigned in, else a class the user teaches that holds it, else (admins) any class holding it;
   * the lowest id when several fit. Null when no class holds the VM.
   */
  actionClass(user: Principal, cluster: string, vmid: number): number | null {
    const holding = [...classesOfVm(this.snap, cluster, vmid, this.attrsOf(cluster, vmid))].sort((a, b) => a - b);
    const assigned = (this.snap.assignmentsOfVm.get(vmKey(cluster, vmid)) ?? []).filter((a) => a.userId === user.id).map((a) => a.classId).sort((a, b) => a - b);
    if (assigned.length) return assigned[0];
    const taught = this.snap.teacherClasses.get(user.id);
    const mine = holding.find((c) => taught?.has(c));
    if (mine !== undefined) return mine;
    return user.role === 'admin' ? holding[0] ?? null : null;
  }

  /** Classes the user teaches (admins: all). */
  classIdsFor(user: Principal): number[] {
    if (user.role === 'admin') return [...this.snap.classes.keys()];
    const ids = new Set([...(this.snap.teacherClasses.get(user.id) ?? []), ...(this.snap.memberClasses.get(user.id) ?? [])]);
    return [...ids];
  }
}
