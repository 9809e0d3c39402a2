// Alerts: the pure policy, and delivery over a real local SMTP server and a real webhook receiver.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import * as v from 'valibot';
import { AlertsConfigSchema } from '../../server/ops/config-schema.js';
import { decideAlert, initialAlertState, type AlertPolicy } from '../../server/ops/alert-policy.js';
import { AlertMonitor } from '../../server/ops/alert-monitor.js';
import { signBody } from '../../server/ops/alert-channels.js';
import type { ClusterSyncStatus, SyncStatus } from '../../contract/sync.js';
import { dialects, openTestDb } from '../helpers/db.js';

const policy: AlertPolicy = { failures: 3, staleMs: 10 * 60_000 };
const ok = (at: number) => ({ consecutiveFailures: 0, lastSuccessAt: at, lastError: null });
const failing = (n: number, lastSuccessAt: number | null) => ({ consecutiveFailures: n, lastSuccessAt, lastError: 'connect ECONNREFUSED' });

describe('alert policy', () => {
  it('alerts once after N failures, stays quiet while down, and once on recovery', () => {
    let state = initialAlertState(0);
    const kinds: string[] = [];
    const feed = [ok(1), failing(1, 1), failing(2, 1), failing(3, 1), failing(4, 1), failing(50, 1), ok(5_000), ok(6_000)];
    feed.forEach((obs, i) => {
      const r = decideAlert(state, obs, policy, 1_000 + i * 1_000);
      state = r.state;
      if (r.alert) kinds.push(`${i}:${r.alert.kind}`);
    });
    expect(kinds).toEqual(['3:down', '6:recovered']);
  });

  it('alerts when data goes stale without failures counted (hanging cluster)', () => {
    const start = initialAlertState(0);
    expect(decideAlert(start, failing(1, 0), policy, 9 * 60_000).alert).toBeNull();
    const r = decideAlert(start, failing(1, 0), policy, 10 * 60_000);
    expect(r.alert?.kind).toBe('down');
    expect(r.alert?.reason).toMatch(/no successful sync pass for 10/);
  });

  it('counts staleness of a never-synced cluster from when watching began', () => {
    const start = initialAlertState(1_000);
    expect(decideAlert(start, failing(0, null), policy, 1_000 + 9 * 60_000).alert).toBeNull();
    expect(decideAlert(start, failing(0, null), policy, 1_000 + 10 * 60_000).alert?.kind).toBe('down');
  });

  it('does not call an old success a recovery', () => {
    const down = { down: true, since: 10_000 };
    expect(decideAlert(down, ok(5_000), policy, 11_000).alert).toBeNull();
    expect(decideAlert(down, ok(10_500), policy, 11_000).alert?.kind).toBe('recovered');
  });

  it('a restart after a "down" alert does not alert again', () => {
    const state = initialAlertState(50_000, { kind: 'down', at: 40_000 });
    expect(decideAlert(state, failing(9, 1), policy, 60_000).alert).toBeNull();
  });
});

interface Mail { from: string; to: string[]; body: string; user?: string }

