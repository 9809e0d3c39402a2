// Sign-in (local accounts, or Proxmox credentials where a cluster allows it, and which of these
// the sign-in page may offer), sign-out, who am I, password change. Unknown user and wrong password get the same answer; attempts are throttled.
import { Hono, type Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import * as v from 'valibot';
import type { ApiDeps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { conflict, forbidden, proxmoxError, unauthorized, DomainError } from '../errors.js';
import { clientAddress, requestOrigin, requireUser } from '../middleware.js';
import { body, NewPassword, ClusterId } from '../validate.js';
import { SESSION_COOKIE } from '../../auth/session.js';
import type { Role, SignedInResponse, SignInMethods } from '../../../contract/users.js';
import type { ClusterConfig } from '../../config.js';
import { describeDbError } from '../../db/health.js';
import { log } from '../../log.js';
import { DEMO_PASSWORD, DEMO_STUDENTS } from '../../classes/demo-seed.js';

const LoginBody = v.strictObject({
  username: v.pipe(v.string(), v.trim(), v.minLength(1, 'is required'), v.maxLength(128)),
  password: v.pipe(v.string(), v.minLength(1, 'is required'), v.maxLength(1024)),
  /** Sign in with Proxmox credentials through this cluster. */
  cluster: v.optional(ClusterId),
  realm: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9._-]{0,31}$/, 'must be a realm name'))),
});

const PasswordBody = v.strictObject({
  currentPassword: v.pipe(v.string(), v.minLength(1, 'is required'), v.maxLength(1024)),
  newPassword: NewPassword,
});

const rank: Record<Role, number> = { student: 1, teacher: 2, admin: 3 };

/** The labdeck role a Proxmox user's groups map to (highest wins), or the default, or null (pure). */
export function roleForGroups(groups: string[], login: NonNullable<ClusterConfig['login']>): Role | null {
  let best: Role | null = null;
  for (const g of groups) {
    const r = login.groupRoles[g];
    if (r && (!best || rank[r] > rank[best])) best = r;
  }
  return best ?? login.defaultRole ?? null;
}

/** Sets the session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, with the session lifetime. */
export function setSessionCookie(c: Context, deps: ApiDeps, seal: string): void {
  setCookie(c, SESSION_COOKIE, seal, {
    httpOnly: true, sameSite: 'Lax', path: '/', maxAge: deps.sessions.ttlSeconds,
    secure: requestOrigin(c, deps.config.auth.trustProxy).proto === 'https',
  });
}

