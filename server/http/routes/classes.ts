// Class routes: create/rename/delete, co-teachers, students, invites, pool, assignments,
// auto-assign, mappings.json import, projector links. The rules live in ClassesService.
import { Hono, type Context } from 'hono';
import * as v from 'valibot';
import type { ApiDeps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { linkOriginOf, requireUser } from '../middleware.js';
import { hostPolicy } from '../../hosts.js';
import { body, params, query, ClusterId, IdString, PlainName, Username, Vmid, VmidString } from '../validate.js';
import { MappingsSchema } from '../../classes/mappings-import.js';
import type {
  AssignmentsResponse, AutoAssignResponse, ClassDetailResponse, ClassListResponse, ClassSummaryResponse, InviteAcceptResponse,
  InviteInfoResponse, InviteListResponse, NewInviteResponse, NewLinkResponse, PoolEntryResponse, ProjectorLinkListResponse, ProjectorView, ScopeResponse,
} from '../../../contract/classes.js';

const ClassId = v.object({ id: IdString });
const Name = v.strictObject({ name: PlainName(100) });
/** Up to a term (about half a year): a projector link on a classroom PC lasts as long as the course. */
const Ttl = v.strictObject({ ttlHours: v.optional(v.pipe(v.number(), v.minValue(0.01), v.maxValue(24 * 190, 'must be at most 4560 hours (a term)'))) });
const TokenString = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{20,100}$/, 'must be a link token'));
const InviteBody = v.strictObject({ ...Ttl.entries, maxUses: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)))) });
const Token = v.object({ token: TokenString });
/** A projector link by its id (as listed) or its token. */
const LinkRef = v.union([IdString, TokenString], 'must be a link id or token');
const Tag = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$/, 'must be a Proxmox tag'));
const PoolName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be a Proxmox pool name'));

const PoolBody = v.pipe(
  v.strictObject({ vmid: v.optional(Vmid), tag: v.optional(Tag), pool: v.optional(PoolName), cluster: v.optional(ClusterId) }),
  v.check((b) => [b.vmid, b.tag, b.pool].filter((x) => x !== undefined).length === 1, 'give exactly one of vmid, tag or pool'),
  // A tag or a pool name alone is ambiguous across clusters; a vmid is resolved (409 when ambiguous).
  v.forward(v.partialCheck([['vmid'], ['cluster']], (b) => b.vmid !== undefined || b.cluster !== undefined,
    'is required with a tag or pool (a tag or pool alone is ambiguous across clusters)'), ['cluster']),
);

const ScopeRuleBody = v.variant('kind', [
  v.strictObject({ kind: v.literal('cluster'), cluster: ClusterId }),
  v.strictObject({ kind: v.literal('pool'), cluster: ClusterId, pool: PoolName }),
  v.strictObject({ kind: v.literal('tag'), cluster: ClusterId, tag: Tag }),
  v.strictObject({ kind: v.literal('range'), cluster: ClusterId, min: Vmid, max: Vmid }),
]);
const ScopeBody = v.strictObject({ rules: v.pipe(v.array(ScopeRuleBody), v.maxLength(200)) });

const AssignBody = v.pipe(
  v.strictObject({ vmid: Vmid, cluster: v.optional(ClusterId), userId: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))), username: v.optional(Username) }),
  v.check((b) => (b.userId === undefined) !== (b.username === undefined), 'give either userId or username'),
);

