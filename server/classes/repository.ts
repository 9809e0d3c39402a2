// SQL for classes: teachers, students, VM pool entries, assignments, invite and projector links.
// No rules here (the service decides who may do what); tokens are stored only as hashes.
import type { Db } from '../db/index.js';
import { hashToken, newToken, sealToken, unsealToken } from '../auth/tokens.js';
import type { ScopeRule } from '../../contract/classes.js';

export type { ClassPerson, ClassTeacher, PoolEntryView, AssignmentView, ClassSummary } from '../../contract/classes.js';
import type { ClassTeacher, PoolEntryView, AssignmentView, ClassSummary, ClassPerson } from '../../contract/classes.js';

export interface LinkView {
  id: number; createdAt: number; expiresAt: number; revoked: boolean; uses: number; /** Invites: how many enrolments it allows (null: no limit). */ maxUses: number | null;
  /** The raw token while the server can still open its sealed copy (not for links made before that, or under another secret). */
  token: string | null;
}

export class ClassesRepo {
  /** `linkKey` seals link tokens so they can be shown again; without it they are shown once only. */
  constructor(private readonly db: Db, private readonly linkKey?: Buffer) {}

  /** Classes by id (all when ids is undefined), with their teachers and student counts. */
  async list(ids?: number[]): Promise<ClassSummary[]> {
    if (ids && ids.length === 0) return [];
    let q = this.db.selectFrom('classes').selectAll().orderBy('name').orderBy('id');
    if (ids) q = q.where('id', 'in', ids);
    const classes = await q.execute();
    if (classes.length === 0) return [];
    const classIds = classes.map((c) => c.id);
    const teachers = await this.db.selectFrom('class_teachers').innerJoin('users', 'users.id', 'class_teachers.user_id')
      .select(['class_teachers.class_id', 'users.id', 'users.username', 'users.display_name', 'class_teachers.is_owner'])
      .where('class_teachers.class_id', 'in', classIds).orderBy('users.username').execute();
    const counts = await this.db.selectFrom('class_members').select(['class_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('class_id', 'in', classIds).groupBy('class_id').execute();
    return classes.map((c) => ({
      id: c.id, name: c.name, createdAt: c.created_at,
      teachers: teachers.filter((t) => t.class_id === c.id)
        .map((t) => ({ id: t.id, username: t.username, displayName: t.display_name, owner: Boolean(t.is_owner) })),
      studentCount: Number(counts.find((n) => n.class_id === c.id)?.n ?? 0),
    }));
  }

  /** One class summary or null. */
  async get(id: number): Promise<ClassSummary | null> {
    return (await this.list([id]))[0] ?? null;
  }

  /** The class with that name owned by that user, if any (idempotent seeding). */
  async findOwnedByName(ownerId: number, name: string): Promise<number | null> {
    const row = await this.db.selectFrom('classes').innerJoin('class_teachers', 'class_teachers.class_id', 'classes.id')
      .select('classes.id').where('classes.name', '=', name).where('class_teachers.user_id', '=', ownerId)
      .where('class_teachers.is_owner', '=', 1).executeTakeFirst();
    return row?.id ?? null;
  }

  /** Creates a class owned by the given teacher. */
  async create(name: string, ownerId: number): Promise<number> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx.insertInto('classes').values({ name, created_by: ownerId, created_at: Date.now() }).returning('id').executeTakeFirstOrThrow();
      await tx.insertInto('class_teachers').values({ class_id: row.id, user_id: ownerId, is_owner: 1 }).execute();
      return row.id;
    });
  }

  async rename(id: number, name: string): Promise<void> {
    await this.db.updateTable('classes').set({ name }).where('id', '=', id).execute();
  }

  /** Deletes a class and everything hanging off it; returns the user ids that lose access. */
  async delete(id: number): Promise<number[]> {
    return this.db.transaction().execute(async (tx) => {
      const users = new Set<number>();
      for (const t of ['class_teachers', 'class_members', 'vm_assignments'] as const) {
        for (const r of await tx.selectFrom(t).select('user_id').where('class_id', '=', id).execute()) users.add(r.user_id);
      }
      for (const t of ['class_teachers', 'class_members', 'vm_assignments', 'class_pool', 'invites', 'projector_links', 'class_scope', 'class_removals'] as const) {
        await tx.deleteFrom(t).where('class_id', '=', id).execute();
      }
      await tx.deleteFrom('classes').where('id', '=', id).execute();
      return [...users];
    });
  }

  /** Adds a co-teacher (or the owner); no-op when already a teacher. */
  async addTeacher(classId: number, userId: number, owner = false): Promise<void> {
    await this.db.insertInto('class_teachers').values({ class_id: classId, user_id: userId, is_owner: owner ? 1 : 0 })
      .onConflict((oc) => oc.columns(['class_id', 'user_id']).doNothing()).execute();
  }

  async removeTeacher(classId: number, userId: number): Promise<void> {
    await this.db.deleteFrom('class_teachers').where('class_id', '=', classId).where('user_id', '=', userId).execute();
  }

  /** Students of a class, by name. */
  async members(classId: number): Promise<ClassPerson[]> {
    const rows = await this.db.selectFrom('class_members').innerJoin('users', 'users.id', 'class_members.user_id')
      .select(['users.id', 'users.username', 'users.display_name']).where('class_members.class_id', '=', classId)
      .orderBy('users.username').execute();
    return rows.map((r) => ({ id: r.id, username: r.username, displayName: r.display_name }));
  }

  /** Enrols a student; false when already enrolled. */
  async addMember(classId: number, userId: number): Promise<boolean> {
    const res = await this.db.insertInto('class_members').values({ class_id: classId, user_id: userId, joined_at: Date.now() })
      .onConflict((oc) => oc.columns(['class_id', 'user_id']).doNothing()).executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Removes a student and their assignments in this class. */
  async removeMember(classId: number, userId: number): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      // Remembered, so an invite made before the removal cannot bring the student back.
      await tx.insertInto('class_removals').values({ class_id: classId, user_id: userId, removed_at: Date.now() })
        .onConflict((oc) => oc.columns(['class_id', 'user_id']).doUpdateSet({ removed_at: Date.now() })).execute();
      await tx.deleteFrom('vm_assignments').where('class_id', '=', classId).where('user_id', '=', userId).execute();
      await tx.deleteFrom('class_members').where('class_id', '=', classId).where('user_id', '=', userId).execute();
    });
  }

  /** Pool entries of a class. */
  async pool(classId: number): Promise<PoolEntryView[]> {
    const rows = await this.db.selectFrom('class_pool').selectAll().where('class_id', '=', classId).orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, kind: r.kind, cluster: r.cluster_id, vmid: r.vmid, value: r.value, addedAt: r.added_at, approved: Boolean(r.approved) }));
  }

  /** Adds a pool entry unless an equal one exists (an admin's repeat approves it); returns the entry's id. */
  async addPoolEntry(classId: number, e: { kind: 'vm' | 'tag' | 'pool'; cluster: string; vmid: number | null; value: string | null; approved?: boolean }): Promise<number> {
    const existing = (await this.pool(classId)).find((p) => p.kind === e.kind && p.cluster === e.cluster && p.vmid === e.vmid && p.value === e.value);
    if (existing) {
      if (e.approved && !existing.approved) await this.db.updateTable('class_pool').set({ approved: 1 }).where('id', '=', existing.id).execute();
      return existing.id;
    }
    const row = await this.db.insertInto('class_pool').values({
      class_id: classId, kind: e.kind, cluster_id: e.cluster, vmid: e.vmid, value: e.value, added_at: Date.now(), approved: e.approved ? 1 : 0,
    }).returning('id').executeTakeFirstOrThrow();
    return row.id;
  }

  /** Replaces a class's scope with these rules (one transaction). */
  async setScope(classId: number, rules: readonly ScopeRule[], by: number | null): Promise<void> {
    const now = Date.now();
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('class_scope').where('class_id', '=', classId).execute();
      if (rules.length === 0) return;
      await tx.insertInto('class_scope').values(rules.map((r) => ({
        class_id: classId, cluster_id: r.cluster, kind: r.kind, created_by: by, created_at: now,
        value: r.kind === 'pool' ? r.pool : r.kind === 'tag' ? r.tag : null,
        vmid_min: r.kind === 'range' ? r.min : null, vmid_max: r.kind === 'range' ? r.max : null,
      }))).execute();
    });
  }

  /** How many scope rules a class has (demo seeding gives a scope only once). */
  async scopeSize(classId: number): Promise<number> {
    const r = await this.db.selectFrom('class_scope').select((eb) => eb.fn.countAll<number>().as('n')).where('class_id', '=', classId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Removes a pool entry; a VM entry also drops that VM's assignment in this class. False when absent. */
  async removePoolEntry(classId: number, entryId: number): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const e = await tx.selectFrom('class_pool').selectAll().where('class_id', '=', classId).where('id', '=', entryId).executeTakeFirst();
      if (!e) return false;
      if (e.kind === 'vm' && e.cluster_id && e.vmid !== null) {
        await tx.deleteFrom('vm_assignments').where('class_id', '=', classId).where('cluster_id', '=', e.cluster_id).where('vmid', '=', e.vmid).execute();
      }
      await tx.deleteFrom('class_pool').where('id', '=', entryId).execute();
      return true;
    });
  }

  /** Assignments of a class. */
  async assignments(classId: number): Promise<AssignmentView[]> {
    const rows = await this.db.selectFrom('vm_assignments').selectAll().where('class_id', '=', classId).orderBy('cluster_id').orderBy('vmid').execute();
    return rows.map((r) => ({ cluster: r.cluster_id, vmid: r.vmid, userId: r.user_id, assignedAt: r.assigned_at }));
  }

  /** Assigns a VM to a student in a class, replacing an earlier assignee; returns the previous one. */
  async assign(classId: number, cluster: string, vmid: number, userId: number): Promise<number | null> {
    const prev = await this.db.selectFrom('vm_assignments').select('user_id').where('class_id', '=', classId)
      .where('cluster_id', '=', cluster).where('vmid', '=', vmid).executeTakeFirst();
    await this.db.insertInto('vm_assignments').values({ class_id: classId, cluster_id: cluster, vmid, user_id: userId, assigned_at: Date.now() })
      .onConflict((oc) => oc.columns(['class_id', 'cluster_id', 'vmid']).doUpdateSet({ user_id: userId, assigned_at: Date.now() })).execute();
    return prev?.user_id ?? null;
  }

  /** Removes an assignment; returns the student it belonged to, or null when there was none. */
  async unassign(classId: number, cluster: string, vmid: number): Promise<number | null> {
    const prev = await this.db.selectFrom('vm_assignments').select('user_id').where('class_id', '=', classId)
      .where('cluster_id', '=', cluster).where('vmid', '=', vmid).executeTakeFirst();
    if (!prev) return null;
    await this.db.deleteFrom('vm_assignments').where('class_id', '=', classId).where('cluster_id', '=', cluster).where('vmid', '=', vmid).execute();
    return prev.user_id;
  }

  /** Creates an invite or projector link; the raw token is stored only hashed, plus sealed when there is a key. */
  async createLink(table: 'invites' | 'projector_links', classId: number, createdBy: number, ttlMs: number, maxUses: number | null = null): Promise<{ id: number; token: string; expiresAt: number }> {
    const token = newToken();
    const now = Date.now();
    const row = await this.db.insertInto(table).values({
      class_id: classId, token_hash: hashToken(token), created_by: createdBy, created_at: now, expires_at: now + ttlMs,
      token_sealed: this.linkKey ? sealToken(token, this.linkKey) : null,
      ...(table === 'invites' ? { max_uses: maxUses } : {}),
    }).returning('id').executeTakeFirstOrThrow();
    return { id: row.id, token, expiresAt: now + ttlMs };
  }

  /** Links of a class, newest first, with the token where its sealed copy opens. */
  async links(table: 'invites' | 'projector_links', classId: number): Promise<LinkView[]> {
    const rows = await this.db.selectFrom(table).selectAll().where('class_id', '=', classId).orderBy('id', 'desc').execute();
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at, expiresAt: r.expires_at, revoked: Boolean(r.revoked), uses: r.uses, maxUses: r.max_uses ?? null,
      token: r.token_sealed && this.linkKey && !r.revoked ? unsealToken(r.token_sealed, this.linkKey) : null }));
  }

  /** Revokes a link by id or token; returns its token hash, or null when the class has no such link. */
  async revokeLink(table: 'invites' | 'projector_links', classId: number, by: { id: number } | { token: string }): Promise<string | null> {
    let q = this.db.selectFrom(table).select(['id', 'token_hash']).where('class_id', '=', classId);
    q = 'id' in by ? q.where('id', '=', by.id) : q.where('token_hash', '=', hashToken(by.token));
    const row = await q.executeTakeFirst();
    if (!row) return null;
    await this.db.updateTable(table).set({ revoked: 1 }).where('id', '=', row.id).execute();
    return row.token_hash;
  }

  /** A live (unexpired, unrevoked) link's id and class, or null. */
  async findLiveLink(table: 'invites' | 'projector_links', token: string): Promise<{ id: number; classId: number; expiresAt: number; createdAt: number; usedUp: boolean } | null> {
    const row = await this.db.selectFrom(table).selectAll().where('token_hash', '=', hashToken(token))
      .where('revoked', '=', 0).where('expires_at', '>', Date.now()).executeTakeFirst();
    if (!row) return null;
    const max = (row as { max_uses?: number | null }).max_uses ?? null;
    return { id: row.id, classId: row.class_id, expiresAt: row.expires_at, createdAt: row.created_at, usedUp: max !== null && row.uses >= max };
  }

  /** Counts one use of a link unless it is used up (one statement, so two students cannot share the last use). */
  async countUse(table: 'invites' | 'projector_links', id: number): Promise<boolean> {
    let q = this.db.updateTable(table).set((eb) => ({ uses: eb('uses', '+', 1) })).where('id', '=', id);
    if (table === 'invites') q = q.where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]));
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows ?? 0) > 0;
  }

  /** Gives a use back (the student turned out to be enrolled already). */
  async uncountUse(id: number): Promise<void> {
    await this.db.updateTable('invites').set((eb) => ({ uses: eb('uses', '-', 1) })).where('id', '=', id).execute();
  }

  /** When a teacher removed this student from the class, or null. */
  async removedAt(classId: number, userId: number): Promise<number | null> {
    const r = await this.db.selectFrom('class_removals').select('removed_at').where('class_id', '=', classId).where('user_id', '=', userId).executeTakeFirst();
    return r?.removed_at ?? null;
  }

  /** Forgets a removal (a teacher added the student again). */
  async clearRemoval(classId: number, userId: number): Promise<void> {
    await this.db.deleteFrom('class_removals').where('class_id', '=', classId).where('user_id', '=', userId).execute();
  }
}
