// The operations routes: /healthz, /readyz, /metrics, GET /api/sync/alerts (admin) and
// GET /api/vm/:vmid/history (whoever may see that VM).
import { timingSafeEqual, createHash } from 'node:crypto';
import { Hono, type Context } from 'hono';
import * as v from 'valibot';
import type { Db } from '../db/index.js';
import type { SyncStatus } from '../sync/types.js';
import type { SessionUser } from '../auth/session.js';
import { HttpError, badRequest, forbidden, notFound, unauthorized } from '../http/errors.js';
import type { AlertMonitor } from './alert-monitor.js';
import type { Metrics } from './metrics.js';
import { probeDatabase, readinessReport } from './readiness.js';
import { loadVmHistory } from './vm-history.js';

export interface OpsRoutesDeps {
  db: Db;
  metrics: Metrics | null;
  /** When set, /metrics wants `Authorization: Bearer <token>`. */
  metricsToken?: string;
  syncStatus: () => SyncStatus | null;
  alerts: AlertMonitor | null;
  /** The signed-in user of a request, or null. */
  userOf: (c: Context) => Promise<SessionUser | null>;
  /** The one permission check for VM routes. */
  canSeeVm: (user: SessionUser, cluster: string, vmid: number) => boolean;
  /** History older than this is pruned, so it is the longest window worth asking for. */
  retentionDays: number;
  isShuttingDown?: () => boolean;
}

const Vmid = v.pipe(v.string(), v.regex(/^[1-9][0-9]{0,8}$/, 'vmid must be a positive integer'), v.transform(Number));
const ClusterId = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'cluster must be a cluster id'));
const IntIn = (min: number, max: number, name: string) => v.pipe(
  v.string(), v.regex(/^[0-9]{1,6}$/, `${name} must be a whole number`), v.transform(Number),
  v.minValue(min, `${name} must be at least ${min}`), v.maxValue(max, `${name} must be at most ${max}`),
);

function parse<T extends v.GenericSchema>(schema: T, value: unknown, field: string): v.InferOutput<T> {
  const r = v.safeParse(schema, value);
  if (!r.success) throw badRequest(r.issues[0].message, field);
  return r.output;
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** A Hono app with the operations routes; mount with `app.route('/', opsRoutes(deps))`. */
export function opsRoutes(deps: OpsRoutesDeps): Hono {
  const app = new Hono();
  const startedAt = Date.now();

  app.get('/healthz', (c) => c.json({ status: 'ok', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }));

  app.get('/readyz', async (c) => {
    const probe = await probeDatabase(deps.db);
    const report = readinessReport({ ...probe, sync: deps.syncStatus(), shuttingDown: deps.isShuttingDown?.() ?? false });
    c.header('Cache-Control', 'no-store');
    return c.json(report, report.ready ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    if (!deps.metrics) throw notFound('metrics are not enabled');
    if (deps.metricsToken) {
      const auth = c.req.header('authorization') ?? '';
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (!m || !sameSecret(m[1], deps.metricsToken)) {
        c.header('WWW-Authenticate', 'Bearer realm="labdeck metrics"');
        throw unauthorized('metrics need the bearer token from the config (metrics.token)');
      }
    }
    const { contentType, body } = await deps.metrics.render();
    return c.body(body, 200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  });

  app.get('/api/sync/alerts', async (c) => {
    const user = await deps.userOf(c);
    if (!user) throw unauthorized();
    if (user.role !== 'admin') throw forbidden('only admins see the alert history');
    const q = c.req.query();
    const cluster = q.cluster === undefined ? undefined : parse(ClusterId, q.cluster, 'cluster');
    const limit = q.limit === undefined ? 100 : parse(IntIn(1, 1000, 'limit'), q.limit, 'limit');
    const alerts = deps.alerts ? await deps.alerts.history({ cluster, limit }) : [];
    return c.json({ enabled: deps.alerts !== null, alerts });
  });

  app.get('/api/vm/:vmid/history', async (c) => {
    const user = await deps.userOf(c);
    if (!user) throw unauthorized();
    const vmid = parse(Vmid, c.req.param('vmid'), 'vmid');
    const q = c.req.query();
    const cluster = q.cluster === undefined ? undefined : parse(ClusterId, q.cluster, 'cluster');
    const days = q.days === undefined ? Math.min(14, deps.retentionDays) : parse(IntIn(1, Math.ceil(deps.retentionDays), 'days'), q.days, 'days');
    let rows = await deps.db.selectFrom('vm_inventory').select(['cluster_id', 'status', 'deleted'])
      .where('vmid', '=', vmid).$if(cluster !== undefined, (qb) => qb.where('cluster_id', '=', cluster as string)).execute();
    rows = rows.filter((r) => deps.canSeeVm(user, r.cluster_id, vmid));
    if (rows.length === 0) throw notFound(`no VM ${vmid}${cluster ? ` in cluster ${cluster}` : ''} that you may see`);
    const live = rows.filter((r) => !r.deleted);
    if (!cluster && live.length > 1) {
      throw new HttpError(409, 'conflict', `VM ${vmid} exists in clusters ${live.map((r) => r.cluster_id).join(', ')}: add ?cluster=`);
    }
    const row = live[0] ?? rows[0];
    const to = Date.now();
    const history = await loadVmHistory(deps.db, row.cluster_id, vmid, row.status, to - days * 86_400_000, to);
    return c.json(history);
  });

  return app;
}
