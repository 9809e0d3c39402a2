// The operations routes: /healthz, /readyz, /metrics, GET /api/sync/alerts (admin) and
// GET /api/vm/:vmid/history (whoever may see that VM).
import { timingSafeEqual, createHash } from 'node:crypto';
import { Hono } from 'hono';
import * as v from 'valibot';
import type { Db } from '../db/index.js';
import type { DbHealthState } from '../db/health.js';
import type { SyncStatus } from '../../contract/sync.js';
import type { SyncAlertsResponse } from '../../contract/events.js';
import type { SessionUser } from '../auth/session.js';
import type { AppEnv } from '../http/env.js';
import { notFound, unauthorized } from '../http/errors.js';
import { requireRole, requireUser } from '../http/middleware.js';
import { ClusterId, VmidString, params, query } from '../http/validate.js';
import type { AlertMonitor } from './alert-monitor.js';
import type { Metrics } from './metrics.js';
import { probeDatabase, publicReadiness, readinessReport, type ReadinessReport } from './readiness.js';
import { knownMigrations } from '../db/migrate.js';
import { loadVmHistory } from './vm-history.js';

export interface OpsRoutesDeps {
  db: Db;
  metrics: Metrics | null;
  /** When set, /metrics wants `Authorization: Bearer <token>`. */
  metricsToken?: string;
  syncStatus: () => SyncStatus | null;
  alerts: AlertMonitor | null;
  /** The VM a user means (the same 404/403/409 rules as every VM route). */
  resolveVm: (user: SessionUser, vmid: number, cluster?: string) => Promise<{ cluster: string; vmid: number; status: string }>;
  /** The signed-in user of a request's Cookie header, if any: /readyz gives admins the details. */
  viewer?: (cookie: string | undefined) => Promise<SessionUser | null>;
  /** History older than this is pruned, so it is the longest window worth asking for. */
  retentionDays: number;
  isShuttingDown?: () => boolean;
  /** What queries found about the database since its last good write. */
  dbHealth?: () => DbHealthState;
}

const WholeNumber = (min: number, max: number) => v.pipe(
  v.string(), v.regex(/^[0-9]{1,6}$/, 'must be a whole number'), v.transform(Number),
  v.minValue(min, `must be at least ${min}`), v.maxValue(max, `must be at most ${max}`),
);

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** A Hono app with the operations routes; mount with `app.route('/', opsRoutes(deps))`. */
export function opsRoutes(deps: OpsRoutesDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const AlertsQuery = v.object({ cluster: v.optional(ClusterId), limit: v.optional(WholeNumber(1, 1000)) });
  const HistoryQuery = v.object({ cluster: v.optional(ClusterId), days: v.optional(WholeNumber(1, Math.max(1, Math.floor(deps.retentionDays)))) });
  const startedAt = Date.now();

  app.get('/healthz', (c) => c.json({ status: 'ok', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }));

  app.get('/readyz', async (c) => {
    c.header('Cache-Control', 'no-store');
    // Error texts name Proxmox hosts, ports and database servers: only an admin's session sees them.
    const answer = async (report: ReadinessReport, status: 200 | 503) => {
      const cookie = c.req.header('cookie');
      const viewer = cookie && deps.viewer ? await deps.viewer(cookie).catch(() => null) : null;
      return c.json(viewer?.role === 'admin' ? report : publicReadiness(report), status);
    };
    // Shutting down: say so at once, whatever the database does (it is about to close).
    if (deps.isShuttingDown?.()) {
      return answer(readinessReport({ database: { ok: false, ms: 0, error: 'not checked: shutting down' }, applied: [...knownMigrations], sync: deps.syncStatus(), shuttingDown: true }), 503);
    }
    const probe = await probeDatabase(deps.db, 2_000, deps.dbHealth);
    const report = readinessReport({ ...probe, sync: deps.syncStatus(), shuttingDown: deps.isShuttingDown?.() ?? false });
    return answer(report, report.ready ? 200 : 503);
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
    requireRole(c, 'admin');
    const q = query(c, AlertsQuery);
    const alerts = deps.alerts ? await deps.alerts.history({ cluster: q.cluster, limit: q.limit ?? 100 }) : [];
    return c.json({ enabled: deps.alerts !== null, alerts } satisfies SyncAlertsResponse);
  });

  app.get('/api/vm/:vmid/history', async (c) => {
    const user = requireUser(c);
    const { vmid } = params(c, v.object({ vmid: VmidString }));
    const q = query(c, HistoryQuery);
    const vm = await deps.resolveVm(user, vmid, q.cluster);
    const days = q.days ?? Math.min(14, Math.floor(deps.retentionDays));
    const to = Date.now();
    return c.json(await loadVmHistory(deps.db, vm.cluster, vm.vmid, vm.status, to - days * 86_400_000, to));
  });

  return app;
}
