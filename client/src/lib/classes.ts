// Class data as the client uses it, and the calls that read and change it. Server answers are
// normalised here, in one place, so views never depend on the exact wire shape.
import { apiGet, apiPost, apiPatch, apiPut, apiDelete } from './api.js';
import type { ScopeRule } from '../../../server/classes/scope.js';

export type { ScopeRule };
import type { Vm } from '../../../contract/vm.js';

export interface Person { id: number; username: string; displayName: string; /** Teachers only: the class's owner. */ owner?: boolean }
export interface Assignment { cluster: string; vmid: number; userId: number; key: string }
export interface ClassSummary { id: number; name: string; students: number; vms: number }
export interface PoolEntryView { id: number; kind: 'vm' | 'tag' | 'pool'; cluster: string | null; vmid: number | null; value: string | null; /** An admin added it. */ approved: boolean }
export interface ClassDetail {
  id: number;
  name: string;
  teachers: Person[];
  students: Person[];
  pool: PoolEntryView[];
  /** Keys of every VM the class holds (pool resolved, plus assignments). */
  vmKeys: string[];
  assignments: Assignment[];
  /** What an admin lets the class draw from, and the same in words. */
  scope: ScopeRule[];
  scopeText: string;
  /** VMs other classes hold too (shared by an admin). */
  shared: Array<{ vm: string; classes: Array<{ id: number; name: string }> }>;
}

type Raw = Record<string, any>;

function person(p: Raw): Person {
  return { id: Number(p.id ?? p.userId), username: String(p.username ?? ''), displayName: String(p.displayName ?? p.display_name ?? p.username ?? ''), ...(p.owner !== undefined ? { owner: Boolean(p.owner) } : {}) };
}

function assignment(a: Raw): Assignment {
  const cluster = String(a.cluster ?? a.clusterId ?? a.cluster_id);
  const vmid = Number(a.vmid);
  return { cluster, vmid, userId: Number(a.userId ?? a.user_id ?? a.user?.id), key: `${cluster}:${vmid}` };
}

/** Normalises one class detail answer. */
export function toClassDetail(res: Raw): ClassDetail {
  const c: Raw = res.class ?? res;
  const assignments = ((res.assignments ?? c.assignments ?? []) as Raw[]).map(assignment);
  const vmKeys = (res.vmKeys ?? c.vmKeys ?? (res.vms ?? c.vms ?? []).map((v: Raw | string) => (typeof v === 'string' ? v : v.id ?? `${v.cluster}:${v.vmid}`))) as string[];
  return {
    id: Number(c.id),
    name: String(c.name),
    teachers: ((res.teachers ?? c.teachers ?? []) as Raw[]).map(person),
    students: ((res.students ?? c.students ?? res.members ?? c.members ?? []) as Raw[]).map(person),
    pool: ((res.pool ?? c.pool ?? []) as Raw[]).map((p) => ({ id: Number(p.id), kind: p.kind, cluster: p.cluster ?? p.clusterId ?? null, vmid: p.vmid ?? null, value: p.value ?? null, approved: Boolean(p.approved) })),
    scope: (c.scope ?? []) as ScopeRule[],
    scopeText: String(c.scopeText ?? ''),
    shared: (c.shared ?? []) as ClassDetail['shared'],
    vmKeys: [...new Set([...vmKeys, ...assignments.map((a) => a.key)])],
    assignments,
  };
}

/** Classes the caller teaches (admins: all). */
export async function listClasses(): Promise<ClassSummary[]> {
  const res = await apiGet<Raw>('/api/classes');
  const list = (Array.isArray(res) ? res : res.classes ?? []) as Raw[];
  return list.map((c) => ({
    id: Number(c.id), name: String(c.name),
    students: Number(c.students?.length ?? c.studentCount ?? c.memberCount ?? 0),
    vms: Number(c.vms?.length ?? c.vmCount ?? c.poolCount ?? 0),
  }));
}

/** Creates a class. */
export async function createClass(name: string): Promise<number> {
  const res = await apiPost<Raw>('/api/classes', { name });
  return Number(res.class?.id ?? res.id);
}

