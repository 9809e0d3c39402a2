// A class's links (invites, projector links) and its audit trail, as the teacher page reads them.
import { apiGet, apiPost, apiDelete, qs } from './api.js';
import type { AuditRow } from './audit-text.js';
import type { AuditListResponse } from '../../../contract/audit.js';
import type { InviteListResponse, LinkListItem, NewLinkResponse, ProjectorLinkListResponse } from '../../../contract/classes.js';

export type LinkKind = 'invite' | 'projector';

export interface ClassLink {
  kind: LinkKind;
  id: number;
  /** Null for links the server can no longer show (made before it kept them, or under another secret). */
  url: string | null;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
  uses: number;
  /** Invite use limit, when the server has one. */
  maxUses: number | null;
}

const toLink = (kind: LinkKind) => (l: LinkListItem): ClassLink => ({
  kind, id: l.id, url: l.url, createdAt: l.createdAt, expiresAt: l.expiresAt, revoked: l.revoked, uses: l.uses, maxUses: l.maxUses,
});

/** Links still working (not revoked, not expired), newest first. */
export async function activeLinks(classId: number, now = Date.now()): Promise<ClassLink[]> {
  const [inv, proj] = await Promise.all([
    apiGet<InviteListResponse>(`/api/classes/${classId}/invites`),
    apiGet<ProjectorLinkListResponse>(`/api/classes/${classId}/projector-links`),
  ]);
  const all = [...inv.invites.map(toLink('invite')), ...proj.links.map(toLink('projector'))];
  return all.filter((l) => !l.revoked && l.expiresAt > now && (l.maxUses === null || l.uses < l.maxUses)).sort((a, b) => b.createdAt - a.createdAt);
}

/** A new link lasting `ttlHours`. */
export async function createLink(classId: number, kind: LinkKind, ttlHours: number): Promise<ClassLink> {
  const path = kind === 'invite' ? 'invites' : 'projector-links';
  const res = await apiPost<NewLinkResponse>(`/api/classes/${classId}/${path}`, { ttlHours });
  return { kind, id: res.id, url: res.url, createdAt: Date.now(), expiresAt: res.expiresAt, revoked: false, uses: 0, maxUses: null };
}

/** Revokes a link; a revoked projector link goes dark at once. */
export async function revokeLink(classId: number, link: Pick<ClassLink, 'kind' | 'id'>): Promise<void> {
  await apiDelete(`/api/classes/${classId}/${link.kind === 'invite' ? 'invites' : 'projector-links'}/${link.id}`);
}

/** The class's audit trail, newest first: class changes and power actions on its VMs (students' own included). */
export async function classAuditTrail(classId: number, limit = 50): Promise<AuditRow[]> {
  const res = await apiGet<AuditListResponse>(`/api/audit${qs({ classId, limit })}`);
  return res.entries;
}
