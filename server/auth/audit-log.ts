// The audit log: who did what to which VM, class or user, and how it ended. Admins read all of it,
// teachers the entries of their classes and of the VMs they may see.
import type { Db } from '../db/index.js';
import type { Principal } from './permissions.js';

import type { AuditEntry, AuditOutcome } from '../../contract/audit.js';

export type { AuditEntry, AuditOutcome };

export interface AuditInput {
  actor: { id: number; username: string } | null;
  action: string;
  target: 'vm' | 'class' | 'user' | 'sync' | 'session';
  cluster?: string | null;
  vmid?: number | null;
  classId?: number | null;
  outcome: AuditOutcome;
  detail?: string | null;
  /** One entry for many targets (a refused bulk request); default one. */
  count?: number;
}

export interface AuditQuery {
  classId?: number;
  cluster?: string;
  vmid?: number;
  /** Only entries with an id below this (paging backwards). */
  before?: number;
  limit: number;
}

export class AuditLog {
  constructor(private readonly db: Db) {}

  /** Writes an entry; returns its id (to settle a pending one later). */
  async record(e: AuditInput): Promise<number> {
    const row = await this.db.insertInto('audit_log').values({
      at: Date.now(), user_id: e.actor?.id ?? null, username: e.actor?.username ?? null, action: e.action,
      target: e.target, cluster_id: e.cluster ?? null, vmid: e.vmid ?? null, class_id: e.classId ?? null,
      outcome: e.outcome, detail: e.detail ?? null, count: e.count && e.count > 1 ? e.count : null,
    }).returning('id').executeTakeFirstOrThrow();
    return row.id;
  }

  /** Notes the Proxmox task (UPID) a pending entry waits for, so a restart can settle it. */
  async attachTask(id: number, upid: string): Promise<void> {
    await this.db.updateTable('audit_log').set({ task: upid }).where('id', '=', id).execute();
  }

  /** Entries still pending (a power action whose task labdeck stopped following), oldest first. */
  async open(limit = 1000): Promise<Array<AuditEntry & { task: string | null }>> {
    const rows = await this.db.selectFrom('audit_log').selectAll().where('outcome', '=', 'pending').orderBy('id').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id, at: r.at, userId: r.user_id, username: r.username, action: r.action, target: r.target,
      cluster: r.cluster_id, vmid: r.vmid, classId: r.class_id, outcome: r.outcome as AuditOutcome, detail: r.detail, count: r.count ?? 1, task: r.task,
    }));
  }

  /** Settles a pending entry with its final outcome. */
  async settle(id: number, outcome: AuditOutcome, detail?: string | null): Promise<void> {
    await this.db.updateTable('audit_log').set({ outcome, ...(detail !== undefined ? { detail } : {}) }).where('id', '=', id).execute();
  }

  /**
   * Newest first. `allowed` filters rows for non-admins (their classes and VMs); rows are scanned in
   * pages so the filter never returns fewer than it could.
   */
  async list(q: AuditQuery, allowed?: (e: AuditEntry) => boolean): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    let before = q.before;
    for (let scanned = 0; out.length < q.limit && scanned < 20_000;) {
      let query = this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(500);
      if (before !== undefined) query = query.where('id', '<', before);
      if (q.classId !== undefined) query = query.where('class_id', '=', q.classId);
      if (q.cluster !== undefined) query = query.where('cluster_id', '=', q.cluster);
      if (q.vmid !== undefined) query = query.where('vmid', '=', q.vmid);
      const rows = await query.execute();
      if (rows.length === 0) break;
      scanned += rows.length;
      for (const r of rows) {
        const e: AuditEntry = {
          id: r.id, at: r.at, userId: r.user_id, username: r.username, action: r.action, target: r.target,
          cluster: r.cluster_id, vmid: r.vmid, classId: r.class_id, outcome: r.outcome as AuditOutcome, detail: r.detail, count: r.count ?? 1,
        };
        if (!allowed || allowed(e)) out.push(e);
        if (out.length >= q.limit) break;
      }
      before = rows[rows.length - 1].id;
      if (rows.length < 500) break;
    }
    return out;
  }
}

/** The actor fields of a signed-in user. */
export function actorOf(user: Principal & { username: string }): { id: number; username: string } {
  return { id: user.id, username: user.username };
}