/** Renames a class. */
export async function renameClass(classId: number, name: string): Promise<void> {
  await apiPatch(`/api/classes/${classId}`, { name });
}

/** Replaces a class's scope (admins); VMs that leave it leave the class at once. */
export async function setClassScope(classId: number, rules: ScopeRule[]): Promise<void> {
  await apiPut(`/api/classes/${classId}/scope`, { rules });
}

/** Deletes a class (its students lose its VMs). */
export async function deleteClass(classId: number): Promise<void> {
  await apiDelete(`/api/classes/${classId}`);
}

/** Adds a co-teacher by username. */
export async function addTeacher(classId: number, username: string): Promise<void> {
  await apiPost(`/api/classes/${classId}/teachers`, { username });
}

/** Removes a co-teacher. */
export async function removeTeacher(classId: number, userId: number): Promise<void> {
  await apiDelete(`/api/classes/${classId}/teachers/${userId}`);
}

/** Enrols a student by username (without an invite link). */
export async function addStudent(classId: number, username: string): Promise<void> {
  await apiPost(`/api/classes/${classId}/students`, { username });
}

/** Takes a student out of the class (and their assignments in it). */
export async function removeStudent(classId: number, userId: number): Promise<void> {
  await apiDelete(`/api/classes/${classId}/students/${userId}`);
}

/** One class with roster, pool and assignments. */
export async function getClass(id: number | string): Promise<ClassDetail> {
  return toClassDetail(await apiGet<Raw>(`/api/classes/${id}`));
}

/** Assigns a pool VM to a student. */
export async function assign(classId: number, vm: Pick<Vm, 'cluster' | 'vmid'>, userId: number): Promise<void> {
  await apiPost(`/api/classes/${classId}/assignments`, { cluster: vm.cluster, vmid: vm.vmid, userId });
}

/** Removes a VM's assignment. */
export async function unassign(classId: number, vm: Pick<Vm, 'cluster' | 'vmid'>): Promise<void> {
  await apiDelete(`/api/classes/${classId}/assignments/${encodeURIComponent(vm.cluster)}/${vm.vmid}`);
}

/** Gives each unassigned student a free pool VM; answers how many were assigned. */
export async function autoAssign(classId: number): Promise<number> {
  const res = await apiPost<Raw>(`/api/classes/${classId}/auto-assign`);
  return Number(res.assigned?.length ?? res.assigned ?? res.count ?? 0);
}

/** Adds VMs to the pool by id, tag or Proxmox pool. */
export async function addToPool(classId: number, entry: { kind: 'vm' | 'tag' | 'pool'; cluster?: string; vmid?: number; value?: string }): Promise<void> {
  const cluster = entry.cluster ? { cluster: entry.cluster } : {};
  const body = entry.kind === 'vm' ? { vmid: entry.vmid, ...cluster } : entry.kind === 'tag' ? { tag: entry.value, ...cluster } : { pool: entry.value, ...cluster };
  await apiPost(`/api/classes/${classId}/pool`, body);
}

/** Removes one pool entry. */
export async function removeFromPool(classId: number, entryId: number): Promise<void> {
  await apiDelete(`/api/classes/${classId}/pool/${entryId}`);
}

/** What an invite link opens (class name, expiry). */
export async function inviteInfo(token: string): Promise<{ classId: number; name: string; expiresAt: number }> {
  const res = await apiGet<Raw>(`/api/invites/${encodeURIComponent(token)}`);
  return { classId: Number(res.class?.id), name: String(res.class?.name ?? ''), expiresAt: Number(res.expiresAt) };
}

/** Accepts an invite (a signed-in student following the link). */
export async function acceptInvite(token: string): Promise<{ classId: number; name: string }> {
  const res = await apiPost<Raw>(`/api/invites/${encodeURIComponent(token)}/accept`);
  return { classId: Number(res.class?.id ?? res.classId), name: String(res.class?.name ?? res.name ?? '') };
}
