// Watches each cluster's sync state, applies the alert policy, records every alert in alert_events
// and delivers it to the configured channels (with a few retries, in the background).
import type { Db } from '../db/index.js';
import type { ChangeFeed } from '../inventory/changes.js';
import type { SyncStatus } from '../../contract/sync.js';
import type { SyncAlertPush } from '../../contract/events.js';
import { log as rootLog, type Logger } from '../log.js';
import type { AlertsConfig } from './config-schema.js';
import { channelsFromConfig, type AlertChannel, type AlertMessage } from './alert-channels.js';
import { decideAlert, initialAlertState, type AlertPolicy, type AlertState } from './alert-policy.js';

/** An alert as recorded and listed: the wire's shape (`GET /api/sync/alerts` rows, the alert push). */
export type AlertRecord = SyncAlertPush;

export interface AlertMonitorOptions {
  db: Db;
  config: AlertsConfig;
  /** The sync manager's current status (read on every check). */
  status: () => SyncStatus;
  /** When given, every `sync:status` announcement triggers a check. */
  feed?: ChangeFeed;
  /** Defaults to the channels the config names. */
  channels?: AlertChannel[];
  logger?: Logger;
  /** Periodic check, so staleness is noticed even when no pass reports anything. */
  checkIntervalMs?: number;
  /** Waits before the 2nd, 3rd... delivery attempt. */
  retryDelaysMs?: number[];
  now?: () => number;
}

function toRecord(row: { id: number; cluster_id: string; kind: 'down' | 'recovered'; at: number; reason: string; deliveries: string }): AlertRecord {
  let deliveries: Record<string, string> = {};
  try {
    deliveries = JSON.parse(row.deliveries) as Record<string, string>;
  } catch {
    deliveries = {};
  }
  return { id: Number(row.id), cluster: row.cluster_id, kind: row.kind, at: Number(row.at), reason: row.reason, deliveries };
}

/** One per server process; `start()` loads the last alert of each cluster so a restart does not re-alert. */
export class AlertMonitor {
  private readonly db: Db;
  private readonly policy: AlertPolicy;
  private readonly channels: AlertChannel[];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly states = new Map<string, AlertState>();
  private readonly inFlight = new Set<Promise<void>>();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private readonly onStatus = () => { void this.check().catch((err) => this.log.error({ err }, 'alert check failed')); };
  private started = false;
  private readonly alertListeners = new Set<(alert: AlertRecord) => void>();

  constructor(private readonly opts: AlertMonitorOptions) {
    this.db = opts.db;
    this.policy = { failures: opts.config.failures, staleMs: opts.config.staleMinutes * 60_000 };
    this.channels = opts.channels ?? channelsFromConfig(opts.config);
    this.log = (opts.logger ?? rootLog).child({ module: 'alerts' });
    this.now = opts.now ?? Date.now;
  }

  /** Loads alert state and begins watching. */
  async start(): Promise<void> {
    if (this.started || !this.opts.config.enabled) return;
    this.started = true;
    await this.loadStates();
    this.opts.feed?.on('sync:status', this.onStatus);
    this.timer = setInterval(this.onStatus, this.opts.checkIntervalMs ?? 15_000);
    this.timer.unref();
  }

  /** Stops watching and waits (bounded) for deliveries still under way. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.opts.feed?.off('sync:status', this.onStatus);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    for (const ch of this.channels) ch.close?.();
  }

  /** Resolves when no check or delivery is running. */
  async idle(): Promise<void> {
    await this.chain.catch(() => undefined);
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /** Calls `fn` with every alert as soon as it is recorded (the sync monitor shows it live); returns an unsubscribe. */
  onAlert(fn: (alert: AlertRecord) => void): () => void {
    this.alertListeners.add(fn);
    return () => this.alertListeners.delete(fn);
  }

  /** Evaluates every cluster now; returns the alerts raised by this check. */
  check(): Promise<AlertRecord[]> {
    const run = this.chain.catch(() => undefined).then(() => this.checkNow());
    this.chain = run;
    return run;
  }

  /** Alert history, newest first. */
  async history(filter: { cluster?: string; limit?: number } = {}): Promise<AlertRecord[]> {
    let q = this.db.selectFrom('alert_events').selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(filter.limit ?? 100);
    if (filter.cluster) q = q.where('cluster_id', '=', filter.cluster);
    return (await q.execute()).map(toRecord);
  }

  private async loadStates(): Promise<void> {
    const now = this.now();
    const rows = await this.db.selectFrom('alert_events').select(['cluster_id', 'kind', 'at', 'id']).orderBy('at', 'asc').orderBy('id', 'asc').execute();
    const last = new Map<string, { kind: 'down' | 'recovered'; at: number }>();
    for (const r of rows) last.set(r.cluster_id, { kind: r.kind, at: Number(r.at) });
    for (const [cluster, alert] of last) this.states.set(cluster, initialAlertState(now, alert));
  }

  private async checkNow(): Promise<AlertRecord[]> {
    if (!this.started) return [];
    const now = this.now();
    const raised: AlertRecord[] = [];
    for (const c of this.opts.status().clusters) {
      const state = this.states.get(c.id) ?? initialAlertState(now);
      const { state: next, alert } = decideAlert(state, c, this.policy, now);
      this.states.set(c.id, next);
      if (!alert) continue;
      const msg: AlertMessage = { kind: alert.kind, cluster: c.id, clusterName: c.name || c.id, at: now, reason: alert.reason };
      raised.push(await this.record(msg));
    }
    return raised;
  }

  private async record(msg: AlertMessage): Promise<AlertRecord> {
    const deliveries = Object.fromEntries(this.channels.map((ch) => [ch.name, 'pending']));
    const row = await this.db.insertInto('alert_events')
      .values({ cluster_id: msg.cluster, kind: msg.kind, at: msg.at, reason: msg.reason, deliveries: JSON.stringify(deliveries) })
      .returning('id').executeTakeFirstOrThrow();
    const id = Number(row.id);
    const level = msg.kind === 'down' ? 'warn' : 'info';
    this.log[level]({ cluster: msg.cluster, alert: msg.kind, reason: msg.reason }, `Alert: cluster ${msg.cluster} ${msg.kind}`);
    if (this.channels.length) {
      const p = this.deliver(id, msg, deliveries).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
    const rec: AlertRecord = { id, cluster: msg.cluster, kind: msg.kind, at: msg.at, reason: msg.reason, deliveries: { ...deliveries } };
    for (const fn of this.alertListeners) {
      try {
        fn(rec);
      } catch (err) {
        this.log.error({ err }, 'alert listener failed');
      }
    }
    return { id, cluster: msg.cluster, kind: msg.kind, at: msg.at, reason: msg.reason, deliveries };
  }

  private async deliver(id: number, msg: AlertMessage, deliveries: Record<string, string>): Promise<void> {
    const delays = this.opts.retryDelaysMs ?? [1_000, 5_000];
    await Promise.all(this.channels.map(async (ch) => {
      for (let attempt = 0; ; attempt++) {
        try {
          await ch.send(msg);
          deliveries[ch.name] = 'ok';
          return;
        } catch (err) {
          const why = (err as Error).message || String(err);
          if (attempt >= delays.length) {
            deliveries[ch.name] = `error: ${why}`;
            this.log.error({ cluster: msg.cluster, channel: ch.name, reason: why }, 'Alert delivery failed');
            return;
          }
          await new Promise((r) => setTimeout(r, delays[attempt]));
        }
      }
    }));
    await this.db.updateTable('alert_events').set({ deliveries: JSON.stringify(deliveries) }).where('id', '=', id).execute();
  }
}
