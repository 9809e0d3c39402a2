// Audit entries as sentences a teacher reads ("Sam One started lab-a-ws-005"), without Proxmox
// task ids: pure, so it is tested without a browser.
import type { AuditEntry } from '../../../contract/audit.js';

/** The parts of an audit entry (contract/audit.ts) a sentence is made of; `count` absent counts as 1. */
export type AuditRow = Pick<AuditEntry, 'id' | 'at' | 'username' | 'action' | 'outcome' | 'detail' | 'cluster' | 'vmid'> & Partial<Pick<AuditEntry, 'count'>>;

const VM_VERBS: Record<string, [done: string, doing: string, failed: string]> = {
  'vm.start': ['started', 'is starting', 'could not start'],
  'vm.stop': ['force-stopped', 'is force-stopping', 'could not force-stop'],
  'vm.shutdown': ['shut down', 'is shutting down', 'could not shut down'],
  'vm.reboot': ['rebooted', 'is rebooting', 'could not reboot'],
};

const CLASS_WORDS: Record<string, string> = {
  'class.create': 'created the class', 'class.rename': 'renamed the class', 'class.delete': 'deleted the class',
  'class.teacher.add': 'added a co-teacher', 'class.teacher.remove': 'removed a co-teacher',
  'class.invite.create': 'created an invite link', 'class.invite.revoke': 'revoked an invite link',
  'class.enrol': 'joined the class with an invite link', 'class.student.add': 'added a student', 'class.student.remove': 'removed a student',
  'class.pool.add': 'added to the pool', 'class.pool.remove': 'removed a pool entry', 'class.auto-assign': 'assigned VMs automatically',
  'class.import-mappings': 'imported VM assignments', 'class.projector.create': 'created a projector link',
  'class.projector.revoke': 'revoked a projector link', 'vm.assign': 'assigned', 'vm.unassign': 'unassigned',
};

/** A Proxmox task id (UPID:node:…) anywhere in a text. */
const UPID = /\(?UPID:[^\s)]+\)?/g;

/** Strips task ids and tidies what is left. */
export function withoutUpid(text: string | null): string {
  return (text ?? '').replace(UPID, '').replace(/\s+/g, ' ').trim();
}

/**
 * One entry as a sentence. `who` turns a username into a display name, `vmName` a VM into its
 * name; `pendingTooLong` is true when a "pending" entry is old enough to be a leftover.
 */
export function auditSentence(e: AuditRow, who: (username: string | null) => string, vmName: (cluster: string, vmid: number) => string, now = Date.now()): { text: string; tone: 'ok' | 'busy' | 'bad' | 'off' } {
  const actor = who(e.username);
  const target = e.cluster !== null && e.vmid !== null ? vmName(e.cluster, e.vmid) : '';
  const detail = withoutUpid(e.detail);
  const verbs = VM_VERBS[e.action];
  if (verbs) {
    if (e.outcome === 'denied') return { text: `${actor} was not allowed to ${e.action.slice(3)} ${(e.count ?? 1) > 1 ? `${e.count} VMs` : target || 'a VM'}`, tone: 'bad' };
    if (e.outcome === 'failed') return { text: `${actor} ${verbs[2]} ${target}${detail ? `: ${detail.replace(/^Proxmox( refused)?:\s*/, '')}` : ''}`, tone: 'bad' };
    // An action still "pending" after 15 minutes was never settled (the server stopped meanwhile).
    if (e.outcome === 'pending') return now - e.at > 15 * 60_000 ? { text: `${actor} asked to ${e.action.slice(3)} ${target} (outcome unknown)`, tone: 'off' } : { text: `${actor} ${verbs[1]} ${target}…`, tone: 'busy' };
    const warn = /^WARNINGS/.test(detail) ? ` (${detail.split(' ').slice(0, 2).join(' ').toLowerCase()})` : '';
    return { text: `${actor} ${verbs[0]} ${target}${warn}`, tone: 'ok' };
  }
  const words = CLASS_WORDS[e.action] ?? e.action.replace(/[._-]/g, ' ');
  let text = `${actor} ${words}`;
  if (e.action === 'vm.assign') text = `${actor} assigned ${target} to ${who(detail || null)}`;
  else if (e.action === 'vm.unassign') text = `${actor} unassigned ${target}`;
  else if (e.action === 'class.enrol') text = `${actor} joined the class with an invite link`;
  else if (detail && !/^\d+$/.test(detail)) text += `: ${detail}`;
  return { text: e.outcome === 'ok' ? text : `${text} (${e.outcome})`, tone: e.outcome === 'ok' ? 'ok' : e.outcome === 'pending' ? 'busy' : 'bad' };
}
