// `labdeck user add|list|passwd|disable|enable|role`: local accounts, straight on the database.
// Effective at once for a running server too: every request re-reads the user, and a password,
// role or disable change bumps the session version so existing sessions end.
import * as v from 'valibot';
import type { Db } from '../db/index.js';
import { UsersRepo, UserExistsError, type Role } from '../auth/users.js';
import { LocalUsername, NewPassword, Role as RoleSchema } from '../http/validate.js';
import { readNewPassword } from './password-input.js';
import { UsageError } from './usage-error.js';

export { UsageError };

function must<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (!r.success) throw new UsageError(`${what}: ${r.issues[0].message}`);
  return r.output;
}

async function existing(users: UsersRepo, name: string | undefined) {
  if (!name) throw new UsageError('which user? give a username');
  const u = await users.getByUsername(name);
  if (!u) throw new UsageError(`no user named ${name}`);
  return u;
}

export interface UserCommandOptions {
  role?: string;
  passwordFile?: string;
  displayName?: string;
}

/** Runs one `user` subcommand; returns the text to print. */
export async function userCommand(db: Db, sub: string | undefined, args: string[], opts: UserCommandOptions): Promise<string> {
  const users = new UsersRepo(db);
  switch (sub) {
    case 'add': {
      const username = must(LocalUsername, args[0] ?? '', 'username');
      const role = must(RoleSchema, opts.role ?? '', '--role (admin, teacher or student)') as Role;
      if (await users.getByUsername(username)) throw new UsageError(`user ${username} exists already`);
      const password = must(NewPassword, await readNewPassword(opts.passwordFile), 'password');
      try {
        const u = await users.create({ username, role, password, displayName: opts.displayName });
        return `Created ${u.role} ${u.username} (id ${u.id}).`;
      } catch (err) {
        if (err instanceof UserExistsError) throw new UsageError(`user ${username} exists already`);
        throw err;
      }
    }
    case 'list': {
      const role = opts.role === undefined ? undefined : must(RoleSchema, opts.role, '--role') as Role;
      const list = await users.list({ role });
      if (list.length === 0) return 'No users.';
      const rows = list.map((u) => [String(u.id), u.username, u.role, u.source, u.disabled ? 'disabled' : 'active', u.displayName]);
      const head = ['id', 'username', 'role', 'source', 'state', 'name'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      return [head, ...rows].map((r) => r.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
    }
    case 'passwd': {
      const u = await existing(users, args[0]);
      const password = must(NewPassword, await readNewPassword(opts.passwordFile), 'password');
      await users.setPassword(u.id, password);
      return `Password of ${u.username} changed; their sessions have ended.`;
    }
    case 'disable':
    case 'enable': {
      const u = await existing(users, args[0]);
      await users.disable(u.id, sub === 'disable');
      return sub === 'disable' ? `Disabled ${u.username}; their sessions have ended.` : `Enabled ${u.username}.`;
    }
    case 'role': {
      const u = await existing(users, args[0]);
      const role = must(RoleSchema, args[1] ?? opts.role ?? '', 'role (admin, teacher or student)') as Role;
      await users.setRole(u.id, role);
      return `${u.username} is now ${role}; their sessions have ended.`;
    }
    default:
      throw new UsageError(`unknown user command "${sub ?? ''}": use add, list, passwd, disable, enable or role`);
  }
}
