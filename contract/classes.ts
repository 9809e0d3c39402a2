// Classes on the wire: what the class routes answer and the projector shows. The server builds
// these shapes (its routes `satisfies` the response types) and the client reads them as they are,
// so neither side guesses the other's spelling.
import type { Vm } from './vm.js';

/** What an admin lets a class draw its VMs from: one rule per cluster, pool, tag or vmid range. */
export type ScopeRule =
  | { cluster: string; kind: 'cluster' }
  | { cluster: string; kind: 'pool'; pool: string }
  | { cluster: string; kind: 'tag'; tag: string }
  | { cluster: string; kind: 'range'; min: number; max: number };

export interface ClassPerson { id: number; username: string; displayName: string }
export interface ClassTeacher extends ClassPerson { owner: boolean }

export interface PoolEntryView {
  id: number;
  kind: 'vm' | 'tag' | 'pool';
  cluster: string | null;
  vmid: number | null;
  value: string | null;
  addedAt: number;
  /** An admin added it: it holds its VMs whatever the class's scope. */
  approved: boolean;
}

export interface AssignmentView { cluster: string; vmid: number; userId: number; assignedAt: number }

export interface ClassSummary { id: number; name: string; createdAt: number; teachers: ClassTeacher[]; studentCount: number }

export interface ClassDetail extends ClassSummary {
  students: Array<ClassPerson & { vms: string[] }>;
  pool: PoolEntryView[];
  assignments: AssignmentView[];
  /** Pool VMs (resolved from entries) and assigned VMs, as the inventory has them. */
  vms: Vm[];
  /** What an admin lets this class draw from, and the same in words. */
  scope: ScopeRule[];
  scopeText: string;
  /** VMs of this class that other classes hold too (an admin shared them). */
  shared: Array<{ vm: string; classes: Array<{ id: number; name: string }> }>;
}

/** A node that does not answer: the projector says so instead of "sync error". */
export const NODE_OFFLINE = 'node offline';

/** The fields of a VM a projector shows; `syncError` only says whether there is one (or that its node is offline). */
export type ProjectorVm = Pick<Vm, 'id' | 'cluster' | 'vmid' | 'name' | 'status' | 'ip' | 'ipReason' | 'stale' | 'lastSeen' | 'revision'> & {
  syncError: 'sync error' | typeof NODE_OFFLINE | null;
};

/** A student as the projector shows them. */
export interface ProjectorStudent { id: number; displayName: string; vms: string[] }

export interface ProjectorView {
  class: { id: number; name: string };
  students: ProjectorStudent[];
  /** Every VM of the class pool, assigned or not (unassigned ones get their own tile). */
  vms: ProjectorVm[];
  revision: number;
}

/** An invite or projector link as its class's teachers see it (the token itself only inside `url`). */
export interface LinkListItem {
  id: number; createdAt: number; expiresAt: number; revoked: boolean; uses: number;
  /** Invites: how many enrolments it allows (null: no limit). */
  maxUses: number | null;
  /** Null for links whose token cannot be shown again. */
  url: string | null;
}

// Response bodies of the class routes.
export interface ClassListResponse { classes: Array<ClassSummary & { vmCount: number }> }
export interface ClassSummaryResponse { class: ClassSummary }
export interface ClassDetailResponse { class: ClassDetail }
export interface PoolEntryResponse { entry: PoolEntryView }
export interface ScopeResponse { scope: ScopeRule[]; scopeText: string }
export interface AssignmentsResponse { assignments: AssignmentView[] }
export interface AutoAssignResponse { assigned: Array<{ cluster: string; vmid: number; userId: number }> }
export interface InviteListResponse { invites: LinkListItem[] }
export interface ProjectorLinkListResponse { links: Array<LinkListItem & { token: string | null }> }
export interface NewLinkResponse { id: number; token: string; url: string; expiresAt: number }
export interface NewInviteResponse extends NewLinkResponse { maxUses: number | null; uses: number }
export interface InviteInfoResponse { class: { id: number; name: string }; expiresAt: number }
export interface InviteAcceptResponse { class: { id: number; name: string }; enrolled: boolean }