describe.each(dialects)('alert delivery over SMTP and webhook (%s)', (kind) => {
  let smtp: SMTPServer;
  let smtpPort: number;
  const mails: Mail[] = [];
  let hook: Server;
  let hookUrl: string;
  const hooks: Array<{ body: string; signature: string | undefined }> = [];
  let failHook = false;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: false,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      onAuth(auth, _session, cb) {
        if (auth.username === 'alerts' && auth.password === 's3cret-pass') cb(null, { user: auth.username });
        else cb(new Error('Invalid username or password'));
      },
      onData(stream, session, cb) {
        let body = '';
        stream.on('data', (d: Buffer) => { body += d.toString('utf8'); });
        stream.on('end', () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            body,
            user: session.user as string | undefined,
          });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    smtpPort = (smtp.server.address() as AddressInfo).port;
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString('utf8'); });
      req.on('end', () => {
        if (failHook) { res.statusCode = 503; res.end(); return; }
        hooks.push({ body, signature: req.headers['x-labdeck-signature'] as string | undefined });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  });

  afterAll(async () => {
    await new Promise<void>((r) => smtp.close(() => r()));
    await new Promise<void>((r) => hook.close(() => r()));
  });

  function cluster(over: Partial<ClusterSyncStatus>): ClusterSyncStatus {
    return {
      id: 'lab-a', name: 'Lab A', health: 'healthy', running: null, lastFullAt: null, lastQuickAt: null,
      lastSuccessAt: null, stale: false, guests: 0, errorCount: 0, lastError: null, lastErrorAt: null,
      consecutiveFailures: 0, backoffMs: 0, nextRunAt: null, recentPasses: [], latencyMs: { p50: null, p95: null, last: null },
      fastLane: 0, nodes: [], ...over,
    };
  }

  it('sends one alert on failure and one on recovery, none while it stays down, and keeps the history', async () => {
    mails.length = 0;
    hooks.length = 0;
    const { db, close } = await openTestDb(kind);
    const config = v.parse(AlertsConfigSchema, {
      failures: 2,
      staleMinutes: 60,
      webhook: { url: hookUrl, secret: 'hook-secret-123' },
      email: { host: '127.0.0.1', port: smtpPort, auth: { user: 'alerts', pass: 's3cret-pass' }, from: 'labdeck@school.test', to: ['admin@school.test'] },
    });
    let clock = 1_000_000;
    let status = cluster({ lastSuccessAt: clock });
    const sync = (): SyncStatus => ({ running: true, startedAt: 0, clusters: [status], totals: { guests: 0, errorCount: 0, clustersDown: 0 } });
    const monitor = new AlertMonitor({ db, config, status: sync, now: () => clock, retryDelaysMs: [50] });
    await monitor.start();
    try {
      for (let n = 1; n <= 6; n++) {
        clock += 30_000;
        status = cluster({ lastSuccessAt: 1_000_000, consecutiveFailures: n, lastError: 'Proxmox unreachable: connect ECONNREFUSED' });
        await monitor.check();
      }
      await monitor.idle();
      expect(mails).toHaveLength(1);
      expect(hooks).toHaveLength(1);
      expect(mails[0].to).toEqual(['admin@school.test']);
      expect(mails[0].user).toBe('alerts');
      expect(mails[0].body).toMatch(/Subject: \[labdeck\] Cluster Lab A is DOWN/);
      expect(mails[0].body).toMatch(/ECONNREFUSED/);
      const down = JSON.parse(hooks[0].body);
      expect(down).toMatchObject({ event: 'cluster.down', cluster: 'lab-a', clusterName: 'Lab A' });
      expect(hooks[0].signature).toBe(signBody('hook-secret-123', hooks[0].body));

      clock += 30_000;
      status = cluster({ lastSuccessAt: clock - 1_000, consecutiveFailures: 0 });
      await monitor.check();
      clock += 30_000;
      await monitor.check();
      await monitor.idle();
      expect(mails).toHaveLength(2);
      expect(mails[1].body).toMatch(/Subject: \[labdeck\] Cluster Lab A recovered/);
      expect(hooks.map((h) => JSON.parse(h.body).event)).toEqual(['cluster.down', 'cluster.recovered']);

      const history = await monitor.history();
      expect(history.map((a) => a.kind)).toEqual(['recovered', 'down']);
      expect(history[1].deliveries).toEqual({ webhook: 'ok', email: 'ok' });
    } finally {
      await monitor.stop();
    }

    // A restart while the cluster is still down after a new failure sends nothing new.
    status = cluster({ lastSuccessAt: 1_000_000, consecutiveFailures: 9 });
    const again = new AlertMonitor({ db, config, status: sync, now: () => clock, retryDelaysMs: [50] });
    await again.start();
    const first = await again.check();
    expect(first.map((a) => a.kind)).toEqual(['down']);
    await again.idle();
    const restarted = new AlertMonitor({ db, config, status: sync, now: () => clock + 1_000, retryDelaysMs: [50] });
    await restarted.start();
    expect(await restarted.check()).toEqual([]);
    await again.stop();
    await restarted.stop();
    await close();
  });

  it('records a channel that keeps failing, and still delivers the other', async () => {
    mails.length = 0;
    const { db, close } = await openTestDb(kind);
    const config = v.parse(AlertsConfigSchema, {
      failures: 1,
      webhook: { url: hookUrl },
      email: { host: '127.0.0.1', port: smtpPort, auth: { user: 'alerts', pass: 's3cret-pass' }, from: 'labdeck@school.test', to: ['admin@school.test'] },
    });
    failHook = true;
    const status = cluster({ consecutiveFailures: 1, lastError: 'boom' });
    const monitor = new AlertMonitor({
      db, config, retryDelaysMs: [20, 20],
      status: () => ({ running: true, startedAt: 0, clusters: [status], totals: { guests: 0, errorCount: 1, clustersDown: 1 } }),
    });
    await monitor.start();
    await monitor.check();
    await monitor.idle();
    failHook = false;
    const [alert] = await monitor.history();
    expect(alert.deliveries.email).toBe('ok');
    expect(alert.deliveries.webhook).toBe('error: webhook answered HTTP 503');
    expect(mails).toHaveLength(1);
    await monitor.stop();
    await close();
  });
});

describe('alerts config', () => {
  it('names the bad field of an alerts section', async () => {
    const { parseFileConfig, ConfigError } = await import('../../server/config.js');
    expect(() => parseFileConfig({ alerts: { webhook: { url: 'not a url' } } })).toThrow(ConfigError);
    expect(() => parseFileConfig({ alerts: { webhook: { url: 'not a url' } } })).toThrow(/alerts\.webhook\.url/);
    expect(() => parseFileConfig({ alerts: { email: { host: 'smtp', from: 'a@school.test', to: [] } } })).toThrow(/alerts\.email\.to: needs at least one recipient/);
    expect(() => parseFileConfig({ metrics: { token: 'short' } })).toThrow(/metrics\.token/);
    expect(() => parseFileConfig({ retention: { days: 0 } })).toThrow(/retention\.days/);
    const ok = parseFileConfig({ alerts: { email: { host: 'smtp', from: 'labdeck@school.test', to: ['it@school.test'], auth: { user: 'u', pass: '${SMTP_PASS}' } } } }, { SMTP_PASS: 'pw' });
    expect(ok.alerts).toMatchObject({ enabled: true, failures: 3, staleMinutes: 10, email: { port: 587, secure: false, auth: { pass: 'pw' } } });
    expect(ok.retention).toEqual({ days: 90, auditDays: 365, intervalHours: 6 });
  });
});
