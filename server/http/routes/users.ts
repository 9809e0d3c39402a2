// User administration (admins): list, create, change role, disable, reset password. Changes that
// alter what someone may do end that user's sessions.
import { Hono } from 'hono';
import * as v from 'valibot';
import type { ApiDeps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { conflict, notFound } from '../errors.js';
import { requireRole } from '../middleware.js';
import { body, params, query, IdString, LocalUsername, NewPassword, PlainName, Role } from '../validate.js';
import { UserExistsError, publicUser } from '../../auth/users.js';
import type { UserListResponse } from '../../../contract/users.js';

const CreateBody = v.strictObject({
  username: LocalUsername,
  password: NewPassword,
  role: Role,
  displayName: v.optional(PlainName(100)),
});

const PatchBody = v.strictObject({
  role: v.optional(Role),
  disabled: v.optional(v.boolean()),
  password: v.optional(NewPassword),
  displayName: v.optional(PlainName(100)),
});

export function userRoutes(deps: ApiDeps) {
  const app = new Hono<AppEnv>();

  app.get('/users', async (c) => {
    requireRole(c, 'admin');
    const q = query(c, v.strictObject({ role: v.optional(Role) }));
    return c.json({ users: await deps.users.list(q) } satisfies UserListResponse);
  });

  app.post('/users', async (c) => {
    const admin = requireRole(c, 'admin');
    const b = await body(c, CreateBody);
    try {
      const user = await deps.users.create(b);
      await deps.audit.record({ actor: admin, action: 'user.create', target: 'user', outcome: 'ok', detail: `${user.username} (${user.role})` });
      return c.json({ user }, 201);
    } catch (err) {
      if (err instanceof UserExistsError) throw conflict(`user ${b.username} already exists`);
      throw err;
    }
  });

  app.patch('/users/:id', async (c) => {
    const admin = requireRole(c, 'admin');
    const { id } = params(c, v.object({ id: IdString }));
    const b = await body(c, PatchBody);
    const target = await deps.users.get(id);
    if (!target) throw notFound(`user ${id} does not exist`);
    if (id === admin.id && (b.disabled || (b.role && b.role !== 'admin'))) throw conflict('you cannot disable or demote yourself');
    let revoke = false;
    if (b.displayName !== undefined) await deps.users.setDisplayName(id, b.displayName);
    if (b.role !== undefined && b.role !== target.role) { await deps.users.setRole(id, b.role); revoke = true; }
    if (b.disabled !== undefined && b.disabled !== target.disabled) { await deps.users.disable(id, b.disabled); revoke = true; }
    if (b.password !== undefined) { await deps.users.setPassword(id, b.password); revoke = true; }
    if (revoke) {
      deps.sessions.announceRevoked(id);
      await deps.access.changed({ userIds: [id], classIds: [] });
    }
    await deps.audit.record({ actor: admin, action: 'user.update', target: 'user', outcome: 'ok',
      detail: `${target.username}: ${Object.keys(b).join(', ')}` });
    return c.json({ user: publicUser((await deps.users.get(id))!) });
  });

  return app;
}
