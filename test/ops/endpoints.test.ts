// Health, readiness, metrics, alert history and VM history against a real labdeck + simulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

describe('ops endpoints', () => {
  let t: TestServer;
  let admin: string;
  let student: string;

  beforeAll(async () => {
    t = await startTestServer({ config: { metrics: { token: 'scrape-token-123' } } });
    await t.createUser('root', 'admin');
    await t.createUser('stud', 'student');
    admin = await t.login('root');
    student = await t.login('stud');
    await t.synced();
  });
  afterAll(async () => { await t?.close(); });

  it('answers /healthz and /readyz with database, migrations and each cluster', async () => {
    const h = await t.request('GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.body.status).toBe('ok');
    const r = await t.request('GET', '/readyz', { cookie: admin });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ready: true, status: 'ready', checks: { database: { ok: true }, migrations: { ok: true, missing: [] } } });
    expect(r.body.checks.clusters).toEqual([expect.objectContaining({ id: 'lab-a', state: 'ok', consecutiveFailures: 0 })]);
  });

  it('guards /metrics with the bearer token, and serves parseable text that moves with passes', async () => {
    expect((await t.request('GET', '/metrics')).status).toBe(401);
    expect((await t.request('GET', '/metrics', { headers: { authorization: 'Bearer wrong-token-xyz' } })).status).toBe(401);
    const scrape = async () => {
      const res = await t.request('GET', '/metrics', { headers: { authorization: 'Bearer scrape-token-123' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return parsePrometheusText(res.text);
    };
    const before = await scrape();
    const passes = (s: typeof before) => sampleValue(s.samples, 'labdeck_sync_pass_duration_seconds_count', { cluster: 'lab-a', kind: 'full', outcome: 'ok' }) ?? 0;
    await t.labdeck.sync.trigger({ kind: 'full' });
    await t.labdeck.sync.trigger({ kind: 'full' });
    const after = await scrape();
    expect(passes(after)).toBeGreaterThanOrEqual(passes(before) + 2);
    // Two passes over unchanged guests changed no rows.
    expect(sampleValue(after.samples, 'labdeck_sync_pass_rows_changed_bucket', { cluster: 'lab-a', kind: 'full', le: '0' })).toBeGreaterThanOrEqual(2);
    const guests = after.samples.filter((s) => s.name === 'labdeck_guests' && s.labels.cluster === 'lab-a').reduce((n, s) => n + s.value, 0);
    expect(guests).toBe(t.cluster.guests().length);
    expect(sampleValue(after.samples, 'labdeck_pve_request_duration_seconds_count', { cluster: 'lab-a', endpoint: 'cluster/resources' })).toBeGreaterThan(0);
    expect(sampleValue(after.samples, 'labdeck_cluster_up', { cluster: 'lab-a' })).toBe(1);
    expect(sampleValue(after.samples, 'labdeck_http_request_duration_seconds_count', { route: '/healthz', status: '200' })).toBeGreaterThan(0);
    expect(after.types.get('labdeck_socket_connections')).toBe('gauge');
  });

  it('counts power actions by outcome', async () => {
    const vm = t.cluster.guests().find((g) => g.type === 'qemu' && !g.template && g.status === 'stopped')!;
    const res = await t.request('POST', `/api/vm/${vm.vmid}/start`, { cookie: admin });
    expect([200, 202]).toContain(res.status);
    const denied = await t.request('POST', `/api/vm/${vm.vmid}/stop`, { cookie: student });
    expect(denied.status).toBe(403);
    const text = (await t.request('GET', '/metrics', { headers: { authorization: 'Bearer scrape-token-123' } })).text;
    const { samples } = parsePrometheusText(text);
    expect(sampleValue(samples, 'labdeck_power_actions_total', { action: 'start', outcome: res.status === 200 ? 'ok' : 'accepted' })).toBe(1);
    expect(sampleValue(samples, 'labdeck_power_actions_total', { action: 'stop', outcome: 'denied' })).toBe(1);
    const [x, y] = t.cluster.guests().filter((g) => g.type === 'qemu' && !g.template && g.status === 'stopped' && g.vmid !== vm.vmid);
    const bulk = await t.request('POST', '/api/vms/actions', { cookie: admin, body: { action: 'start', vms: [{ cluster: 'lab-a', vmid: x.vmid }, { cluster: 'lab-a', vmid: y.vmid }, { cluster: 'lab-a', vmid: 99999 }] } });
    expect(bulk.status).toBe(200);
    const after = parsePrometheusText((await t.request('GET', '/metrics', { headers: { authorization: 'Bearer scrape-token-123' } })).text).samples;
    const started = ['ok', 'accepted'].reduce((n, outcome) => n + (sampleValue(after, 'labdeck_power_actions_total', { action: 'start', outcome }) ?? 0), 0);
    expect(started).toBe(3);
    expect(sampleValue(after, 'labdeck_power_actions_total', { action: 'start', outcome: 'rejected' })).toBe(1);
  });

  it('shows the alert history to admins only', async () => {
    expect((await t.request('GET', '/api/sync/alerts')).status).toBe(401);
    expect((await t.request('GET', '/api/sync/alerts', { cookie: student })).status).toBe(403);
    const res = await t.request('GET', '/api/sync/alerts?limit=5', { cookie: admin });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ enabled: true, alerts: [] });
    expect((await t.request('GET', '/api/sync/alerts?limit=abc', { cookie: admin })).status).toBe(400);
  });

  it('gives VM history with status changes and uptime per day, with the VM permission check', async () => {
    const vm = t.cluster.guests().find((g) => g.type === 'qemu' && !g.template && g.status === 'stopped')!;
    t.cluster.powerOutside(vm.vmid, 'start');
    await t.labdeck.sync.trigger({ kind: 'full' });
    const res = await t.request('GET', `/api/vm/${vm.vmid}/history?days=2`, { cookie: admin });
    expect(res.status).toBe(200);
    expect(res.body.cluster).toBe('lab-a');
    expect(res.body.changes.at(-1)).toMatchObject({ from: 'stopped', to: 'running' });
    expect(res.body.days).toHaveLength(res.body.days.length);
    expect(res.body.days.at(-1).uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect((await t.request('GET', `/api/vm/${vm.vmid}/history`, { cookie: student })).status).toBe(403);
    expect((await t.request('GET', `/api/vm/${vm.vmid}/history`)).status).toBe(401);
    expect((await t.request('GET', '/api/vm/99999/history', { cookie: admin })).status).toBe(404);
    expect((await t.request('GET', `/api/vm/${vm.vmid}/history?days=0`, { cookie: admin })).status).toBe(400);
    expect((await t.request('GET', `/api/vm/abc/history`, { cookie: admin })).status).toBe(400);
  });

  it('counts connected sockets, pushes and pushed bytes', async () => {
    const socket = io(t.url, { transports: ['websocket'], extraHeaders: { cookie: admin }, reconnection: false });
    try {
      await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
      const scrape = async () => parsePrometheusText((await t.request('GET', '/metrics', { headers: { authorization: 'Bearer scrape-token-123' } })).text).samples;
      expect(sampleValue(await scrape(), 'labdeck_socket_connections')).toBe(1);
      const pushed = new Promise<void>((resolve) => socket.once('vm:changed', () => resolve()));
      const vm = t.cluster.guests().find((g) => g.type === 'qemu' && !g.template && g.status === 'stopped')!;
      t.cluster.powerOutside(vm.vmid, 'start');
      await t.labdeck.sync.trigger({ kind: 'full' });
      await pushed;
      const after = await scrape();
      expect(sampleValue(after, 'labdeck_push_messages_total')).toBeGreaterThan(0);
      expect(sampleValue(after, 'labdeck_push_bytes_total')).toBeGreaterThan(100);
    } finally {
      socket.close();
    }
  });

  it('gives every answer a request id', async () => {
    const res = await t.request('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const other = await t.request('GET', '/api/vms');
    expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