export function classRoutes(deps: ApiDeps) {
  const app = new Hono<AppEnv>();
  const svc = deps.classes;
  const hosts = hostPolicy(deps.config);
  const originOf = (c: Context<AppEnv>) => linkOriginOf(c, hosts, deps.config.auth.trustProxy);

  app.get('/classes', async (c) => c.json({ classes: await svc.list(requireUser(c)) } satisfies ClassListResponse));

  app.post('/classes', async (c) => {
    const user = requireUser(c);
    const { name } = await body(c, Name);
    return c.json({ class: await svc.create(user, name) } satisfies ClassSummaryResponse, 201);
  });

  app.get('/classes/:id', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    return c.json({ class: await svc.detail(user, id) } satisfies ClassDetailResponse);
  });

  app.patch('/classes/:id', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const { name } = await body(c, Name);
    return c.json({ class: await svc.rename(user, id, name) } satisfies ClassSummaryResponse);
  });

  app.delete('/classes/:id', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    await svc.delete(user, id);
    return c.body(null, 204);
  });

  app.post('/classes/:id/teachers', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const { username } = await body(c, v.strictObject({ username: Username }));
    return c.json({ class: await svc.addTeacher(user, id, username) } satisfies ClassSummaryResponse);
  });

  app.delete('/classes/:id/teachers/:userId', async (c) => {
    const user = requireUser(c);
    const { id, userId } = params(c, v.object({ id: IdString, userId: IdString }));
    return c.json({ class: await svc.removeTeacher(user, id, userId) } satisfies ClassSummaryResponse);
  });

  app.post('/classes/:id/students', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const { username } = await body(c, v.strictObject({ username: Username }));
    await svc.addStudent(user, id, username);
    return c.body(null, 204);
  });

  app.delete('/classes/:id/students/:userId', async (c) => {
    const user = requireUser(c);
    const { id, userId } = params(c, v.object({ id: IdString, userId: IdString }));
    await svc.removeStudent(user, id, userId);
    return c.body(null, 204);
  });

  app.get('/classes/:id/invites', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const origin = originOf(c);
    return c.json({ invites: (await svc.listInvites(user, id)).map(({ token, ...l }) => ({ ...l, url: token ? `${origin}/invite/${token}` : null })) } satisfies InviteListResponse);
  });

  app.post('/classes/:id/invites', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const { ttlHours, maxUses } = await body(c, InviteBody);
    const inv = await svc.createInvite(user, id, ttlHours ?? 24 * 7, maxUses ?? null);
    return c.json({ id: inv.id, token: inv.token, url: `${originOf(c)}${inv.path}`, expiresAt: inv.expiresAt, maxUses: inv.maxUses, uses: 0 } satisfies NewInviteResponse, 201);
  });

  app.delete('/classes/:id/invites/:inviteId', async (c) => {
    const user = requireUser(c);
    const { id, inviteId } = params(c, v.object({ id: IdString, inviteId: IdString }));
    await svc.revokeInvite(user, id, inviteId);
    return c.body(null, 204);
  });

  // Open without a session: the sign-in page names the class a signed-out student was invited to.
  app.get('/invites/:token', async (c) => {
    const { token } = params(c, Token);
    return c.json((await svc.inviteInfo(token)) satisfies InviteInfoResponse);
  });

  app.post('/invites/:token/accept', async (c) => {
    const user = requireUser(c);
    const { token } = params(c, Token);
    return c.json((await svc.acceptInvite(user, token)) satisfies InviteAcceptResponse);
  });

  app.post('/classes/:id/pool', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const b = await body(c, PoolBody);
    const input = b.vmid !== undefined ? { kind: 'vm' as const, vmid: b.vmid, cluster: b.cluster }
      : b.tag !== undefined ? { kind: 'tag' as const, tag: b.tag, cluster: b.cluster! }
      : { kind: 'pool' as const, pool: b.pool!, cluster: b.cluster! };
    return c.json({ entry: await svc.addPool(user, id, input) } satisfies PoolEntryResponse, 201);
  });

  app.get('/classes/:id/scope', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    return c.json((await svc.scope(user, id)) satisfies ScopeResponse);
  });

  app.put('/classes/:id/scope', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const { rules } = await body(c, ScopeBody);
    return c.json((await svc.setScope(user, id, rules)) satisfies ScopeResponse);
  });

  app.delete('/classes/:id/pool/:entryId', async (c) => {
    const user = requireUser(c);
    const { id, entryId } = params(c, v.object({ id: IdString, entryId: IdString }));
    await svc.removePool(user, id, entryId);
    return c.body(null, 204);
  });

  app.post('/classes/:id/assignments', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const b = await body(c, AssignBody);
    return c.json({ assignments: await svc.assign(user, id, b) } satisfies AssignmentsResponse);
  });

  app.delete('/classes/:id/assignments/:cluster/:vmid', async (c) => {
    const user = requireUser(c);
    const { id, cluster, vmid } = params(c, v.object({ id: IdString, cluster: ClusterId, vmid: VmidString }));
    return c.json({ assignments: await svc.unassign(user, id, cluster, vmid) } satisfies AssignmentsResponse);
  });

  app.post('/classes/:id/auto-assign', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    return c.json({ assigned: await svc.autoAssign(user, id) } satisfies AutoAssignResponse);
  });

  app.post('/classes/:id/import-mappings', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const { cluster } = query(c, v.strictObject({ cluster: v.optional(ClusterId) }));
    const mappings = await body(c, MappingsSchema);
    return c.json({ report: await svc.importMappings(user, id, mappings, cluster) });
  });

  app.get('/classes/:id/projector-links', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const origin = originOf(c);
    return c.json({ links: (await svc.listProjectorLinks(user, id)).map(({ token, ...l }) => ({ ...l, token, url: token ? `${origin}/projector/${token}` : null })) } satisfies ProjectorLinkListResponse);
  });

  app.post('/classes/:id/projector-links', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const { ttlHours } = await body(c, Ttl);
    const link = await svc.createProjectorLink(user, id, ttlHours ?? 12);
    return c.json({ id: link.id, token: link.token, url: `${originOf(c)}${link.path}`, expiresAt: link.expiresAt } satisfies NewLinkResponse, 201);
  });

  app.delete('/classes/:id/projector-links/:link', async (c) => {
    const user = requireUser(c);
    const { id, link } = params(c, v.object({ id: IdString, link: LinkRef }));
    await svc.revokeProjectorLink(user, id, typeof link === 'number' ? { id: link } : { token: link });
    return c.body(null, 204);
  });

  app.get('/projector/:token', async (c) => {
    const { token } = params(c, Token);
    return c.json((await svc.projectorView(token)) satisfies ProjectorView);
  });

  return app;
}
