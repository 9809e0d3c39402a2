// Sync leadership per Proxmox cluster among instances sharing one PostgreSQL database. The lock is
// PostgreSQL's own session-level advisory lock, held on a dedicated connection: when a leader dies
// its session ends and the lock is free; a leader that stalls (SIGSTOP, a frozen VM) stops pinging
// and PostgreSQL ends its session after lockTimeoutMs (idle_session_timeout). Each takeover
// increases the cluster's epoch in sync_leader, and every write of a pass checks that epoch in its
// own transaction (see fence in ./shared.ts): once another instance has taken over, a leader that
// lost its lock without noticing writes nothing. Any error on the lock connection steps down from every cluster; the lock is tried
// again every retryMs.
import type pg from 'pg';
import type { Logger } from '../log.js';
import { CHANNEL } from './bus.js';
import { dropSession, openSession, queryWithin } from './pg-session.js';

export interface LeadershipOptions {
  url: string;
  instance: string;
  clusters: readonly string[];
  retryMs: number;
  pingMs: number;
  lockTimeoutMs: number;
  logger: Logger;
  /** This instance now leads `cluster` with `epoch` (runs before the next cluster is tried). */
  onLead(cluster: string, epoch: number): Promise<void>;
  /** This instance no longer leads `cluster`. */
  onLose(cluster: string, why: string): Promise<void>;
}

/** The advisory lock of a cluster: two int4 keys, so labdeck's locks stay apart from anyone else's. */
const LOCK_KEYS = `hashtext('labdeck.sync'), hashtext($1)`;

export class Leadership {
  private client: pg.Client | null = null;
  private readonly held = new Map<string, number>();
  /** cluster → the epoch this instance led it with last (kept after losing it: the fence's token). */
  private readonly last = new Map<string, number>();
  private tickTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly o: LeadershipOptions) {}

  /** The epoch this instance leads `cluster` with, or null. */
  epochOf(cluster: string): number | null {
    return this.held.get(cluster) ?? null;
  }

  /**
   * The epoch this instance last led `cluster` with, even after losing it: writes still under way
   * carry it, and the database refuses them once another instance has taken over (a newer epoch).
   * Until then no other instance writes the cluster, so they are still the only writer's.
   */
  lastEpochOf(cluster: string): number | null {
    return this.last.get(cluster) ?? null;
  }

  /** Clusters led here. */
  led(): string[] {
    return [...this.held.keys()];
  }

  /** Tries to take the lead now, then every retryMs. */
  async start(): Promise<void> {
    await this.tick();
    this.tickTimer = setInterval(() => void this.tick(), this.o.retryMs);
    this.tickTimer.unref();
    this.pingTimer = setInterval(() => void this.ping(), this.o.pingMs);
    this.pingTimer.unref();
  }

  private tick(): Promise<void> {
    if (this.busy || this.stopped) return this.busy ?? Promise.resolve();
    this.busy = this.tryLead().catch((err: Error) => this.fail(`lock connection error: ${err.message}`)).finally(() => { this.busy = null; });
    return this.busy;
  }

  private async tryLead(): Promise<void> {
    const missing = this.o.clusters.filter((c) => !this.held.has(c));
    if (!missing.length) return;
    let client = this.client;
    if (!client) {
      const opened: pg.Client = await openSession(this.o.url, {
        // A leader that stops asking (stalled) loses its session, and so its locks, after this long.
        idle_session_timeout: String(this.o.lockTimeoutMs),
        application_name: `labdeck lock ${this.o.instance}`.slice(0, 63),
      }, (err) => { if (this.client === opened) void this.fail(`lock connection lost: ${err.message}`); });
      this.client = client = opened;
    }
    for (const cluster of missing) {
      if (this.stopped || this.client !== client) return;
      const got = await queryWithin<{ ok: boolean }>(client, this.o.lockTimeoutMs, `SELECT pg_try_advisory_lock(${LOCK_KEYS}) AS ok`, [cluster]);
      if (!got.rows[0].ok) continue;
      const epoch = await this.takeOver(client, cluster);
      this.held.set(cluster, epoch);
      this.last.set(cluster, epoch);
      this.o.logger.info({ cluster, epoch, instance: this.o.instance }, `This instance now syncs cluster ${cluster} (epoch ${epoch})`);
      await this.o.onLead(cluster, epoch);
    }
  }

  /** The next epoch, under this instance's name; the other instances hear of it at commit. */
  private async takeOver(client: pg.Client, cluster: string): Promise<number> {
    await client.query('BEGIN');
    try {
      const r = await client.query<{ epoch: number }>(
        `INSERT INTO sync_leader (cluster_id, holder, epoch, renewed_at, status) VALUES ($1, $2, 1, $3, NULL)
         ON CONFLICT (cluster_id) DO UPDATE SET holder = EXCLUDED.holder, epoch = sync_leader.epoch + 1, renewed_at = EXCLUDED.renewed_at, status = NULL
         RETURNING epoch`, [cluster, this.o.instance, Date.now()]);
      const epoch = Number(r.rows[0].epoch);
      await client.query(`SELECT pg_notify('${CHANNEL}', $1)`, [JSON.stringify({ k: 'leader', i: this.o.instance, c: cluster, e: epoch })]);
      await client.query('COMMIT');
      return epoch;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** Keeps the lock connection busy enough not to be ended, and proves it still answers. */
  private async ping(): Promise<void> {
    const client = this.client;
    if (!client || this.busy || this.stopped) return;
    try {
      await queryWithin(client, Math.max(500, this.o.lockTimeoutMs - this.o.pingMs), 'SELECT 1');
    } catch (err) {
      if (this.client === client) await this.fail(`lock connection does not answer: ${(err as Error).message}`);
    }
  }

  /** Gives up one cluster (its writes were refused: another instance took over). */
  async resign(cluster: string, why: string): Promise<void> {
    if (!this.held.delete(cluster)) return;
    this.o.logger.warn({ cluster, why }, `This instance stops syncing cluster ${cluster}: ${why}`);
    await this.o.onLose(cluster, why);
    const client = this.client;
    if (!client) return;
    try {
      await queryWithin(client, this.o.lockTimeoutMs, `SELECT pg_advisory_unlock(${LOCK_KEYS})`, [cluster]);
    } catch (err) {
      await this.fail(`could not release the lock: ${(err as Error).message}`);
    }
  }

  /** Steps down from every cluster and drops the lock connection (its session ends, and the locks with it). */
  private async fail(why: string): Promise<void> {
    const client = this.client;
    this.client = null;
    dropSession(client);
    const lost = [...this.held.keys()];
    this.held.clear();
    if (lost.length) this.o.logger.warn({ clusters: lost, why }, `This instance stops syncing ${lost.join(', ')}: ${why}`);
    for (const cluster of lost) await this.o.onLose(cluster, why).catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    await this.busy;
    const lost = [...this.held.keys()];
    this.held.clear();
    for (const cluster of lost) await this.o.onLose(cluster, 'shutting down').catch(() => undefined);
    const client = this.client;
    this.client = null;
    if (client) {
      await queryWithin(client, 2_000, 'SELECT pg_advisory_unlock_all()').catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
