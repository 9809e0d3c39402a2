// Local user accounts: creation, password checks, roles, disabling. Disabling or a password change
// bumps `session_version`, which ends every session of that user (see session.ts).
import type { Db } from '../db/index.js';
import type { Role, UsersTable } from '../db/schema.js';
import type { User } from '../../contract/users.js';
import type { Selectable } from 'kysely';
import { dummyHashPromise, hashPassword, verifyPassword } from './password.js';

export type { Role, User };
export { roles } from '../../contract/users.js';


/** The stored row, for the session check. */
export interface UserRecord extends User { sessionVersion: number; hasPassword: boolean }

/** What a session check needs of a user (kept in memory by SessionUsers). */
export interface SessionRecord {
  id: number;
  username: string;
  displayName: string;
  role: Role;
  disabled: boolean;
  sessionVersion: number;
}

export class UserExistsError extends Error {}

function toRecord(r: Selectable<UsersTable>): UserRecord {
  return {
    id: r.id, username: r.username, displayName: r.display_name, role: r.role, source: r.source,
    disabled: Boolean(r.disabled), createdAt: r.created_at, sessionVersion: r.session_version,
    hasPassword: r.password_hash !== null,
  };
}

/** The public view of a stored user. */
export function publicUser(u: UserRecord): User {
  const { sessionVersion: _sv, hasPassword: _hp, ...rest } = u;
  return rest;
}

export class UsersRepo {
  constructor(private readonly db: Db) {}

  /** Creates a user; throws UserExistsError when the name is taken. */
  async create(opts: { username: string; role: Role; password?: string | null; displayName?: string; source?: string }): Promise<User> {
    if (await this.getByUsername(opts.username)) throw new UserExistsError(`user ${opts.username} exists`);
    const now = Date.now();
    const hash = opts.password ? await hashPassword(opts.password) : null;
    const row = await this.db.insertInto('users').values({
      username: opts.username, display_name: opts.displayName ?? opts.username, role: opts.role,
      password_hash: hash, source: opts.source ?? 'local', created_at: now, updated_at: now,
    }).returningAll().executeTakeFirstOrThrow();
    return publicUser(toRecord(row));
  }

  /** The user when the password is right and the account enabled; null otherwise (same timing). */
  async verifyPassword(username: string, password: string): Promise<User | null> {
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHashPromise));
    if (!row || !row.password_hash || !ok || row.disabled) return null;
    return publicUser(toRecord(row));
  }

  /** Every user, by name. */
  async list(filter: { role?: Role } = {}): Promise<User[]> {
    let q = this.db.selectFrom('users').selectAll().orderBy('username');
    if (filter.role) q = q.where('role', '=', filter.role);
    return (await q.execute()).map((r) => publicUser(toRecord(r)));
  }

  /** One user by id, with its session version. */
  async get(id: number): Promise<UserRecord | null> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** The users among these names (unknown names are simply absent); a few queries for any number. */
  async listByUsernames(names: readonly string[]): Promise<User[]> {
    const out: User[] = [];
    for (let i = 0; i < names.length; i += 500) {
      const rows = await this.db.selectFrom('users').selectAll().where('username', 'in', names.slice(i, i + 500)).execute();
      for (const r of rows) out.push(publicUser(toRecord(r)));
    }
    return out;
  }

  /** The session view of one user. */
  async sessionRecord(id: number): Promise<SessionRecord | null> {
    return (await this.sessionRecords([id]))[0] ?? null;
  }

  /** The session view of these users (unknown ids left out). */
  async sessionRecords(ids: number[]): Promise<SessionRecord[]> {
    if (ids.length === 0) return [];
    const rows = [];
    // Bounded IN lists (SQLite allows 32,766 parameters; PostgreSQL 65,535).
    for (let i = 0; i < ids.length; i += 1000) {
      rows.push(...await this.db.selectFrom('users')
        .select(['id', 'username', 'display_name', 'role', 'disabled', 'session_version'])
        .where('id', 'in', ids.slice(i, i + 1000)).execute());
    }
    return rows.map((r) => ({
      id: r.id, username: r.username, displayName: r.display_name, role: r.role, disabled: Boolean(r.disabled), sessionVersion: r.session_version,
    }));
  }

  /**
   * A value that changes whenever a user is created, deleted or changed (every change sets
   * updated_at or bumps session_version, which only grows): how a running server notices the CLI.
   */
  async changeSignature(): Promise<string> {
    const r = await this.db.selectFrom('users')
      .select((eb) => [
        eb.fn.countAll<number>().as('n'), eb.fn.max('id').as('maxId'),
        eb.fn.max('updated_at').as('updated'), eb.fn.sum<number>('session_version').as('versions'),
      ]).executeTakeFirstOrThrow();
    return `${r.n}|${r.maxId ?? 0}|${r.updated ?? 0}|${r.versions ?? 0}`;
  }

  /** One user by name. */
  async getByUsername(username: string): Promise<UserRecord | null> {
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** Sets a new password and ends every session of the user. */
  async setPassword(id: number, password: string): Promise<void> {
    const hash = await hashPassword(password);
    await this.db.updateTable('users')
      .set((eb) => ({ password_hash: hash, updated_at: Date.now(), session_version: eb('session_version', '+', 1) }))
      .where('id', '=', id).execute();
  }

  /** Changes a user's role (ends their sessions: what they may see changes). */
  async setRole(id: number, role: Role): Promise<void> {
    await this.db.updateTable('users')
      .set((eb) => ({ role, updated_at: Date.now(), session_version: eb('session_version', '+', 1) }))
      .where('id', '=', id).execute();
  }

  /** Sets the display name. */
  async setDisplayName(id: number, displayName: string): Promise<void> {
    await this.db.updateTable('users').set({ display_name: displayName, updated_at: Date.now() }).where('id', '=', id).execute();
  }

  /** Disables (or re-enables) a user; disabling ends every session. */
  async disable(id: number, disabled = true): Promise<void> {
    await this.db.updateTable('users')
      .set((eb) => ({ disabled: disabled ? 1 : 0, updated_at: Date.now(), session_version: eb('session_version', '+', 1) }))
      .where('id', '=', id).execute();
  }

  /** Ends every session of a user. */
  async bumpSessionVersion(id: number): Promise<void> {
    await this.db.updateTable('users').set((eb) => ({ session_version: eb('session_version', '+', 1) })).where('id', '=', id).execute();
  }

  /** Finds or creates a user who signs in through Proxmox; keeps the role in step with the groups. */
  async upsertExternal(username: string, role: Role, source: string): Promise<UserRecord | null> {
    const existing = await this.getByUsername(username);
    if (existing) {
      // A Proxmox sign-in never takes over an account that came from elsewhere.
      if (existing.source !== source) return null;
      if (existing.role !== role && existing.source === source) await this.setRole(existing.id, role);
      return (await this.get(existing.id))!;
    }
    const created = await this.create({ username, role, source, password: null });
    return (await this.get(created.id))!;
  }
}