export function authRoutes(deps: ApiDeps) {
  const app = new Hono<AppEnv>();
  const wrong = () => unauthorized('wrong username or password');

  app.post('/auth/login', async (c) => {
    const b = await body(c, LoginBody);
    const address = clientAddress(c, deps.config.auth.trustProxy, deps.config.auth.trustedHops);
    const account = b.cluster ? `${b.username}@${b.cluster}` : b.username;
    let userId: number | null = null;
    if (b.cluster) {
      const cluster = deps.config.clusters.find((x) => x.id === b.cluster);
      const client = deps.sync.client(b.cluster);
      if (!cluster || !client || !cluster.login?.enabled) throw forbidden(`sign-in through cluster ${b.cluster} is not enabled`);
      const realm = b.realm ?? cluster.login.realm;
      // Counted like a local sign-in, but Proxmox does the work: it takes no password-check slot.
      const who = await deps.throttle.attempt(account, address, async () => {
        try {
          return await client.verifyLogin(b.username, b.password, realm);
        } catch (err) {
          log.warn({ cluster: cluster.id, err: (err as Error).message }, 'Proxmox sign-in check failed');
          throw proxmoxError(`cannot check credentials with cluster ${cluster.id}`);
        }
      }, { cpu: false });
      if (who) {
        const role = roleForGroups(who.groups, cluster.login);
        if (!role) throw forbidden('your Proxmox groups give no labdeck role');
        const before = await deps.users.getByUsername(who.userid);
        const u = await deps.users.upsertExternal(who.userid, role, `pve:${cluster.id}`);
        if (u && before && before.role !== u.role) {
          // Their groups changed in Proxmox: what they may see changed, so their other sessions
          // ended (setRole) and their open sockets must close now, not at the next re-check.
          deps.sessions.announceRevoked(u.id);
          await deps.access.changed({ userIds: [u.id], classIds: [] });
          await deps.audit.record({ actor: { id: u.id, username: u.username }, action: 'user.role', target: 'user', outcome: 'ok', detail: `${before.role} → ${u.role} (Proxmox groups of ${cluster.id})` });
        }
        if (u && !u.disabled) userId = u.id;
      }
    } else {
      userId = (await deps.throttle.attempt(account, address, () => deps.users.verifyPassword(b.username, b.password)))?.id ?? null;
    }
    if (userId === null) {
      log.info({ address }, 'sign-in failed');
      throw wrong();
    }
    setSessionCookie(c, deps, await deps.sessions.issue(userId));
    const user = (await deps.users.get(userId))!;
    // Best-effort: a database that cannot take the entry (a full disk) must not turn a good sign-in into a 500.
    await deps.audit.record({ actor: { id: user.id, username: user.username }, action: 'session.login', target: 'session', outcome: 'ok', detail: b.cluster ? `via ${b.cluster}` : null })
      .catch((err: unknown) => log.error({ user: user.username, err: describeDbError(err) }, 'sign-in not audited: database error'));
    return c.json({ user: { id: user.id, username: user.username, displayName: user.displayName, role: user.role } } satisfies SignedInResponse);
  });

  // Public: the sign-in page offers Proxmox credentials only for clusters whose config allows it,
  // and in demo mode names the seeded accounts (the start banner prints them too).
  app.get('/auth/methods', (c) => c.json({
    local: true,
    proxmox: deps.config.clusters.filter((x) => x.login?.enabled).map((x) => ({ cluster: x.id, name: x.name ?? x.id, realm: x.login!.realm })),
    demo: deps.config.demo ? { users: ['admin', 'teacher', DEMO_STUDENTS[0], DEMO_STUDENTS[DEMO_STUDENTS.length - 1]], password: DEMO_PASSWORD } : null,
  } satisfies SignInMethods));

  app.post('/auth/logout', async (c) => {
    const user = requireUser(c);
    // Signing out ends every session of this user, on every device.
    await deps.sessions.revokeAll(user.id);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    await deps.audit.record({ actor: user, action: 'session.logout', target: 'session', outcome: 'ok' });
    return c.body(null, 204);
  });

  app.get('/auth/me', async (c) => {
    const user = c.get('user');
    if (user) return c.json({ user } satisfies SignedInResponse);
    // The reason lets the sign-in page say why a session ended instead of showing a bare form.
    const reason = await deps.sessions.endReason(c.req.header('cookie'));
    throw new DomainError('unauthorized', 'sign in first', { reason });
  });

  app.post('/auth/password', async (c) => {
    const user = requireUser(c);
    const b = await body(c, PasswordBody);
    const rec = await deps.users.get(user.id);
    if (!rec?.hasPassword) throw conflict('this account signs in through Proxmox; change the password there');
    // Guessing the current password with a stolen session is guessing: the same throttle as sign-in.
    const address = clientAddress(c, deps.config.auth.trustProxy, deps.config.auth.trustedHops);
    if (!(await deps.throttle.attempt(user.username, address, () => deps.users.verifyPassword(user.username, b.currentPassword)))) {
      throw forbidden('the current password is wrong');
    }
    await deps.users.setPassword(user.id, b.newPassword);
    deps.sessions.announceRevoked(user.id);
    setSessionCookie(c, deps, await deps.sessions.issue(user.id));
    await deps.audit.record({ actor: user, action: 'user.password', target: 'user', outcome: 'ok' });
    return c.body(null, 204);
  });

  return app;
}
