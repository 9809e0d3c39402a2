// The operations side of one server process, wired in three places of server.ts: request
// middleware (request id, log, HTTP metrics), routes (/healthz, /readyz, /metrics, alerts, VM
// history), and once listening: the alert monitor, history retention and the metric sources.
import { ADMIN_ROOM } from '../../contract/rooms.js';
import type { Hono } from 'hono';
import type { AppConfig } from '../config.js';
import type { Db } from '../db/index.js';
import type { DbHealth } from '../db/health.js';
import type { ChangeFeed } from '../inventory/changes.js';
import type { SyncStatus } from '../../contract/sync.js';
import type { AppEnv } from '../http/env.js';
import type { SessionUser } from '../auth/session.js';
import type { PveCalls, PveCallRecord } from '../pve/http.js';
import { log } from '../log.js';
import { errorBody } from '../http/errors.js';
import { AlertMonitor } from './alert-monitor.js';
import { httpObserver } from './http-observer.js';
import { Metrics, pveEndpoint, type RealtimeCounts } from './metrics.js';
import { startRetention, type RetentionJob } from './retention.js';
import { opsRoutes } from './routes.js';
import type { SyncAlertPush } from '../../contract/events.js';
import type { RealtimeStats } from '../realtime/hub.js';

export interface OpsDeps {
  db: Db;
  config: AppConfig;
  feed: ChangeFeed;
  sync: { status(): SyncStatus };
  inventory: { summary(): Promise<{ byCluster: Record<string, Record<string, number>> }> };
  /** What queries found about the database (readiness). */
  dbHealth?: DbHealth;
  /** Proxmox calls of this labdeck (counted in /metrics). */
  pveCalls?: PveCalls;
}

export interface Ops {
  readonly metrics: Metrics;
  readonly alerts: AlertMonitor | null;
  /** Adds the request observer; call in server.ts's middleware extension point. */
  middleware(app: Hono<AppEnv>): void;
  /** The ops routes; mount with `app.route('/', ops.routes(resolveVm))`. */
  routes(
    resolveVm: (user: SessionUser, vmid: number, cluster?: string) => Promise<{ cluster: string; vmid: number; status: string }>,
    viewer?: (cookie: string | undefined) => Promise<SessionUser | null>,
  ): Hono<AppEnv>;
  /** Starts alerts and retention, and reads socket counts from the realtime hub when there is one. */
  start(realtime?: RealtimeLike | null): Promise<void>;
  /** From now on /readyz answers 503 (shutdown has begun). */
  markShuttingDown(): void;
  close(): Promise<void>;
}

/** What ops uses of the realtime hub: its stats, the engine (for bytes sent) and its typed send (alerts). */
export interface RealtimeLike {
  stats(): Pick<RealtimeStats, 'sockets' | 'messages'>;
  send(rooms: string, event: 'sync:alert', alert: SyncAlertPush): void;
  io?: {
    engine?: { on(event: 'connection', cb: (socket: EngineSocketLike) => void): unknown };
  };
}
interface EngineSocketLike { on(event: 'packetCreate', cb: (packet: { data?: unknown }) => void): unknown }

/** The hub's socket and push counts as the metrics name them. */
function realtimeCounts(stats: Pick<RealtimeStats, 'sockets' | 'messages'>): RealtimeCounts {
  return { sockets: stats.sockets, pushes: stats.messages };
}

const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

/** Creates the ops side; nothing runs until `start()`. */
export function createOps(deps: OpsDeps): Ops {
  const metrics = new Metrics();
  metrics.bind({ syncStatus: () => deps.sync.status(), guestSummary: () => deps.inventory.summary() });
  const alerts = deps.config.alerts.enabled
    ? new AlertMonitor({ db: deps.db, config: deps.config.alerts, status: () => ledHere(deps.sync.status()), feed: deps.feed })
    : null;
  const onCall = (call: PveCallRecord) => metrics.observePveCall(call.cluster, pveEndpoint(call.path), call.ms, call.error);
  const onStatus = (s: SyncStatus) => metrics.ingestSyncStatus(s);
  let retention: RetentionJob | null = null;
  let offAlert: (() => void) | null = null;
  let offCalls: (() => void) | undefined;
  let shuttingDown = false;
  let closed = false;

  return {
    metrics,
    alerts,
    middleware(app) {
      app.use('*', httpObserver(metrics));
      // During the shutdown grace period only the probes are answered; anything new is told to come back.
      app.use('*', async (c, next) => {
        if (!shuttingDown || PROBES.has(c.req.path)) return next();
        c.header('Retry-After', '5');
        c.header('Connection', 'close');
        return c.json(errorBody('unavailable', 'labdeck is restarting; try again in a moment'), 503);
      });
    },
    routes(resolveVm, viewer) {
      return opsRoutes({
        viewer,
        db: deps.db, metrics, metricsToken: deps.config.metrics.token, syncStatus: () => deps.sync.status(), alerts,
        resolveVm, retentionDays: deps.config.retention.days, isShuttingDown: () => shuttingDown,
        dbHealth: deps.dbHealth ? () => deps.dbHealth!.state() : undefined,
      });
    },
    async start(realtime) {
      offCalls = deps.pveCalls?.on(onCall);
      deps.feed.on('sync:status', onStatus);
      if (realtime) {
        // Bytes are counted at the engine.io layer: every outgoing packet's payload, whatever emitted it.
        let bytes = 0;
        realtime.io?.engine?.on('connection', (socket) => {
          socket.on('packetCreate', (packet) => {
            const d = packet.data;
            if (typeof d === 'string') bytes += Buffer.byteLength(d);
            else if (d instanceof Uint8Array || d instanceof ArrayBuffer) bytes += d.byteLength;
          });
        });
        metrics.bind({ realtime: () => ({ ...realtimeCounts(realtime.stats()), ...(realtime.io?.engine ? { bytes } : {}) }) });
        if (alerts) offAlert = alerts.onAlert((alert) => realtime.send(ADMIN_ROOM, 'sync:alert', alert));
      }
      retention = startRetention(deps.db, deps.config.retention);
      try {
        await alerts?.start();
      } catch (err) {
        log.error({ err }, 'alert monitor did not start');
      }
    },
    markShuttingDown() {
      shuttingDown = true;
    },
    async close() {
      if (closed) return;
      closed = true;
      shuttingDown = true;
      offCalls?.();
      deps.feed.off('sync:status', onStatus);
      offAlert?.();
      await retention?.stop();
      await alerts?.stop(2_000);
    },
  };
}

/**
 * The clusters this instance raises alerts for: all of them alone, only those it leads when several
 * instances share the database (one alert per event, from the instance that syncs the cluster).
 */
export function ledHere(s: SyncStatus): SyncStatus {
  const led = s.instances?.led;
  return led ? { ...s, clusters: s.clusters.filter((c) => led.includes(c.id)) } : s;
}
