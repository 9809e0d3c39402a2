// Class data as the client uses it, and the calls that read and change it. The answers are typed
// with the server's own response types (contract/classes.ts); this module only reshapes them for
// the views (VM keys, students without their VM lists).
import { apiGet, apiPost, apiPatch, apiPut, apiDelete } from './api.js';
import type {
  AutoAssignResponse, ClassDetailResponse, ClassListResponse, ClassSummaryResponse, InviteAcceptResponse, InviteInfoResponse,
  PoolEntryView as WirePoolEntry, ScopeRule,
} from '../../../contract/classes.js';
import { vmKey, type Vm } from '../../../contract/vm.js';

export type { ScopeRule };

export interface Person { id: number; username: string; displayName: string; /** Teachers only: the class's owner. */ owner?: boolean }
export interface Assignment { cluster: string; vmid: number; userId: number; key: string }
/** One row of the class list as the view shows it (reshaped from the contract's ClassSummary). */
export interface ClassListRow { id: number; name: string; students: number; vms: number }
export type PoolEntryView = Omit<WirePoolEntry, 'addedAt'>;
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

/** Reshapes one class detail answer for the views. */
export function toClassDetail({ class: c }: ClassDetailResponse): ClassDetail {
  const assignments = c.assignments.map((a) => ({ cluster: a.cluster, vmid: a.vmid, userId: a.userId, key: vmKey(a.cluster, a.vmid) }));
  return {
    id: c.id,
    name: c.name,
    teachers: c.teachers.map(({ id, username, displayName, owner }) => ({ id, username, displayName, owner })),
    students: c.students.map(({ id, username, displayName }) => ({ id, username, displayName })),
    pool: c.pool.map(({ addedAt: _, ...p }) => p),
    scope: c.scope,
    scopeText: c.scopeText,
    shared: c.shared,
    vmKeys: [...new Set([...c.vms.map((v) => v.id), ...assignments.map((a) => a.key)])],
    assignments,
  };
}

/** Classes the caller teaches (admins: all). */
export async function listClasses(): Promise<ClassListRow[]> {
  const { classes } = await apiGet<ClassListResponse>('/api/classes');
  return classes.map((c) => ({ id: c.id, name: c.name, students: c.studentCount, vms: c.vmCount }));
}

/** Creates a class. */
export async function createClass(name: string): Promise<number> {
  const res = await apiPost<ClassSummaryResponse>('/api/classes', { name });
  return res.class.id;
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
  return toClassDetail(await apiGet<ClassDetailResponse>(`/api/classes/${id}`));
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
  const res = await apiPost<AutoAssignResponse>(`/api/classes/${classId}/auto-assign`);
  return res.assigned.length;
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
  const res = await apiGet<InviteInfoResponse>(`/api/invites/${encodeURIComponent(token)}`);
  return { classId: res.class.id, name: res.class.name, expiresAt: res.expiresAt };
}

/** Accepts an invite (a signed-in student following the link). */
export async function acceptInvite(token: string): Promise<{ classId: number; name: string }> {
  const res = await apiPost<InviteAcceptResponse>(`/api/invites/${encodeURIComponent(token)}/accept`);
  return { classId: res.class.id, name: res.class.name };
}
