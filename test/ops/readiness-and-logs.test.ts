// Readiness rules (pure) and the request log: ids, user and route in, secrets out.
import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { readinessReport, clusterReadiness } from '../../server/ops/readiness.js';
import { knownMigrations } from '../../server/db/migrate.js';
import { httpObserver } from '../../server/ops/http-observer.js';
import { Metrics } from '../../server/ops/metrics.js';
import type { ClusterSyncStatus, SyncStatus } from '../../contract/sync.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

function cluster(over: Partial<ClusterSyncStatus>): ClusterSyncStatus {
  return {
    id: 'lab-a', name: 'Lab A', health: 'healthy', running: null, lastFullAt: null, lastQuickAt: null, lastSuccessAt: null,
    stale: false, guests: 0, errorCount: 0, lastError: null, lastErrorAt: null, consecutiveFailures: 0, backoffMs: 0, nextRunAt: null,
    recentPasses: [], latencyMs: { p50: null, p95: null, last: null }, fastLane: 0, nodes: [], ...over,
  };
}
const sync = (...clusters: ClusterSyncStatus[]): SyncStatus => ({ running: true, startedAt: 0, clusters, totals: { guests: 0, errorCount: 0, clustersDown: 0 } });
const dbOk = { ok: true, ms: 1 };

describe('readiness', () => {
  it('waits for every cluster\'s first pass, then stays ready while a cluster fails', () => {
    expect(readinessReport({ database: dbOk, applied: knownMigrations, sync: sync(cluster({})), shuttingDown: false }).ready).toBe(false);
    const failing = cluster({ consecutiveFailures: 2, lastErrorAt: 5, lastError: 'down' });
    const r = readinessReport({ database: dbOk, applied: knownMigrations, sync: sync(cluster({ lastSuccessAt: 1 }), { ...failing, id: 'lab-b' }), shuttingDown: false });
    expect(r.ready).toBe(true);
    expect(r.checks.clusters.map((c) => c.state)).toEqual(['ok', 'failing']);
    expect(clusterReadiness(cluster({ lastSuccessAt: 1, stale: true }))).toBe('stale');
  });

  it('is not ready without the database, with a missing migration, or while shutting down', () => {
    const ok = cluster({ lastSuccessAt: 1 });
    expect(readinessReport({ database: { ok: false, ms: 2000, error: 'timeout' }, applied: [], sync: sync(ok), shuttingDown: false }).status).toBe('not_ready');
    const missing = readinessReport({ database: dbOk, applied: knownMigrations.slice(0, -1), sync: sync(ok), shuttingDown: false });
    expect(missing.ready).toBe(false);
    expect(missing.checks.migrations.missing).toEqual([knownMigrations.at(-1)]);
    expect(readinessReport({ database: dbOk, applied: knownMigrations, sync: sync(ok), shuttingDown: true }).status).toBe('shutting_down');
  });
});

describe('request log and HTTP metrics', () => {
  it('logs id, route and user, never the body, cookie, token or raw path', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }));
    const metrics = new Metrics({ defaultMetrics: false });
    const app = new Hono<{ Variables: { user: { username: string } | null } }>();
    app.use('*', httpObserver(metrics, logger));
    app.use('*', async (c, next) => { c.set('user', c.req.header('cookie') ? { username: 'alice' } : null); await next(); });
    app.post('/api/auth/login', async (c) => { await c.req.json(); return c.json({ ok: true }); });
    app.get('/api/projector/:token', (c) => c.json({ ok: true }));
    app.post('/api/vm/:vmid/:action', (c) => c.json({}, 409));
    await app.request('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json', cookie: 'labdeck_session=SEALED-COOKIE-VALUE', authorization: 'Bearer TOKEN-XYZ' }, body: JSON.stringify({ username: 'alice', password: 'hunter2-secret' }) });
    await app.request('/api/projector/PROJECTOR-TOKEN-123?x=1');
    const res = await app.request('/api/vm/100/start', { method: 'POST', headers: { 'x-request-id': 'req-42' } });
    expect(res.headers.get('x-request-id')).toBe('req-42');
    const text = lines.join('');
    for (const secret of ['hunter2-secret', 'SEALED-COOKIE-VALUE', 'TOKEN-XYZ', 'PROJECTOR-TOKEN-123']) expect(text).not.toContain(secret);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toMatchObject({ method: 'POST', route: '/api/auth/login', status: 200, user: 'alice' });
    expect(parsed[0].reqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(parsed[1]).toMatchObject({ route: '/api/projector/:token', status: 200 });
    expect(parsed[2]).toMatchObject({ reqId: 'req-42', route: '/api/vm/:vmid/:action', status: 409 });

    const { samples } = parsePrometheusText((await metrics.render()).body);
    expect(sampleValue(samples, 'labdeck_http_request_duration_seconds_count', { route: '/api/projector/:token', status: '200' })).toBe(1);
    expect(sampleValue(samples, 'labdeck_power_actions_total', { action: 'start', outcome: 'conflict' })).toBe(1);
  });
});
