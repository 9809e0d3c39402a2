// Sync monitor and audit log routes: sync status, trigger and inventory summary (admins), the audit
// log (admins: all; teachers: their classes and the VMs they may see).
import { Hono } from 'hono';
import * as v from 'valibot';
import type { ApiDeps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { forbidden, notFound } from '../errors.js';
import { requireRole } from '../middleware.js';
import { body, query, ClusterId, IdString, VmidString } from '../validate.js';
import type { AuditListResponse } from '../../../contract/audit.js';
import { snapshotPassKinds } from '../../../contract/sync.js';

const TriggerBody = v.strictObject({ cluster: v.optional(ClusterId), kind: v.optional(v.picklist(snapshotPassKinds)) });
const AuditQuery = v.strictObject({
  classId: v.optional(IdString),
  cluster: v.optional(ClusterId),
  vmid: v.optional(VmidString),
  before: v.optional(IdString),
  limit: v.optional(v.pipe(v.string(), v.regex(/^[1-9][0-9]{0,2}$/, 'must be 1 to 500'), v.transform(Number), v.maxValue(500, 'must be 1 to 500'))),
});

export function adminRoutes(deps: ApiDeps) {
  const app = new Hono<AppEnv>();

  app.get('/sync/status', (c) => {
    requireRole(c, 'admin');
    return c.json(deps.sync.status());
  });

  app.post('/sync/trigger', async (c) => {
    const admin = requireRole(c, 'admin');
    const b = await body(c, TriggerBody);
    if (b.cluster && !deps.sync.clusterIds().includes(b.cluster)) throw notFound(`cluster ${b.cluster} is not configured`);
    // Joins a running pass; answers once it ended, or after 10 s with the pass still running.
    const pass = deps.sync.trigger(b).then(() => true, () => true);
    const finished = await Promise.race([pass, new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref())]);
    await deps.audit.record({ actor: admin, action: 'sync.trigger', target: 'sync', cluster: b.cluster, outcome: finished ? 'ok' : 'pending', detail: b.kind ?? 'full' });
    return c.json({ finished, status: deps.sync.status() }, finished ? 200 : 202);
  });

  app.get('/sync/inventory/summary', async (c) => {
    requireRole(c, 'admin');
    return c.json(await deps.inventory.summary());
  });

  app.get('/audit', async (c) => {
    const user = requireRole(c, 'admin', 'teacher');
    const q = query(c, AuditQuery);
    if (q.classId !== undefined) {
      if (!deps.access.snapshot().classes.has(q.classId) && user.role !== 'admin') throw notFound(`class ${q.classId} does not exist`);
      if (user.role !== 'admin' && !deps.access.canManageClass(user, q.classId)) throw forbidden('not your class');
    }
    const mine = new Set(deps.access.classIdsFor(user));
    const allowed = user.role === 'admin' ? undefined : (e: { classId: number | null; cluster: string | null; vmid: number | null }) =>
      (e.classId !== null && mine.has(e.classId)) || (e.cluster !== null && e.vmid !== null && deps.access.canSeeVm(user, e.cluster, e.vmid));
    const entries = await deps.audit.list({ ...q, limit: q.limit ?? 100 }, allowed);
    return c.json({ entries } satisfies AuditListResponse);
  });

  return app;
}
